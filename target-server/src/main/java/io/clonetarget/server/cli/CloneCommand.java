package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.server.admin.Json;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonetarget clone status|pause|resume|rate}: the clones of a running server. */
@Command(name = "clone", description = "Watch and steer the clones of a running server (over its admin API).",
        subcommands = {ChangeCommands.CloneCreate.class, ChangeCommands.CloneSet.class, CloneCommand.Status.class, CloneCommand.Pause.class, CloneCommand.Resume.class,
            CloneCommand.Rate.class})
final class CloneCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String table(JsonNode clones) {
        return CloneTable.render(clones, 0);
    }

    static ObjectNode named(String name) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        if (name != null) {
            o.put("name", name);
        }
        return o;
    }

    @Command(name = "status", description = {"Show hydration progress: regions, bytes, rate, ETA, errors, mode.",
        "With --watch, a live progress bar until every clone is hydrated (json: one document per interval)."})
    static final class Status implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions target = new ServerOptions();

        @Parameters(arity = "0..1", paramLabel = "NAME", description = "One clone volume; default all.")
        String name;

        @Option(names = {"-w", "--watch"}, description = "Refresh until every clone is hydrated (or Ctrl-C).")
        boolean watch;

        @Option(names = "--interval", paramLabel = "DURATION", description = "Refresh interval with --watch. Default 1s.")
        String interval = "1s";

        @Override
        public Integer call() throws Exception {
            CommandLine cl = spec.commandLine();
            PrintWriter out = cl.getOut();
            Duration every;
            try {
                every = io.clonetarget.config.Interval.parse(interval).duration();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--interval: " + e.getMessage());
            }
            if (every.isZero() || every.isNegative()) {
                throw new CommandLine.ParameterException(cl, "--interval must be positive");
            }
            JsonNode clones = target.call(cl, "clone-status", named(name));
            if (!watch) {
                target.print(out, clones, CloneCommand::table);
                return ExitCodes.OK;
            }
            boolean tty = System.console() != null && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"));
            int drawn = 0;
            while (true) {
                if (target.output.equals("json")) {
                    out.println(Json.MAPPER.writeValueAsString(clones));
                } else if (tty) {
                    if (drawn > 0) {
                        out.print("\033[" + drawn + "A\033[J");
                    }
                    String table = CloneTable.render(clones, CloneTable.terminalWidth());
                    out.print(table);
                    drawn = (int) table.chars().filter(c -> c == '\n').count();
                } else {
                    out.print(CloneTable.render(clones, 0));
                }
                out.flush();
                if (CloneTable.allComplete(clones)) {
                    return ExitCodes.OK;
                }
                Thread.sleep(every.toMillis());
                clones = target.call(cl, "clone-status", named(name));
            }
        }
    }

    /** A command that names at most one clone and sends one admin request. */
    abstract static class OnClones implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions target = new ServerOptions();

        @Parameters(arity = "0..1", paramLabel = "NAME", description = "One clone volume; default all.")
        String name;

        abstract String request();

        @Override
        public Integer call() throws Exception {
            target.print(spec.commandLine().getOut(), target.call(spec.commandLine(), request(), named(name)),
                    CloneCommand::table);
            return ExitCodes.OK;
        }
    }

    @Command(name = "pause", description = "Pause background hydration (user I/O still copies what it needs).")
    static final class Pause extends OnClones {
        @Override
        String request() {
            return "clone-pause";
        }
    }

    @Command(name = "resume", description = "Resume background hydration.")
    static final class Resume extends OnClones {
        @Override
        String request() {
            return "clone-resume";
        }
    }

    @Command(name = "rate", description = "Limit background hydration to RATE bytes per second (e.g. 50M; 0 = no limit).")
    static final class Rate implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions target = new ServerOptions();

        @Parameters(index = "0", paramLabel = "RATE", description = "Bytes per second: 50M, 1G, 0 for no limit.")
        String rate;

        @Parameters(index = "1", arity = "0..1", paramLabel = "NAME", description = "One clone volume; default all.")
        String name;

        @Override
        public Integer call() throws Exception {
            long bytes;
            try {
                bytes = ByteSize.parse(rate).bytes();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "RATE: " + e.getMessage());
            }
            ObjectNode fields = named(name);
            fields.put("rate", bytes);
            target.print(spec.commandLine().getOut(), target.call(spec.commandLine(), "clone-rate", fields),
                    CloneCommand::table);
            return ExitCodes.OK;
        }
    }
}
