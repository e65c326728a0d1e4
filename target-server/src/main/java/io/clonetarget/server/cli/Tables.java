package io.clonetarget.server.cli;

import java.util.List;

/** Plain aligned tables for the terminal: columns as wide as their widest cell, two spaces apart. */
final class Tables {
    private Tables() {
    }

    /** Renders {@code rows} (the first one is the header, if any), one line each. */
    static String render(List<String[]> rows) {
        int columns = 0;
        for (String[] r : rows) {
            columns = Math.max(columns, r.length);
        }
        int[] width = new int[columns];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                sb.append(r[i]);
                if (i < r.length - 1) {
                    sb.append(" ".repeat(width[i] - r[i].length() + 2));
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
