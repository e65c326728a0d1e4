package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A size in bytes, written as a plain number or with a binary suffix: {@code 512}, {@code 64K},
 * {@code 1.5G}, {@code 2TiB}. K, M, G, T and P are powers of 1024. A size is a whole number of
 * bytes: {@code 1.5K} (1536) is one, {@code 1.3K} (1331.2) is refused, never rounded.
 */
public record ByteSize(long bytes) {
    private static final Pattern TEXT = Pattern.compile("(\\d{1,19}(?:\\.\\d{1,19})?)([KMGTP]?)(?:I?B)?");
    private static final String EXAMPLES = "use e.g. 512, 64K, 1.5G, 10G";

    public ByteSize {
        if (bytes < 0) {
            throw new IllegalArgumentException("size must not be negative: " + bytes);
        }
    }

    public static ByteSize ofBytes(long bytes) {
        return new ByteSize(bytes);
    }

    /**
     * A size given as a number (a TOML integer or float): whole bytes only.
     *
     * @throws IllegalArgumentException for a fraction of a byte, a negative or a too large number
     */
    public static ByteSize of(Number number) {
        BigDecimal exact = switch (number) {
            case BigDecimal d -> d;
            case BigInteger i -> new BigDecimal(i);
            case Double d when d.isNaN() || d.isInfinite() -> throw new IllegalArgumentException("not a size: " + d);
            case Float f when f.isNaN() || f.isInfinite() -> throw new IllegalArgumentException("not a size: " + f);
            case Double d -> floating(d);
            case Float f -> floating(f.doubleValue());
            default -> BigDecimal.valueOf(number.longValue());
        };
        return exact(exact, number.toString());
    }

    /** A float's value as written; past 2^53 a float no longer holds every whole number. */
    private static BigDecimal floating(double d) {
        if (Math.abs(d) >= 0x1p53) {
            throw new IllegalArgumentException(d + " is too large for a float to hold exactly; write it as a whole"
                    + " number or with a suffix (" + EXAMPLES + ")");
        }
        return BigDecimal.valueOf(d);
    }

    /**
     * Parses a size as text.
     *
     * @throws IllegalArgumentException saying what is wrong: not a size, not a whole number of
     *     bytes, or too large
     */
    public static ByteSize parse(String text) {
        String t = text.strip().toUpperCase(Locale.ROOT);
        Matcher m = TEXT.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: \"" + text + "\" (" + EXAMPLES + ")");
        }
        int shift = switch (m.group(2)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            case "P" -> 50;
            default -> 0;
        };
        return exact(new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(2).pow(shift)), "\"" + text + "\"");
    }

    private static ByteSize exact(BigDecimal bytes, String given) {
        if (bytes.signum() < 0) {
            throw new IllegalArgumentException("size must not be negative: " + given);
        }
        BigDecimal whole = bytes.stripTrailingZeros();
        if (whole.scale() > 0) {
            String value = whole.toPlainString();
            throw new IllegalArgumentException(given + " is " + (given.equals(value) ? "" : value + " bytes, ")
                    + "not a whole number of bytes (" + EXAMPLES + ")");
        }
        if (whole.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("size too large: " + given + " (at most 8191P)");
        }
        return new ByteSize(whole.longValueExact());
    }

    /** The shortest exact form: {@code 64K}, {@code 10G}, or plain bytes. */
    @JsonValue
    @Override
    public String toString() {
        String[] units = {"", "K", "M", "G", "T", "P"};
        long v = bytes;
        int u = 0;
        while (v != 0 && v % 1024 == 0 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return v + units[u];
    }
}
