package io.clonetarget.server.cli;

import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.TargetServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code clonetarget config check FILE}. */
@Command(name = "config", description = "Work with configuration files.",
        subcommands = {ConfigCommand.Check.class})
final class ConfigCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "check", description = {"Validate a configuration file; print every problem with its field.",
        "Besides the values it checks what serve would fail on, creating nothing: files that must exist, sizes that",
        "differ, files that cannot be created (directory, permission, a size the file system refuses), clone",
        "destinations without metadata, secret files that other users can read."})
    static final class Check implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The configuration file (TOML).")
        Path file;

        @Override
        public Integer call() throws Exception {
            ServerConfig config = ConfigFiles.read(file, TargetServer::check);
            spec.commandLine().getOut().printf("%s: valid (%d volumes, %d targets)%n", file,
                    config.volumes().size(), config.targets().size());
            return ExitCodes.OK;
        }
    }
}
