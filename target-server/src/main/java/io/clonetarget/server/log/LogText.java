package io.clonetarget.server.log;

/**
 * Makes text from the wire safe for a log line: control characters (a newline would forge a
 * line of its own), DEL and the Unicode line and format separators are written as escapes, and
 * the text is capped, so an 8,000-character initiator name costs a log line its first
 * {@value #MAX} characters and a count. Every value an initiator sends (names, keys, CHAP user
 * names, text values) goes through {@link #of} before it reaches a message or the MDC.
 */
public final class LogText {
    /** Characters of one value kept in a log line. */
    public static final int MAX = 200;

    private LogText() {
    }

    /** The value escaped and capped at {@value #MAX} characters; "null" for null. */
    public static String of(String value) {
        return of(value, MAX);
    }

    /** The value escaped and capped at {@code max} characters. */
    public static String of(String value, int max) {
        if (value == null) {
            return "null";
        }
        StringBuilder sb = null;
        int n = Math.min(value.length(), max);
        for (int i = 0; i < n; i++) {
            char c = value.charAt(i);
            boolean unsafe = c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085'
                    || Character.getType(c) == Character.FORMAT || Character.isSurrogate(c) && !validPair(value, i);
            if (unsafe || c == '\\') {
                if (sb == null) {
                    sb = new StringBuilder(n + 16).append(value, 0, i);
                }
                if (c == '\\') {
                    sb.append("\\\\");
                } else if (c == '\n') {
                    sb.append("\\n");
                } else if (c == '\r') {
                    sb.append("\\r");
                } else if (c == '\t') {
                    sb.append("\\t");
                } else if (c < 0x100) {
                    sb.append(String.format("\\x%02x", (int) c));
                } else {
                    sb.append(String.format("\\u%04x", (int) c));
                }
            } else if (sb != null) {
                sb.append(c);
            }
        }
        String out = sb == null ? value.substring(0, n) : sb.toString();
        return value.length() > max ? out + "...(" + (value.length() - max) + " more)" : out;
    }

    private static boolean validPair(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
