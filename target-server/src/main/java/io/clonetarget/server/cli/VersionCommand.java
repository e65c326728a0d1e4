package io.clonetarget.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code clonetarget version}. */
@Command(name = "version", description = "Print the version.")
final class VersionCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static String version() {
        String v = VersionCommand.class.getPackage().getImplementationVersion();
        return v == null ? "development" : v;
    }

    @Override
    public void run() {
        spec.commandLine().getOut().println("clonetarget " + version() + " (Java " + Runtime.version() + ")");
    }

    /** For {@code --version}. */
    static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"clonetarget " + version()};
        }
    }
}
