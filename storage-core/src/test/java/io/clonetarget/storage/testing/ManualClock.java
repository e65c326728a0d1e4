package io.clonetarget.storage.testing;

import io.clonetarget.storage.time.Clock;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock that moves only when told to, or when someone sleeps on it: a sleep advances it by
 * the time slept and returns at once. Code paced by it runs as fast as it can while its virtual
 * time says how long it would have taken. Thread-safe.
 */
public final class ManualClock implements Clock {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final AtomicLong slept = new AtomicLong();

    @Override
    public long nanoTime() {
        return now.get();
    }

    @Override
    public void sleepNanos(long nanos) {
        if (nanos > 0) {
            now.addAndGet(nanos);
            slept.addAndGet(nanos);
        }
    }

    /** Moves the clock forward. */
    public void advance(long nanos) {
        now.addAndGet(nanos);
    }

    /** Nanoseconds that sleepers have slept in total. */
    public long slept() {
        return slept.get();
    }
}
