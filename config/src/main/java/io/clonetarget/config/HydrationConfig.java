package io.clonetarget.config;

/**
 * Background hydration knobs of a clone (dm-clone's hydration_threshold and
 * hydration_batch_size, plus what dm-clone lacks).
 *
 * @param inFlight copies running at once (dm-clone: hydration_threshold)
 * @param batchSize adjacent regions merged into one copy (dm-clone: hydration_batch_size)
 * @param rate bytes per second, {@code 0} for unlimited
 * @param startPaused open with background hydration paused (dm-clone: no_hydration)
 * @param hydrateOnRead copy a region into the destination when a read needs it
 * @param retryMin first delay after a failed source read; doubles up to {@code retryMax}
 */
public record HydrationConfig(Integer inFlight, Integer batchSize, ByteSize rate, Boolean startPaused,
                              Boolean hydrateOnRead, Interval retryMin, Interval retryMax) {
    public HydrationConfig {
        inFlight = inFlight == null ? 4 : inFlight;
        batchSize = batchSize == null ? 16 : batchSize;
        rate = rate == null ? ByteSize.ofBytes(0) : rate;
        startPaused = startPaused != null && startPaused;
        hydrateOnRead = hydrateOnRead != null && hydrateOnRead;
        retryMin = retryMin == null ? new Interval(java.time.Duration.ofMillis(200)) : retryMin;
        retryMax = retryMax == null ? Interval.ofSeconds(30) : retryMax;
    }

    public static HydrationConfig defaults() {
        return new HydrationConfig(null, null, null, null, null, null, null);
    }
}
