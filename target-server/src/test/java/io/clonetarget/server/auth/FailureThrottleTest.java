package io.clonetarget.server.auth;

import static io.clonetarget.server.auth.FailureThrottle.FORGET_NANOS;
import static io.clonetarget.server.auth.FailureThrottle.MAX_KEYS;
import static io.clonetarget.server.auth.FailureThrottle.MAX_PENALTY_NANOS;
import static io.clonetarget.server.auth.FailureThrottle.MAX_WAIT_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.ManualClock;
import org.junit.jupiter.api.Test;

class FailureThrottleTest {
    private static final long S = 1_000_000_000L;
    private final ManualClock clock = new ManualClock();
    private final FailureThrottle throttle = new FailureThrottle(clock, FailureThrottle.TYPING_FAILURES);

    private void fail(String address, String name, int times) {
        for (int i = 0; i < times; i++) {
            throttle.failed(address, name);
        }
    }

    @Test
    void theFirstFailuresAreFreeThenThePenaltyDoublesUpToItsCap() {
        assertEquals(0, throttle.penalty(0));
        assertEquals(0, throttle.penalty(2));
        assertEquals(S, throttle.penalty(3));
        assertEquals(2 * S, throttle.penalty(4));
        assertEquals(4 * S, throttle.penalty(5));
        assertEquals(MAX_PENALTY_NANOS, throttle.penalty(6));
        assertEquals(MAX_PENALTY_NANOS, throttle.penalty(Integer.MAX_VALUE));
    }

    @Test
    void parallelAttemptsFromOneAddressAreSerialisedAndTheFarOnesRefusedUnchecked() throws Exception {
        fail("198.51.100.1", null, 7); // penalty 8 s per turn
        // many connections at once, each with a new initiator name: the address still spaces them
        assertEquals(8 * S, throttle.reserve("198.51.100.1", "iqn.x:1"));
        assertEquals(-1, throttle.reserve("198.51.100.1", "iqn.x:2"), "the next turn, 16 s away (beyond 15 s), is refused");
        clock.advance(8 * S);
        assertEquals(8 * S, throttle.reserve("198.51.100.1", "iqn.x:3"), "once the first turn came, the next is 8 s on");
        assertEquals(false, throttle.awaitTurn("198.51.100.1", "iqn.x:4"));
        assertEquals(0, clock.slept(), "refused without waiting");
        assertEquals(0, throttle.reserve("203.0.113.9", "iqn.x:5"), "another address is not held up");
    }

    @Test
    void withoutFreeFailuresTheFirstOneCostsASecond() {
        FailureThrottle strict = new FailureThrottle(clock, 0);
        assertEquals(0, strict.penaltyNanos("198.51.100.1"));
        strict.failed("198.51.100.1", null);
        assertEquals(S, strict.penaltyNanos("198.51.100.1"));
        assertEquals(S, strict.reserve("198.51.100.1", null));
    }

    @Test
    void theInitiatorNameIsAKeyOfItsOwn() {
        fail("198.51.100.1", "iqn.victim", 3);
        assertEquals(S, throttle.reserve("203.0.113.9", "iqn.victim"), "the same name from elsewhere waits too");
    }

    @Test
    void aSuccessClearsTheNameButNotTheAddress() {
        fail("198.51.100.1", "iqn.a", 4);
        throttle.succeeded("iqn.a");
        assertEquals(0, throttle.reserve("203.0.113.9", "iqn.a"));
        assertTrue(throttle.reserve("198.51.100.1", "iqn.b") > 0, "the address keeps its count");
        assertEquals(4, throttle.failures("198.51.100.1"));
    }

    @Test
    void failuresAreForgottenAfterTenQuietMinutes() throws Exception {
        fail("198.51.100.1", null, 6);
        clock.advance(FORGET_NANOS - 1);
        assertEquals(6, throttle.failures("198.51.100.1"));
        clock.advance(2);
        assertEquals(0, throttle.failures("198.51.100.1"));
        assertEquals(0, throttle.reserve("198.51.100.1", null));
    }

    @Test
    void aFloodOfInventedNamesCostsBoundedMemoryAndKeepsTheBusyAddress() {
        for (int i = 0; i < 3 * MAX_KEYS; i++) {
            throttle.failed("198.51.100.1", "iqn.invented:" + i);
        }
        assertEquals(3 * MAX_KEYS, throttle.failures("198.51.100.1"), "the address, used every time, stays");
        assertTrue(throttle.size() <= MAX_KEYS, "keys remembered: " + throttle.size());
        assertTrue(throttle.reserve("198.51.100.1", null) <= MAX_WAIT_NANOS);
    }
}
