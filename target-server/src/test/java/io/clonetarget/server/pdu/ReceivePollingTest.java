package io.clonetarget.server.pdu;

import static io.clonetarget.server.pdu.ReceivePolling.GROW_BELOW_NANOS;
import static io.clonetarget.server.pdu.ReceivePolling.GROW_START_NANOS;
import static io.clonetarget.server.pdu.ReceivePolling.SHRINK_AFTER;
import static io.clonetarget.server.pdu.ReceivePolling.MAX_WINDOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ReceivePollingTest {
    /** Misses the window, then lets {@code nanos} pass before the data "comes". */
    private static void missAndWait(ReceivePolling polling, long nanos) throws Exception {
        long start = System.nanoTime();
        polling.beforeBlockingRead();
        while (System.nanoTime() - start <= nanos) {
            Thread.onSpinWait(); // the blocking read
        }
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
    void anIdleConnectionStopsPollingAndABusyOneStartsAgain() throws Exception {
        ReceivePolling polling = new ReceivePolling(() -> 0);
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
        ReceivePolling polling = new ReceivePolling(() -> probes.incrementAndGet() >= 3 ? 48 : 0);
        polling.beforeBlockingRead();
        polling.read();
        assertEquals(3, probes.get(), "polled until the data came, then stopped");
        assertEquals(MAX_WINDOW_NANOS, polling.window());
    }

    @Test
    void aHitResetsTheCountOfLongMisses() throws Exception {
        AtomicInteger ready = new AtomicInteger();
        ReceivePolling polling = new ReceivePolling(ready::get);
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
