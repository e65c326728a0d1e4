package io.clonetarget.server.scsi;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Pending unit attention conditions of one logical unit, per I_T nexus (SAM-5 section 5.14).
 * A nexus becomes known with its first command; conditions established "for all" reach every
 * known nexus. Each queue holds distinct conditions, oldest first, and at most
 * {@value #MAX_QUEUED}; thread-safe.
 */
final class UnitAttentions {
    private static final int MAX_QUEUED = 16;
    private final Map<Nexus, ArrayDeque<Asc>> pending = new ConcurrentHashMap<>();

    /** Registers a nexus (on its first command). */
    void seen(Nexus nexus) {
        pending.computeIfAbsent(nexus, n -> new ArrayDeque<>());
    }

    void establish(Nexus nexus, Asc condition) {
        ArrayDeque<Asc> q = pending.computeIfAbsent(nexus, n -> new ArrayDeque<>());
        synchronized (q) {
            if (!q.contains(condition) && q.size() < MAX_QUEUED) {
                q.addLast(condition);
            }
        }
    }

    /** Establishes a condition for every known nexus except {@code except} (may be null). */
    void establishAll(Asc condition, Nexus except) {
        for (Nexus n : pending.keySet()) {
            if (!n.equals(except)) {
                establish(n, condition);
            }
        }
    }

    /** Establishes a condition for every known nexus that passes {@code which}. */
    void establishWhere(Asc condition, java.util.function.Predicate<Nexus> which) {
        for (Nexus n : pending.keySet()) {
            if (which.test(n)) {
                establish(n, condition);
            }
        }
    }

    /** Removes and returns the oldest condition for the nexus, or null. */
    Asc take(Nexus nexus) {
        ArrayDeque<Asc> q = pending.get(nexus);
        if (q == null) {
            return null;
        }
        synchronized (q) {
            return q.pollFirst();
        }
    }

    /** Returns the oldest condition without removing it, or null. */
    Asc peek(Nexus nexus) {
        ArrayDeque<Asc> q = pending.get(nexus);
        if (q == null) {
            return null;
        }
        synchronized (q) {
            return q.peekFirst();
        }
    }

    void forget(Nexus nexus) {
        pending.remove(nexus);
    }
}
