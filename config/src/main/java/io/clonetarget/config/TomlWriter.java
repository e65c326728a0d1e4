package io.clonetarget.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Writes a tree (as the TOML parser makes one) as TOML a person can read and edit: each table's
 * plain keys first, then its tables as {@code [server.limits]} sections, then its arrays of
 * tables as {@code [[target]]}, {@code [[target.lun]]}, {@code [[target.initiator.lun]]}
 * entries, with a blank line before every header. Strings are basic strings ({@code "..."}),
 * escaped where TOML needs it.
 */
final class TomlWriter {
    private static final Pattern BARE_KEY = Pattern.compile("[A-Za-z0-9_-]+");

    private final StringBuilder out = new StringBuilder();

    private TomlWriter() {
    }

    /** The TOML text of a tree whose root is a table. */
    static String write(JsonNode root) {
        if (!root.isObject()) {
            throw new IllegalArgumentException("a TOML document is a table, not " + root.getNodeType());
        }
        TomlWriter w = new TomlWriter();
        w.table(root, "");
        return w.out.toString();
    }

    private void table(JsonNode node, String path) {
        List<Map.Entry<String, JsonNode>> tables = new ArrayList<>();
        List<Map.Entry<String, JsonNode>> arrays = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            JsonNode v = field.getValue();
            if (v.isObject()) {
                tables.add(field);
            } else if (isArrayOfTables(v)) {
                arrays.add(field);
            } else {
                out.append(key(field.getKey())).append(" = ");
                inline(v);
                out.append('\n');
            }
        }
        for (Map.Entry<String, JsonNode> field : tables) {
            String at = join(path, field.getKey());
            header("[" + at + "]");
            table(field.getValue(), at);
        }
        for (Map.Entry<String, JsonNode> field : arrays) {
            String at = join(path, field.getKey());
            for (JsonNode element : field.getValue()) {
                header("[[" + at + "]]");
                table(element, at);
            }
        }
    }

    private void header(String header) {
        if (!out.isEmpty()) {
            out.append('\n');
        }
        out.append(header).append('\n');
    }

    /** A non-empty array whose elements are all tables: written as {@code [[...]]} entries. */
    private static boolean isArrayOfTables(JsonNode v) {
        if (!v.isArray() || v.isEmpty()) {
            return false;
        }
        for (JsonNode e : v) {
            if (!e.isObject()) {
                return false;
            }
        }
        return true;
    }

    private void inline(JsonNode v) {
        if (v.isTextual()) {
            string(out, v.textValue());
        } else if (v.isBoolean() || v.isIntegralNumber()) {
            out.append(v.asText());
        } else if (v.isArray()) {
            out.append('[');
            for (int i = 0; i < v.size(); i++) {
                out.append(i == 0 ? "" : ", ");
                inline(v.get(i));
            }
            out.append(']');
        } else if (v.isObject()) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> field : v.properties()) {
                out.append(first ? " " : ", ").append(key(field.getKey())).append(" = ");
                inline(field.getValue());
                first = false;
            }
            out.append(first ? "}" : " }");
        } else {
            // the configuration has no floats, dates or nulls; a new kind of value needs a rule here
            throw new IllegalArgumentException("no TOML form for a " + v.getNodeType() + " value");
        }
    }

    private static String key(String key) {
        if (BARE_KEY.matcher(key).matches()) {
            return key;
        }
        StringBuilder quoted = new StringBuilder();
        string(quoted, key);
        return quoted.toString();
    }

    private static String join(String path, String key) {
        String k = key(key);
        return path.isEmpty() ? k : path + "." + k;
    }

    /** A basic string: quotes, backslashes and control characters escaped, the rest as it is. */
    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\t' -> out.append("\\t");
                case '\n' -> out.append("\\n");
                case '\f' -> out.append("\\f");
                case '\r' -> out.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        out.append(String.format("\\u%04X", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
