package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A duration written as {@code 500ms}, {@code 15s}, {@code 2m} or {@code 1h}: a whole number
 * and a unit; a plain number is seconds.
 */
public record Interval(Duration duration) {
    private static final Pattern TEXT = Pattern.compile("(\\d{1,12})(ms|s|m|h)?");
    private static final String EXAMPLES = "use e.g. 500ms, 15s, 2m";

    public Interval {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("duration must not be negative");
        }
    }

    public static Interval ofSeconds(long seconds) {
        return new Interval(Duration.ofSeconds(seconds));
    }

    /**
     * A duration given as a number (a TOML integer or float): whole seconds.
     *
     * @throws IllegalArgumentException for a fraction of a second or a negative number
     */
    public static Interval of(Number seconds) {
        boolean whole = seconds instanceof Integer || seconds instanceof Long || seconds instanceof Short
                || seconds instanceof Byte || seconds instanceof BigInteger;
        if (!whole) {
            BigDecimal ms = new BigDecimal(seconds.toString()).movePointRight(3).stripTrailingZeros();
            String hint = ms.scale() <= 0 && ms.signum() > 0 ? "; here \"" + ms.toPlainString() + "ms\"" : "";
            throw new IllegalArgumentException(seconds + " is not a whole number of seconds (" + EXAMPLES + hint + ")");
        }
        if (seconds instanceof BigInteger || seconds.longValue() < 0 || seconds.longValue() > 999_999_999_999L) {
            throw new IllegalArgumentException(seconds + " seconds is outside 0..999999999999");
        }
        return ofSeconds(seconds.longValue());
    }

    /**
     * Parses a duration as text.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static Interval parse(String text) {
        Matcher m = TEXT.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: \"" + text + "\" (a whole number and ms, s, m or h: "
                    + EXAMPLES + ")");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return new Interval(switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        });
    }

    @JsonValue
    @Override
    public String toString() {
        long ms = duration.toMillis();
        if (ms % 3_600_000 == 0 && ms > 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms > 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}
