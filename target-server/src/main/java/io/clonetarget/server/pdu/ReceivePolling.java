package io.clonetarget.server.pdu;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Polls a connection for a short while before its reader blocks, the way the kernel's haltpoll
 * idle driver polls before halting a virtual CPU. At queue depth 1 the next command comes a few
 * tens of microseconds after the answer to the last one; a reader that blocks at once sleeps in
 * the kernel, and on a virtual machine whose idle CPUs halt (no guest halt polling) waking it
 * again costs about 40 us, more than the whole command. Measured on the 2-vCPU bench machine:
 * QD1 4 KiB reads 12-16k IOPS without polling, 32-35k with it (docs/performance.md).
 *
 * <p>Polling yields the CPU between looks ({@code sched_yield}): with nothing else to run it
 * returns at once and the CPU stays awake; when the initiator itself waits for this CPU (client
 * and server on one core), it runs at once instead of after the window.
 *
 * <p>The window adapts per connection. A miss whose data still came soon (within
 * {@link #GROW_BELOW_NANOS}, which allows for the cost of the wake-up itself) doubles it, from
 * {@link #GROW_START_NANOS} up to {@link #MAX_WINDOW_NANOS}; {@value #SHRINK_AFTER} misses in
 * a row with longer waits halve it, down to zero, so an idle or slow connection soon stops
 * polling; a hit resets the count. At most half the CPUs (at least one) poll at any moment,
 * whatever the number of connections.
 *
 * <p>Not thread-safe: owned by the connection's reader thread (the count of polling readers is
 * shared and atomic).
 */
public final class ReceivePolling {
    /** How many bytes could be read now without waiting. */
    @FunctionalInterface
    public interface Readiness {
        int available() throws IOException;
    }

    static final long MAX_WINDOW_NANOS = 50_000;
    static final long GROW_START_NANOS = 10_000;
    static final long MIN_WINDOW_NANOS = 1_000;
    static final long GROW_BELOW_NANOS = 2 * MAX_WINDOW_NANOS;
    static final int SHRINK_AFTER = 8;
    private static final int MAX_POLLING = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    private static final AtomicInteger POLLING = new AtomicInteger();

    private final Readiness readiness;
    private final java.util.function.LongSupplier clock;
    private long window = MAX_WINDOW_NANOS;
    private long missedAt = -1;
    private int longMisses;

    public ReceivePolling(Readiness readiness) {
        this(readiness, System::nanoTime);
    }

    /** With another nanosecond clock (tests move it themselves). */
    ReceivePolling(Readiness readiness, java.util.function.LongSupplier clock) {
        this.readiness = readiness;
        this.clock = clock;
    }

    /**
     * Before a read that would block: polls until data is there or the window is over. Call
     * {@link #read()} after the read returns.
     */
    void beforeBlockingRead() throws IOException {
        long start = clock.getAsLong();
        missedAt = start;
        if (window == 0) {
            return;
        }
        if (POLLING.incrementAndGet() <= MAX_POLLING) {
            try {
                while (clock.getAsLong() - start < window) {
                    if (readiness.available() > 0) {
                        missedAt = -1;
                        longMisses = 0;
                        return;
                    }
                    // yield, not spin: when the initiator runs on this CPU, it gets the CPU to send its next command
                    Thread.yield();
                }
            } finally {
                POLLING.decrementAndGet();
            }
        } else {
            POLLING.decrementAndGet();
        }
    }

    /** After that read: adapts the window to how long the data took when polling missed it. */
    void read() {
        if (missedAt < 0) {
            return;
        }
        long waited = clock.getAsLong() - missedAt;
        missedAt = -1;
        if (waited <= GROW_BELOW_NANOS) {
            window = grown(window);
            longMisses = 0;
        } else if (++longMisses >= SHRINK_AFTER) {
            window = shrunk(window);
            longMisses = 0;
        }
    }

    static long grown(long window) {
        return Math.min(MAX_WINDOW_NANOS, Math.max(GROW_START_NANOS, window * 2));
    }

    static long shrunk(long window) {
        long half = window / 2;
        return half < MIN_WINDOW_NANOS ? 0 : half;
    }

    long window() {
        return window;
    }
}
