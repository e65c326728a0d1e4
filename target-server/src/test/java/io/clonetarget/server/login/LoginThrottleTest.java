package io.clonetarget.server.login;

import static io.clonetarget.server.login.LoginThrottle.FORGET_NANOS;
import static io.clonetarget.server.login.LoginThrottle.MAX_KEYS;
import static io.clonetarget.server.login.LoginThrottle.MAX_PENALTY_NANOS;
import static io.clonetarget.server.login.LoginThrottle.MAX_WAIT_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.login.LoginTest.FakeClock;
import org.junit.jupiter.api.Test;

class LoginThrottleTest {
    private static final long S = 1_000_000_000L;
    private final FakeClock clock = new FakeClock();
    private final LoginThrottle throttle = new LoginThrottle(clock);

    private void fail(String address, String name, int times) {
        for (int i = 0; i < times; i++) {
            throttle.failed(address, name);
        }
    }

    @Test
    void theFirstFailuresAreFreeThenThePenaltyDoublesUpToItsCap() {
        assertEquals(0, LoginThrottle.penalty(0));
        assertEquals(0, LoginThrottle.penalty(2));
        assertEquals(S, LoginThrottle.penalty(3));
        assertEquals(2 * S, LoginThrottle.penalty(4));
        assertEquals(4 * S, LoginThrottle.penalty(5));
        assertEquals(MAX_PENALTY_NANOS, LoginThrottle.penalty(6));
        assertEquals(MAX_PENALTY_NANOS, LoginThrottle.penalty(Integer.MAX_VALUE));
    }

    @Test
    void parallelAttemptsFromOneAddressAreSerialisedAndTheFarOnesRefusedUnchecked() throws Exception {
        fail("198.51.100.1", null, 7); // penalty 8 s per turn
        // many connections at once, each with a new initiator name: the address still spaces them
        assertEquals(8 * S, throttle.reserve("198.51.100.1", "iqn.x:1"));
        assertEquals(-1, throttle.reserve("198.51.100.1", "iqn.x:2"), "the next turn, 16 s away (beyond 15 s), is refused");
        clock.sleepNanos(8 * S);
        assertEquals(8 * S, throttle.reserve("198.51.100.1", "iqn.x:3"), "once the first turn came, the next is 8 s on");
        clock.slept = 0;
        LoginException e = assertThrows(LoginException.class, () -> throttle.awaitTurn("198.51.100.1", "iqn.x:4"));
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, e.status());
        assertEquals(0, clock.slept, "refused without waiting");
        assertEquals(0, throttle.reserve("203.0.113.9", "iqn.x:5"), "another address is not held up");
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
        clock.sleepNanos(FORGET_NANOS - 1);
        assertEquals(6, throttle.failures("198.51.100.1"));
        clock.sleepNanos(2);
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
