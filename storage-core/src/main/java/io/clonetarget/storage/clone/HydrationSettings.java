package io.clonetarget.storage.clone;

import java.time.Duration;

/**
 * Background hydration knobs.
 *
 * @param inFlight copies running at once (dm-clone's hydration_threshold)
 * @param batchSize adjacent regions copied as one (dm-clone's hydration_batch_size)
 * @param rateBytesPerSecond limit, 0 for none
 * @param startPaused do not start copying until resumed (dm-clone's no_hydration)
 * @param retryMin first wait after a failed source read; doubles up to {@code retryMax}
 */
public record HydrationSettings(int inFlight, int batchSize, long rateBytesPerSecond, boolean startPaused,
                                Duration retryMin, Duration retryMax) {
    public HydrationSettings {
        if (inFlight < 1 || batchSize < 1 || rateBytesPerSecond < 0) {
            throw new IllegalArgumentException("in-flight and batch size must be positive, the rate not negative");
        }
        if (retryMin.isNegative() || retryMin.isZero() || retryMax.compareTo(retryMin) < 0) {
            throw new IllegalArgumentException("retry delays must be positive, min <= max");
        }
    }

    public static HydrationSettings defaults() {
        return new HydrationSettings(4, 16, 0, false, Duration.ofMillis(200), Duration.ofSeconds(30));
    }
}
