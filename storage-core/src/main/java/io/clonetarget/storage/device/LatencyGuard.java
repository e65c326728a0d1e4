package io.clonetarget.storage.device;

/**
 * Decides whether an optimistic transfer (one the kernel cannot promise not to wait for) may be
 * tried on a thread that must not wait long. A transfer slower than the limit closes the guard
 * for a back-off that starts at {@link #MIN_BACKOFF_NANOS} and doubles, up to
 * {@link #MAX_BACKOFF_NANOS}, while the transfers tried after each back-off are slow again; one
 * fast transfer resets it. So a single slow write (the first one into a new file, a page-cache
 * hiccup) costs one second of the slower path, and a device the kernel keeps throttling is
 * tried only a few times a minute.
 *
 * <p>Thread-safe: the open check is one volatile read; the slow-transfer update is
 * synchronized. A fast transfer that races a slow one may leave the back-off one step shorter
 * or longer, never closed for good.
 */
final class LatencyGuard {
    static final long LIMIT_NANOS = 2_000_000;
    static final long MIN_BACKOFF_NANOS = 1_000_000_000L;
    static final long MAX_BACKOFF_NANOS = 16_000_000_000L;
    private volatile long openFrom;
    private volatile long backoff; // 0 while the last transfer tried was fast

    LatencyGuard(long now) {
        this.openFrom = now;
    }

    /** Whether an optimistic transfer may be tried at {@code now}. */
    boolean open(long now) {
        return now - openFrom >= 0;
    }

    /**
     * Records a transfer tried at {@code started} that took {@code took} nanoseconds.
     *
     * @return the back-off it started, in nanoseconds, or 0 when it was fast
     */
    long record(long started, long took) {
        if (took <= LIMIT_NANOS) {
            if (backoff != 0) {
                backoff = 0;
            }
            return 0;
        }
        synchronized (this) {
            long next = backoff == 0 ? MIN_BACKOFF_NANOS : Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            backoff = next;
            openFrom = started + took + next;
            return next;
        }
    }
}
