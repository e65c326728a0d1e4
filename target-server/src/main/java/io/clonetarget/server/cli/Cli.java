package io.clonetarget.server.cli;

import io.clonetarget.config.ConfigException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level command. */
@Command(name = "clonetarget",
        mixinStandardHelpOptions = true,
        versionProvider = VersionCommand.Provider.class,
        description = "An iSCSI target whose LUNs are instant clones and snapshots of block images.",
        subcommands = {ServeCommand.class, DemoCommand.class, ChangeCommands.Apply.class, InventoryCommands.Volume.class,
            CloneCommand.class, InventoryCommands.Target.class, ChangeCommands.Lun.class, ChangeCommands.Portal.class,
            ChangeCommands.Acl.class, ChangeCommands.Chap.class, SessionCommand.class, StatsCommand.class,
            SnapshotCommand.class,
            MetadataCommand.class,
            ConfigCommand.class, CompletionCommand.class, VersionCommand.class,
            CommandLine.HelpCommand.class})
public final class Cli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** A command line writing to the given streams; exceptions map to {@link ExitCodes}. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Cli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ConfigException c) {
                commandLine.getErr().println("clonetarget: invalid configuration " + c.getMessage());
                return ExitCodes.CONFIG;
            }
            if (e instanceof CommandLine.ParameterException p) {
                throw p;
            }
            if (e instanceof io.clonetarget.server.admin.AdminHttpClient.ApiException a && a.code().equals("invalid_config")) {
                commandLine.getErr().println("clonetarget: " + a.getMessage());
                return ExitCodes.CONFIG;
            }
            commandLine.getErr().println("clonetarget: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return ExitCodes.FAILURE;
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
