package io.clonetarget.storage.device;

import static io.clonetarget.storage.device.LatencyGuard.LIMIT_NANOS;
import static io.clonetarget.storage.device.LatencyGuard.MAX_BACKOFF_NANOS;
import static io.clonetarget.storage.device.LatencyGuard.MIN_BACKOFF_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatencyGuardTest {
    private static final long SLOW = LIMIT_NANOS + 1;

    @Test
    void fastTransfersKeepItOpen() {
        LatencyGuard guard = new LatencyGuard(0);
        for (long t = 0; t < 1_000_000; t += 1000) {
            assertTrue(guard.open(t));
            assertEquals(0, guard.record(t, LIMIT_NANOS));
        }
    }

    @Test
    void oneSlowTransferClosesItForTheShortestBackoffOnly() {
        // the first write into a new file took 8 ms in the benchmark; that must not cost 10 s
        LatencyGuard guard = new LatencyGuard(0);
        assertEquals(MIN_BACKOFF_NANOS, guard.record(100, 8_000_000));
        long reopens = 100 + 8_000_000 + MIN_BACKOFF_NANOS;
        assertFalse(guard.open(reopens - 1));
        assertTrue(guard.open(reopens));
        assertEquals(0, guard.record(reopens, 50_000));
        assertEquals(MIN_BACKOFF_NANOS, guard.record(reopens + 1, SLOW), "a fast transfer resets the back-off");
    }

    @Test
    void slowAgainAfterEachBackoffDoublesItUpToTheMaximum() {
        LatencyGuard guard = new LatencyGuard(0);
        long t = 0;
        long expected = MIN_BACKOFF_NANOS;
        for (int i = 0; i < 10; i++) {
            assertTrue(guard.open(t), "open again after the back-off, try " + i);
            assertEquals(expected, guard.record(t, SLOW), "back-off after slow try " + i);
            t += SLOW + expected;
            assertFalse(guard.open(t - 1));
            expected = Math.min(expected * 2, MAX_BACKOFF_NANOS);
        }
        assertEquals(MAX_BACKOFF_NANOS, expected);
    }

    @Test
    void timesAcrossTheWrapOfTheNanosecondCounterCompareByDifference() {
        long start = Long.MAX_VALUE - 10;
        LatencyGuard guard = new LatencyGuard(start);
        assertTrue(guard.open(start));
        guard.record(start, SLOW);
        assertFalse(guard.open(start + SLOW + MIN_BACKOFF_NANOS - 1)); // wrapped past MAX_VALUE
        assertTrue(guard.open(start + SLOW + MIN_BACKOFF_NANOS));
    }
}
