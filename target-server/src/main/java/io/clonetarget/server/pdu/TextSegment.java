package io.clonetarget.server.pdu;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The text format of Login and Text PDU data segments (RFC 7143 section 6): a sequence of
 * {@code key=value} strings, each terminated by a NUL byte, UTF-8 encoded.
 */
public final class TextSegment {
    /** Longest key name the RFC allows. */
    public static final int MAX_KEY_LENGTH = 63;

    private TextSegment() {
    }

    /** One {@code key=value} pair, in the order it appeared. */
    public record Pair(String key, String value) {
        @Override
        public String toString() {
            return key + "=" + value;
        }
    }

    /**
     * Parses a complete text segment.
     *
     * @throws TextFormatException naming the offending entry when a pair has no '=', an empty
     *     or over-long key, or a key with characters outside the RFC's set
     */
    public static List<Pair> parse(ByteBuffer segment) throws TextFormatException {
        byte[] bytes = new byte[segment.remaining()];
        segment.duplicate().get(bytes);
        List<Pair> pairs = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= bytes.length; i++) {
            if (i == bytes.length || bytes[i] == 0) {
                if (i > start) {
                    pairs.add(parsePair(new String(bytes, start, i - start, StandardCharsets.UTF_8)));
                }
                start = i + 1;
            }
        }
        return pairs;
    }

    private static Pair parsePair(String entry) throws TextFormatException {
        int eq = entry.indexOf('=');
        if (eq < 0) {
            throw new TextFormatException("text entry without '=': \"" + abbreviate(entry) + "\"");
        }
        String key = entry.substring(0, eq);
        if (key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
            throw new TextFormatException("invalid key length " + key.length() + " in \"" + abbreviate(entry) + "\"");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
            if (!ok) {
                throw new TextFormatException("invalid character in key \"" + abbreviate(key) + "\"");
            }
        }
        return new Pair(key, entry.substring(eq + 1));
    }

    private static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }

    /** Encodes pairs as {@code key=value\0...}. */
    public static byte[] encode(List<Pair> pairs) {
        StringBuilder sb = new StringBuilder();
        for (Pair p : pairs) {
            sb.append(p.key()).append('=').append(p.value()).append('\0');
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** A malformed text segment. */
    public static final class TextFormatException extends Exception {
        public TextFormatException(String message) {
            super(message);
        }
    }
}
