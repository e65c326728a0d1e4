package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

/** {@code clonetarget stats}: each exported volume's commands, bytes, errors and mean latency since the start. */
@Command(name = "stats", description = {"Commands, bytes, errors and mean latency of every exported volume since the "
        + "server started (the same counters as /metrics).", "", "  clonetarget stats", "  clonetarget stats -o json"})
final class StatsCommand extends InventoryCommands.Query {
    @Override
    String command() {
        return "stats";
    }

    @Override
    String table(JsonNode stats) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"TARGET", "VOLUME", "READS", "WRITES", "OTHER", "READ", "WRITTEN", "ERRORS", "READ us",
            "WRITE us"});
        for (JsonNode s : stats) {
            rows.add(new String[] {s.path("target").asText(), s.path("volume").asText(), s.path("reads").asText(),
                s.path("writes").asText(), s.path("other").asText(), ConnectHelp.human(s.path("read_bytes").asLong()),
                ConnectHelp.human(s.path("write_bytes").asLong()), s.path("errors").asText(),
                String.format("%.0f", s.path("mean_read_micros").asDouble()),
                String.format("%.0f", s.path("mean_write_micros").asDouble())});
        }
        return rows.size() == 1 ? "no exported volumes\n" : Tables.render(rows);
    }
}
