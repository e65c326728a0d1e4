package io.clonetarget.server.session;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Who may connect: counts connections in all, per source address, and those still logging in,
 * against {@link ConnectionLimits}. When a new connection would pass a limit, the connection that
 * has been waiting longest to log in (in the same scope) is closed to make room; logged-in
 * sessions are never closed for a newcomer, and when there is no one to close the newcomer is
 * refused. Thread-safe (one lock; nothing slow happens under it).
 */
final class Admission {
    private final ConnectionLimits limits;
    private final LinkedHashSet<Connection> pending = new LinkedHashSet<>();
    private final Map<InetAddress, Integer> perAddress = new HashMap<>();
    private int total;
    private long evicted;
    private long refused;

    Admission(ConnectionLimits limits) {
        this.limits = limits;
    }

    /** The outcome of {@link #admit}: whether the connection may go on, and whom to close for it. */
    record Verdict(boolean admitted, List<Connection> evict) {
    }

    synchronized Verdict admit(Connection c) {
        InetAddress address = c.remote().getAddress();
        List<Connection> evict = new ArrayList<>();
        while (total >= limits.maxConnections() || pending.size() >= limits.maxPendingLogins()
                || perAddress.getOrDefault(address, 0) >= limits.maxPerAddress()) {
            boolean addressFull = perAddress.getOrDefault(address, 0) >= limits.maxPerAddress();
            Connection victim = oldestPending(addressFull ? address : null);
            if (victim == null) {
                refused++;
                return new Verdict(false, evict);
            }
            forget(victim);
            evict.add(victim);
            evicted++;
        }
        pending.add(c);
        perAddress.merge(address, 1, Integer::sum);
        total++;
        c.admitted = true;
        return new Verdict(true, evict);
    }

    private Connection oldestPending(InetAddress address) {
        for (Iterator<Connection> it = pending.iterator(); it.hasNext(); ) {
            Connection c = it.next();
            if (address == null || c.remote().getAddress().equals(address)) {
                return c;
            }
        }
        return null;
    }

    /** The connection completed login: it is no longer one to close for a newcomer. */
    synchronized void loggedIn(Connection c) {
        pending.remove(c);
    }

    /** The connection closed (or was evicted; counted once). */
    synchronized void closed(Connection c) {
        if (c.admitted) {
            forget(c);
        }
    }

    private void forget(Connection c) {
        if (!c.admitted) {
            return;
        }
        c.admitted = false;
        pending.remove(c);
        perAddress.computeIfPresent(c.remote().getAddress(), (a, n) -> n > 1 ? n - 1 : null);
        total--;
    }

    synchronized int total() {
        return total;
    }

    synchronized int pending() {
        return pending.size();
    }

    synchronized long evicted() {
        return evicted;
    }

    synchronized long refused() {
        return refused;
    }
}
