package io.clonetarget.storage.clone;

import io.clonetarget.storage.time.Clock;
import io.clonetarget.storage.time.Rates;

/**
 * Paces background copies to a byte rate by what they actually copy: a copy is charged its
 * bytes once its regions are claimed ({@link #charge}), and the next one waits until the rate
 * has paid for it ({@link #awaitTurn}). Waiting happens before anything is claimed, so pacing
 * never makes user I/O wait on a claim, and a batch that turned out to hold one region (its
 * neighbours already hydrated) costs one region, not a full batch. Unused time is credited for
 * at most one second, so a resumed clone bursts that much and no more. Used by the hydrator's
 * scheduler thread only; the limit may be changed from any thread.
 */
final class RateLimiter {
    /** The longest the limiter ever makes a copy wait (a year: a rate of bytes per year is no rate). */
    static final long MAX_WAIT = 365L * 24 * 3600 * Rates.NANOS_PER_SECOND;
    private final Clock clock;
    private volatile long bytesPerSecond;
    private long nextFree;

    RateLimiter(Clock clock, long bytesPerSecond) {
        this.clock = clock;
        this.bytesPerSecond = bytesPerSecond;
        this.nextFree = clock.nanoTime();
    }

    void setRate(long rate) {
        if (rate < 0) {
            throw new IllegalArgumentException("rate " + rate);
        }
        bytesPerSecond = rate;
    }

    long rate() {
        return bytesPerSecond;
    }

    /** Waits until the copies charged so far are paid for (returns at once without a limit). */
    void awaitTurn() throws InterruptedException {
        if (bytesPerSecond <= 0) {
            return;
        }
        long wait = nextFree - clock.nanoTime();
        if (wait > 0) {
            clock.sleepNanos(wait);
        }
    }

    /** Charges a copy of {@code bytes} that is about to run. */
    void charge(long bytes) {
        long limit = bytesPerSecond;
        if (limit <= 0) {
            return;
        }
        long now = clock.nanoTime();
        // lag and cost stay below MAX_WAIT, so the sums below cannot overflow
        long lag = Math.max(nextFree - now, -Rates.NANOS_PER_SECOND);
        long cost = Math.min(Rates.nanosFor(bytes, limit), MAX_WAIT);
        nextFree = now + Math.min(lag + cost, MAX_WAIT);
    }
}
