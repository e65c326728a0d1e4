package io.clonetarget.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The line of every field of a TOML text, so that a message can say where a field is:
 * {@code volume[1].hydration.in-flight} is on line 12. Field paths are those of
 * {@link ConfigBinder}: keys joined with dots, array elements (and {@code [[tables]]}) indexed.
 *
 * <p>It reads text that the TOML parser has already accepted, so it skims rather than
 * validates: table headers, keys (bare, quoted, dotted), strings of all four kinds, inline
 * tables and arrays over any number of lines, comments.
 */
final class TomlLines {
    private final String text;
    private final Map<String, Integer> lines = new HashMap<>();
    /** How many elements each array of tables has so far, by its path. */
    private final Map<String, Integer> tableArrays = new HashMap<>();
    private int pos;
    private int line = 1;

    private TomlLines(String text) {
        this.text = text;
    }

    static TomlLines of(String text) {
        TomlLines t = new TomlLines(text);
        try {
            t.document();
        } catch (RuntimeException e) {
            // text the parser accepted but this skimmer does not follow: the lines found so far stand
        }
        return t;
    }

    /** The line of {@code path}, else of the nearest field that encloses it; 0 when none is known. */
    int lineOf(String path) {
        String p = path;
        while (!p.isEmpty()) {
            Integer n = lines.get(p);
            if (n != null) {
                return n;
            }
            int cut = p.endsWith("]") ? p.lastIndexOf('[') : p.lastIndexOf('.');
            p = cut < 0 ? "" : p.substring(0, cut);
        }
        return 0;
    }

    private void document() {
        String table = "";
        while (true) {
            skipBlank(true);
            if (pos >= text.length()) {
                return;
            }
            if (text.charAt(pos) == '[') {
                boolean array = text.startsWith("[[", pos);
                pos += array ? 2 : 1;
                List<String> keys = keys();
                pos += array ? 2 : 1;
                table = header(keys, array);
                lines.putIfAbsent(table, line);
            } else {
                List<String> keys = keys();
                pos++; // '='
                value(assign(table, keys));
            }
            skipToLineEnd();
        }
    }

    /** The path a table header names; an array-of-tables header adds an element. */
    private String header(List<String> keys, boolean array) {
        String path = "";
        for (int i = 0; i < keys.size(); i++) {
            path = join(path, keys.get(i));
            lines.putIfAbsent(path, line);
            if (array && i == keys.size() - 1) {
                path += "[" + (tableArrays.merge(path, 1, Integer::sum) - 1) + "]";
            } else if (tableArrays.containsKey(path)) {
                path += "[" + (tableArrays.get(path) - 1) + "]";
            }
        }
        return path;
    }

    /** Records {@code keys} (dotted: each part) below {@code base} at this line; the full path. */
    private String assign(String base, List<String> keys) {
        String path = base;
        for (String k : keys) {
            path = join(path, k);
            lines.putIfAbsent(path, line);
        }
        return path;
    }

    private void value(String path) {
        skipBlank(false);
        char c = peek();
        if (c == '"' || c == '\'') {
            string();
        } else if (c == '{') {
            pos++;
            while (true) {
                skipBlank(true);
                if (peek() == '}') {
                    pos++;
                    return;
                }
                List<String> keys = keys();
                pos++; // '='
                value(assign(path, keys));
                skipBlank(true);
                if (peek() == ',') {
                    pos++;
                }
            }
        } else if (c == '[') {
            pos++;
            for (int i = 0; ; i++) {
                skipBlank(true);
                if (peek() == ']') {
                    pos++;
                    return;
                }
                String element = path + "[" + i + "]";
                lines.putIfAbsent(element, line);
                value(element);
                skipBlank(true);
                if (peek() == ',') {
                    pos++;
                }
            }
        } else {
            while (pos < text.length() && ",]}\n\r#".indexOf(text.charAt(pos)) < 0) {
                pos++;
            }
        }
    }

    /** A key: parts separated by dots, each bare or quoted; stops before '=' or ']'. */
    private List<String> keys() {
        List<String> keys = new ArrayList<>();
        while (true) {
            skipBlank(false);
            char c = peek();
            if (c == '"' || c == '\'') {
                int start = pos + 1;
                string();
                keys.add(text.substring(start, pos - 1));
            } else {
                int start = pos;
                while (pos < text.length() && isBare(text.charAt(pos))) {
                    pos++;
                }
                keys.add(text.substring(start, pos));
            }
            skipBlank(false);
            if (pos >= text.length() || text.charAt(pos) != '.') {
                return keys;
            }
            pos++;
        }
    }

    private static boolean isBare(char c) {
        return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-';
    }

    /** Skips a basic, literal or multi-line string, counting the lines it spans. */
    private void string() {
        char quote = peek();
        String triple = String.valueOf(quote).repeat(3);
        boolean multi = text.startsWith(triple, pos);
        pos += multi ? 3 : 1;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == '\\' && quote == '"') {
                pos += 2;
                continue;
            }
            if (multi ? text.startsWith(triple, pos) : c == quote) {
                pos += multi ? 3 : 1;
                while (multi && pos < text.length() && text.charAt(pos) == quote) {
                    pos++; // up to two quotes right before the closing ones belong to the string
                }
                return;
            }
            if (c == '\n') {
                line++;
            }
            pos++;
        }
    }

    /** Skips spaces and tabs, and with {@code newlines} also line ends and comments. */
    private void skipBlank(boolean newlines) {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || (newlines && c == '\r')) {
                pos++;
            } else if (newlines && c == '\n') {
                line++;
                pos++;
            } else if (newlines && c == '#') {
                while (pos < text.length() && text.charAt(pos) != '\n') {
                    pos++;
                }
            } else {
                return;
            }
        }
    }

    private void skipToLineEnd() {
        while (pos < text.length() && text.charAt(pos) != '\n') {
            pos++;
        }
    }

    /** The next character; past the end an exception, so that no loop runs on forever. */
    private char peek() {
        if (pos >= text.length()) {
            throw new IllegalStateException("end of text");
        }
        return text.charAt(pos);
    }

    private static String join(String base, String key) {
        return base.isEmpty() ? key : base + "." + key;
    }
}
