package io.clonetarget.storage.clone;

import io.clonetarget.storage.time.Clock;
import io.clonetarget.storage.time.Rates;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The copy rate of a clone over the last ten seconds: a ring of one-second samples of the bytes
 * copied so far. Exact for any byte count and window ({@link Rates}). Thread-safe.
 */
final class RateMeter {
    private static final int WINDOW = 10;
    private final Clock clock;
    private final AtomicLong bytes = new AtomicLong();
    private final long[] samples = new long[WINDOW + 1];
    private final long[] times = new long[WINDOW + 1];
    private final boolean[] taken = new boolean[WINDOW + 1];
    private final long started;
    private int index;

    RateMeter(Clock clock) {
        this.clock = clock;
        this.started = clock.nanoTime();
    }

    /** Counts bytes copied. */
    void add(long n) {
        bytes.addAndGet(n);
    }

    /** Bytes copied since the meter started. */
    long total() {
        return bytes.get();
    }

    /** Nanoseconds since the meter started. */
    long elapsedNanos() {
        return clock.nanoTime() - started;
    }

    /** Takes a sample when the last one is a second old. */
    synchronized void sample() {
        long now = clock.nanoTime();
        if (taken[index] && now - times[index] < Rates.NANOS_PER_SECOND) {
            return;
        }
        index = (index + 1) % samples.length;
        samples[index] = bytes.get();
        times[index] = now;
        taken[index] = true;
    }

    /** Bytes per second over the window (since the start while the window is not full yet). */
    synchronized long rate() {
        sample();
        int oldest = (index + 1) % samples.length;
        if (!taken[oldest]) {
            long elapsed = clock.nanoTime() - started;
            return elapsed > 0 ? Rates.perSecond(bytes.get(), elapsed) : 0;
        }
        long dt = times[index] - times[oldest];
        return dt > 0 ? Rates.perSecond(samples[index] - samples[oldest], dt) : 0;
    }
}
