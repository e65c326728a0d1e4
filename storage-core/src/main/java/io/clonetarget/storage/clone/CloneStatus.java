package io.clonetarget.storage.clone;

/**
 * A snapshot of a clone's progress.
 *
 * @param rateBytesPerSecond hydration rate over the last few seconds
 * @param etaSeconds seconds to completion at that rate, or -1 when unknown
 * @param errors failed source reads so far
 * @param retrying regions waiting for a retry after a failed source read
 * @param mode {@code rw}; {@code read-only} after a failed metadata write (reads go on, the last
 *     commit stands); {@code failed} after a failed destination flush (every I/O fails until a
 *     restart: what the flush should have made durable may be gone)
 * @param state background hydration: {@code hydrating}, {@code retrying} (source errors, backing
 *     off), {@code paused}, {@code stopped} (the source changed underneath; nothing more is
 *     copied) or {@code complete}
 * @param commits metadata commits (superblocks written) since the volume was opened
 */
public record CloneStatus(String name, String source, long size, long regionSize, long regions,
                          long hydratedRegions, long hydratedBytes, int copiesInFlight, long rateBytesPerSecond,
                          long etaSeconds, long errors, long retrying, String lastError, String mode,
                          String state, boolean paused, boolean complete, long commits) {

    /** Hydrated fraction, 0 to 1. */
    public double fraction() {
        return regions == 0 ? 1.0 : (double) hydratedRegions / regions;
    }
}
