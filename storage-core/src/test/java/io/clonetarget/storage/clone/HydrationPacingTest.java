package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.ManualClock;
import io.clonetarget.storage.time.Rates;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Pacing and rates on a clock the test owns: the hydrator runs as fast as it can, and the
 * virtual time its rate limiter slept says how long it would have taken at the limit.
 */
class HydrationPacingTest {
    static final long REGION = 64 * 1024;
    static final long SIZE = 128 * REGION;
    static final long RATE = 1 << 20;

    /** Seconds of virtual time hydration took, after {@code prepare} ran on the paused clone. */
    private static double hydrate(boolean fragmented) throws Exception {
        ManualClock clock = new ManualClock();
        HydrationSettings s = new HydrationSettings(2, 16, RATE, true, Duration.ofMillis(50), Duration.ofMillis(400));
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, s, clock)) {
            if (fragmented) {
                // every other region written whole, as random user writes leave a clone: batches of one region
                for (long r = 0; r < SIZE / REGION; r += 2) {
                    f.volume.write(r * REGION, ByteBuffer.allocateDirect((int) REGION), false);
                }
            }
            long copyBytes = SIZE - f.volume.status().hydratedBytes();
            long start = clock.nanoTime();
            f.volume.resume();
            f.awaitHydrated(Duration.ofSeconds(30));
            double seconds = (clock.nanoTime() - start) / 1e9;
            assertEquals(copyBytes, f.volume.hydrator().copiedBytes());
            return seconds * RATE / copyBytes; // 1.0: exactly at the rate
        }
    }

    @Test
    void aFragmentedCloneHydratesAtItsRateNotAFractionOfIt() throws Exception {
        double ratio = hydrate(true);
        // at most one second of credit (a quarter of the 4 s this takes) and the last batch's own time
        assertTrue(ratio > 0.70 && ratio < 1.05, "virtual time / time at the rate = " + ratio
                + " (pacing by whole batches made it about 16)");
    }

    @Test
    void aFreshCloneHydratesAtItsRate() throws Exception {
        double ratio = hydrate(false);
        assertTrue(ratio > 0.80 && ratio < 1.05, "virtual time / time at the rate = " + ratio);
    }

    @Test
    void largeBatchesOfLargeRegionsArePacedExactly() {
        ManualClock clock = new ManualClock();
        RateLimiter limiter = new RateLimiter(clock, 1_000_000_000L);
        long batch = 16L << 30; // 16 regions of 1 GiB: bytes * 10^9 does not fit a long
        limiter.charge(batch);
        limiter.charge(batch);
        long before = clock.slept();
        try {
            limiter.awaitTurn();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        // two batches of 17.18 s each (no credit: the limiter was never idle)
        assertEquals(2 * 17_179_869_184L, clock.slept() - before);
        // idle for a minute: one second of credit, no more
        clock.advance(60 * Rates.NANOS_PER_SECOND);
        limiter.charge(2_000_000_000L);
        long idle = clock.slept();
        try {
            limiter.awaitTurn();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertEquals(Rates.NANOS_PER_SECOND, clock.slept() - idle, "2 s of copy, 1 s of it credited");
    }

    @Test
    void anAbsurdlySlowRateWaitsLongButNeverWraps() throws InterruptedException {
        ManualClock clock = new ManualClock();
        RateLimiter limiter = new RateLimiter(clock, 1);
        for (int i = 0; i < 4; i++) {
            limiter.charge(Long.MAX_VALUE / 2);
        }
        limiter.awaitTurn();
        assertEquals(RateLimiter.MAX_WAIT, clock.slept(), "capped at the longest wait, not negative");
    }

    @Test
    void theRateIsExactPastNineExabytesTimesNanoseconds() {
        ManualClock clock = new ManualClock();
        RateMeter meter = new RateMeter(clock);
        for (int s = 0; s <= 10; s++) {
            meter.sample();
            meter.add(20_000_000_000L); // 20 GB a second: 200 GB in the window
            clock.advance(Rates.NANOS_PER_SECOND);
        }
        assertEquals(20_000_000_000L, meter.rate());
        assertEquals(Long.MAX_VALUE, Rates.mulDiv(Long.MAX_VALUE, Long.MAX_VALUE, 1), "saturates");
        assertEquals(Long.MAX_VALUE / 3, Rates.mulDiv(Long.MAX_VALUE, 1_000, 3_000));
    }
}
