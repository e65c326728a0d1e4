package io.clonetarget.server.pdu;

import static io.clonetarget.server.pdu.ReceivePolling.GROW_BELOW_NANOS;
import static io.clonetarget.server.pdu.ReceivePolling.GROW_START_NANOS;
import static io.clonetarget.server.pdu.ReceivePolling.SHRINK_AFTER;
import static io.clonetarget.server.pdu.ReceivePolling.MAX_WINDOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ReceivePollingTest {
    /** Time for these tests: each look at the clock moves it by 1 us, and tests move it further. */
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    private long tick() {
        return now.addAndGet(1_000);
    }

    /** Misses the window, then lets {@code nanos} pass (the blocking read) before the data "comes". */
    private void missAndWait(ReceivePolling polling, long nanos) throws Exception {
        long start = now.get();
        polling.beforeBlockingRead();
        now.set(start + nanos + 1);
        polling.read();
    }

    @Test
    void windowsGrowFromTheStartToTheMaximumAndHalveToNothing() {
        assertEquals(GROW_START_NANOS, ReceivePolling.grown(0));
        assertEquals(2 * GROW_START_NANOS, ReceivePolling.grown(GROW_START_NANOS));
        assertEquals(MAX_WINDOW_NANOS, ReceivePolling.grown(MAX_WINDOW_NANOS));
        long w = MAX_WINDOW_NANOS;
        int halvings = 0;
        while (w > 0) {
            w = ReceivePolling.shrunk(w);
            halvings++;
        }
        assertEquals(6, halvings);
    }

    @Test
    void aWindowPollsUntilItEndsAndNoLonger() throws Exception {
        AtomicInteger probes = new AtomicInteger();
        ReceivePolling polling = new ReceivePolling(() -> {
            probes.incrementAndGet();
            return 0;
        }, this::tick);
        polling.beforeBlockingRead();
        // 1 us per look at the clock, two looks per probe (loop condition, and the first at the start)
        assertTrue(probes.get() >= MAX_WINDOW_NANOS / 2_000 - 1 && probes.get() <= MAX_WINDOW_NANOS / 1_000,
                "probes in a 50 us window: " + probes.get());
    }

    @Test
    void anIdleConnectionStopsPollingAndABusyOneStartsAgain() throws Exception {
        ReceivePolling polling = new ReceivePolling(() -> 0, this::tick);
        int misses = 0;
        while (polling.window() > 0) {
            missAndWait(polling, 2 * GROW_BELOW_NANOS); // the next PDU comes long after
            misses++;
            assertTrue(misses <= 6 * SHRINK_AFTER, "still polling after " + misses + " long waits");
        }
        assertEquals(6 * SHRINK_AFTER, misses);
        polling.beforeBlockingRead();
        polling.read(); // at once: well within GROW_BELOW
        assertEquals(GROW_START_NANOS, polling.window(), "a short wait starts polling again");
    }

    @Test
    void pollingEndsAsSoonAsDataIsThereAndKeepsTheWindow() throws Exception {
        AtomicInteger probes = new AtomicInteger();
        ReceivePolling polling = new ReceivePolling(() -> probes.incrementAndGet() >= 3 ? 48 : 0, this::tick);
        polling.beforeBlockingRead();
        polling.read();
        assertEquals(3, probes.get(), "polled until the data came, then stopped");
        assertEquals(MAX_WINDOW_NANOS, polling.window());
    }

    @Test
    void aHitResetsTheCountOfLongMisses() throws Exception {
        AtomicInteger ready = new AtomicInteger();
        ReceivePolling polling = new ReceivePolling(ready::get, this::tick);
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < SHRINK_AFTER - 1; i++) {
                missAndWait(polling, 2 * GROW_BELOW_NANOS);
            }
            ready.set(48);
            polling.beforeBlockingRead();
            polling.read();
            ready.set(0);
        }
        assertEquals(MAX_WINDOW_NANOS, polling.window(), "never " + SHRINK_AFTER + " long misses in a row");
    }
}
