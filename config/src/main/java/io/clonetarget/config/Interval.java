package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.time.Duration;

/** A duration written as {@code 500ms}, {@code 15s}, {@code 2m} or {@code 1h}; a plain number is seconds. */
public record Interval(Duration duration) {
    public Interval {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("duration must not be negative");
        }
    }

    public static Interval ofSeconds(long seconds) {
        return new Interval(Duration.ofSeconds(seconds));
    }

    @JsonCreator
    public static Interval parse(Object value) {
        if (value instanceof Number n) {
            return ofSeconds(n.longValue());
        }
        String t = String.valueOf(value).trim();
        int i = 0;
        while (i < t.length() && Character.isDigit(t.charAt(i))) {
            i++;
        }
        if (i == 0 || i > 12) {
            throw new IllegalArgumentException("not a duration: \"" + t + "\" (use e.g. 500ms, 15s, 2m)");
        }
        long n = Long.parseLong(t.substring(0, i));
        return new Interval(switch (t.substring(i)) {
            case "ms" -> Duration.ofMillis(n);
            case "", "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> throw new IllegalArgumentException("unknown unit in \"" + t + "\" (ms, s, m, h)");
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
