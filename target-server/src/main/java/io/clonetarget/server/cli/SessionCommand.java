package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code clonetarget session list|show|logout}: the iSCSI sessions of a running server. */
@Command(name = "session", description = "List, inspect and end the iSCSI sessions of a running server.",
        subcommands = {SessionCommand.ListSessions.class, SessionCommand.Show.class, SessionCommand.Logout.class})
final class SessionCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "list", description = "One line per session: TSIH, initiator, target, address, CHAP user, age.")
    static final class ListSessions implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        @Override
        public Integer call() throws Exception {
            JsonNode sessions = server.call(spec.commandLine(), "session-list", null);
            server.print(spec.commandLine().getOut(), sessions, SessionCommand::table);
            return ExitCodes.OK;
        }
    }

    @Command(name = "show", description = "One session with its negotiated parameters.")
    static final class Show implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        @Parameters(paramLabel = "TSIH", description = "The session (see session list).")
        int tsih;

        @Override
        public Integer call() throws Exception {
            JsonNode s = server.call(spec.commandLine(), "session-show", CloneCommand.named(Integer.toString(tsih)));
            server.print(spec.commandLine().getOut(), s, SessionCommand::details);
            return ExitCodes.OK;
        }
    }

    @Command(name = "logout", description = {"End a session by closing its connection.",
        "An initiator that recovers sessions (open-iscsi does) logs in again unless no longer allowed."})
    static final class Logout implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        @Parameters(paramLabel = "TSIH", description = "The session (see session list).")
        int tsih;

        @Override
        public Integer call() throws Exception {
            JsonNode s = server.call(spec.commandLine(), "session-logout", CloneCommand.named(Integer.toString(tsih)));
            server.print(spec.commandLine().getOut(), s, j -> "session " + j.path("tsih").asInt() + " of "
                    + j.path("initiator").asText() + " ended\n");
            return ExitCodes.OK;
        }
    }

    static String table(JsonNode sessions) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"TSIH", "INITIATOR", "TARGET", "FROM", "CHAP", "SINCE", "TASKS"});
        for (JsonNode s : sessions) {
            rows.add(new String[] {s.path("tsih").asText(), s.path("initiator").asText(),
                s.path("target").isNull() ? "(discovery)" : s.path("target").asText(), s.path("remote").asText("-"),
                s.path("chap_user").isNull() ? "-" : s.path("chap_user").asText(), s.path("created").asText(),
                s.path("active_tasks").asText()});
        }
        if (rows.size() == 1) {
            return "no sessions\n";
        }
        return Tables.render(rows);
    }

    static String details(JsonNode s) {
        return InventoryCommands.fields(s);
    }
}
