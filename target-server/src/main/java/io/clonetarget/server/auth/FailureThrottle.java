package io.clonetarget.server.auth;

import io.clonetarget.storage.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Slows down guessing. Every attempt that fails on who the client is (for a login: a wrong CHAP
 * response, an initiator name a target does not admit, a target name that does not exist; for
 * the admin API: a wrong token) counts against its source address and, where there is one, the
 * name it claimed (the initiator name). After a number of free failures (3 for logins, where
 * people type secrets; none for tokens, which are pasted), each further
 * check for that key takes a turn: turns are spaced by a penalty that starts at 1 s and doubles
 * per failure up to {@link #MAX_PENALTY_NANOS}, so guesses from one address are serialised
 * however many connections it opens, and a correct guess waits its turn like a wrong one. An
 * attempt whose turn would come later than {@link #MAX_WAIT_NANOS} is refused without being
 * checked. A key's failures are forgotten {@link #FORGET_NANOS} after its last one; a success
 * clears the initiator name's count (not the address's: an attacker holding valid credentials
 * for one target must not buy free guesses at another).
 *
 * <p>At most {@value #MAX_KEYS} keys are remembered (least recently used go first), so a
 * flood of invented names costs bounded memory. Thread-safe: one lock; waiting happens outside
 * it, on the login's own (virtual) thread.
 */
public final class FailureThrottle {
    /** Failures without a penalty where people type what they prove (CHAP secrets). */
    public static final int TYPING_FAILURES = 3;
    static final long FIRST_PENALTY_NANOS = 1_000_000_000L;
    static final long MAX_PENALTY_NANOS = 8_000_000_000L;
    static final long MAX_WAIT_NANOS = 15_000_000_000L;
    static final long FORGET_NANOS = 600_000_000_000L;
    static final int MAX_KEYS = 4096;

    private static final class Turns {
        int failures;
        long lastFailure;
        long nextTurn;
    }

    private final Clock clock;
    private final int free;
    private final Map<String, Turns> entries = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Turns> eldest) {
            return size() > MAX_KEYS;
        }
    };

    /**
     * @param freeFailures failures a key may have before its attempts wait
     */
    public FailureThrottle(Clock clock, int freeFailures) {
        this.clock = clock;
        this.free = freeFailures;
    }

    /**
     * Waits for this attempt's turn to be checked.
     *
     * @return false when the turn is too far away: refuse the attempt without checking it
     * @throws InterruptedException when interrupted while waiting
     */
    public boolean awaitTurn(String address, String name) throws InterruptedException {
        long wait = reserve(address, name);
        if (wait < 0) {
            return false;
        }
        clock.sleepNanos(wait);
        return true;
    }

    /**
     * Reserves a turn for one attempt from these keys.
     *
     * @return nanoseconds until the turn, or -1 when it would be more than {@link #MAX_WAIT_NANOS}
     */
    synchronized long reserve(String address, String name) {
        long now = clock.nanoTime();
        Turns a = live(key("address", address), now);
        Turns n = live(key("initiator", name), now);
        long turn = now;
        for (Turns e : new Turns[] {a, n}) {
            if (e != null && e.nextTurn - turn > 0) {
                turn = e.nextTurn;
            }
        }
        if (turn - now > MAX_WAIT_NANOS) {
            return -1;
        }
        for (Turns e : new Turns[] {a, n}) {
            if (e != null) {
                e.nextTurn = turn + penalty(e.failures);
            }
        }
        return turn - now;
    }

    /** Counts a failed attempt against both keys. */
    public synchronized void failed(String address, String name) {
        long now = clock.nanoTime();
        for (String k : new String[] {key("address", address), key("initiator", name)}) {
            if (k == null) {
                continue;
            }
            Turns e = live(k, now);
            if (e == null) {
                e = new Turns();
                e.nextTurn = now;
                entries.put(k, e);
            }
            e.failures++;
            e.lastFailure = now;
            long next = now + penalty(e.failures);
            if (next - e.nextTurn > 0) {
                e.nextTurn = next;
            }
        }
    }

    /** A proven login: the initiator name's failures are forgotten. */
    public synchronized void succeeded(String name) {
        String k = key("initiator", name);
        if (k != null) {
            entries.remove(k);
        }
    }

    /** Failures remembered for an address (for tests and the admin view). */
    synchronized int failures(String address) {
        Turns e = live(key("address", address), clock.nanoTime());
        return e == null ? 0 : e.failures;
    }

    /** Sleeps on this throttle's clock (a refusal's delay). */
    public void sleep(long nanos) throws InterruptedException {
        clock.sleepNanos(nanos);
    }

    /** Keys remembered (for tests). */
    synchronized int size() {
        return entries.size();
    }

    /** How long the turn after {@code failures} failures waits for the one before it. */
    long penalty(int failures) {
        int first = Math.max(free, 1); // the failure that earns the first penalty
        if (failures < first) {
            return 0;
        }
        return Math.min(FIRST_PENALTY_NANOS << Math.min(failures - first, 4), MAX_PENALTY_NANOS);
    }

    /** The penalty an address has earned so far: what a refusal may wait before it is sent. */
    public synchronized long penaltyNanos(String address) {
        Turns e = live(key("address", address), clock.nanoTime());
        return e == null ? 0 : penalty(e.failures);
    }

    private Turns live(String key, long now) {
        if (key == null) {
            return null;
        }
        Turns e = entries.get(key);
        if (e != null && now - e.lastFailure > FORGET_NANOS && now - e.nextTurn >= 0) {
            entries.remove(key);
            return null;
        }
        return e;
    }

    private static String key(String kind, String value) {
        return value == null ? null : kind + ":" + value;
    }
}
