package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Renders clone status documents (the admin socket's {@code clone-status}) as a table with progress bars. */
final class CloneTable {
    static final String[] HEADER = {"NAME", "SIZE", "HYDRATED", "RATE", "ETA", "ERRORS", "STATE", "MODE"};

    private CloneTable() {
    }

    static int terminalWidth() {
        try {
            String columns = System.getenv("COLUMNS");
            return columns == null ? 80 : Math.max(40, Integer.parseInt(columns.trim()));
        } catch (NumberFormatException e) {
            return 80;
        }
    }

    static boolean allComplete(JsonNode clones) {
        for (JsonNode c : clones) {
            if (!c.path("complete").asBoolean()) {
                return false;
            }
        }
        return true;
    }

    /** The bar for a fraction: {@code [#####.....]} with {@code width} cells inside. */
    static String bar(double fraction, int width) {
        int full = (int) Math.floor(Math.max(0, Math.min(1, fraction)) * width);
        return "[" + "#".repeat(full) + ".".repeat(width - full) + "]";
    }

    static String eta(long seconds) {
        if (seconds < 0) {
            return "-";
        }
        return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }

    /**
     * The table; {@code width} is the terminal width to fill with the bar, 0 for a fixed bar
     * (output that is not a terminal).
     */
    static String render(JsonNode clones, int width) {
        if (clones.isEmpty()) {
            return "no clone volumes on this server\n";
        }
        List<String[]> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (JsonNode c : clones) {
            long regions = c.path("regions").asLong();
            long hydrated = c.path("hydrated_regions").asLong();
            double fraction = regions == 0 ? 1 : (double) hydrated / regions;
            long rate = c.path("rate_bytes_per_second").asLong();
            rows.add(new String[]{
                c.path("name").asText(),
                ConnectHelp.human(c.path("size").asLong()),
                String.format(Locale.ROOT, "%5.1f%%", 100 * fraction),
                c.path("complete").asBoolean() ? "-" : ConnectHelp.human(rate) + "/s",
                c.path("complete").asBoolean() ? "done" : eta(c.path("eta_seconds").asLong(-1)),
                Long.toString(c.path("errors").asLong()),
                c.path("state").asText(),
                c.path("mode").asText()});
            String lastError = c.path("last_error").asText("");
            if (c.path("errors").asLong() > 0 && !lastError.isEmpty() && !c.path("complete").asBoolean()) {
                notes.add(c.path("name").asText() + ": last source error: " + lastError
                        + (c.path("retrying").asLong() > 0 ? " (" + c.path("retrying").asLong() + " regions to retry)" : ""));
            }
        }
        int[] w = new int[HEADER.length];
        for (int i = 0; i < HEADER.length; i++) {
            w[i] = HEADER[i].length();
            for (String[] r : rows) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        int others = 0;
        for (int i = 0; i < HEADER.length; i++) {
            others += (i == 2 ? 0 : w[i]) + 2;
        }
        int barCells = width > 0 ? Math.max(10, Math.min(50, width - others - w[2] - 4)) : 20;
        int hydratedWidth = barCells + 3 + w[2];
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < HEADER.length; i++) {
            sb.append(pad(HEADER[i], i == 2 ? hydratedWidth : w[i], i == HEADER.length - 1));
        }
        sb.append('\n');
        int row = 0;
        for (JsonNode c : clones) {
            String[] r = rows.get(row++);
            long regions = c.path("regions").asLong();
            double fraction = regions == 0 ? 1 : (double) c.path("hydrated_regions").asLong() / regions;
            for (int i = 0; i < HEADER.length; i++) {
                String cell = i == 2 ? bar(fraction, barCells) + " " + r[2] : r[i];
                sb.append(pad(cell, i == 2 ? hydratedWidth : w[i], i == HEADER.length - 1));
            }
            sb.append('\n');
        }
        for (String n : notes) {
            sb.append(n).append('\n');
        }
        return sb.toString();
    }

    private static String pad(String s, int width, boolean last) {
        if (last) {
            return s;
        }
        return s + " ".repeat(Math.max(0, width - s.length()) + 2);
    }
}
