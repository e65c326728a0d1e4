package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
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
    static final class ListSessions extends InventoryCommands.Query {
        @Override
        String command() {
            return "session-list";
        }

        @Override
        String table(JsonNode sessions) {
            return SessionCommand.table(sessions);
        }
    }

    /** A command on one session, named by its TSIH. */
    abstract static class OnSession extends InventoryCommands.Query {
        @Parameters(paramLabel = "TSIH", description = "The session (see session list).")
        int tsih;

        @Override
        String name() {
            return Integer.toString(tsih);
        }
    }

    @Command(name = "show", description = "One session with its negotiated parameters.")
    static final class Show extends OnSession {
        @Override
        String command() {
            return "session-show";
        }

        @Override
        String table(JsonNode s) {
            return InventoryCommands.fields(s);
        }
    }

    @Command(name = "logout", description = {"End a session by closing its connection.",
        "An initiator that recovers sessions (open-iscsi does) logs in again unless no longer allowed."})
    static final class Logout extends OnSession {
        @Override
        String command() {
            return "session-logout";
        }

        @Override
        String table(JsonNode j) {
            return "session " + j.path("tsih").asInt() + " of " + j.path("initiator").asText() + " ended\n";
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
}
