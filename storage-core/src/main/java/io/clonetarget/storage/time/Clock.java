package io.clonetarget.storage.time;

import java.util.concurrent.TimeUnit;

/**
 * Time as the storage core sees it: a monotonic nanosecond counter and a way to wait. Injected
 * (rather than {@link System#nanoTime()} and {@link Thread#sleep} called directly) so that tests
 * of pacing and rates run on a clock they move themselves, deterministically and without
 * waiting.
 */
public interface Clock {
    /** The system's monotonic clock. */
    Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public void sleepNanos(long nanos) throws InterruptedException {
            TimeUnit.NANOSECONDS.sleep(nanos);
        }
    };

    /** Monotonic nanoseconds; only differences mean anything. */
    long nanoTime();

    /** Waits {@code nanos} nanoseconds (nothing for zero or less). */
    void sleepNanos(long nanos) throws InterruptedException;
}
