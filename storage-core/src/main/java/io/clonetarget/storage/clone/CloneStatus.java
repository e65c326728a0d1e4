package io.clonetarget.storage.clone;

/**
 * A snapshot of a clone's progress.
 *
 * @param rateBytesPerSecond hydration rate over the last few seconds
 * @param etaSeconds seconds to completion at that rate, or -1 when unknown
 * @param errors failed source reads so far
 * @param mode {@code rw}, or {@code read-only} after a metadata error
 * @param commits metadata commits (superblocks written) since the volume was opened
 */
public record CloneStatus(String name, String source, long size, long regionSize, long regions,
                          long hydratedRegions, long hydratedBytes, int copiesInFlight, long rateBytesPerSecond,
                          long etaSeconds, long errors, String lastError, String mode, boolean paused,
                          boolean complete, long commits) {

    /** Hydrated fraction, 0 to 1. */
    public double fraction() {
        return regions == 0 ? 1.0 : (double) hydratedRegions / regions;
    }
}
