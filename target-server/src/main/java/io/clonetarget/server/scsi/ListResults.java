package io.clonetarget.server.scsi;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The results of the copy operations of a copy manager, per I_T nexus and list identifier, as
 * RECEIVE COPY RESULTS and RECEIVE ROD TOKEN INFORMATION return them: the last {@code kept} per
 * nexus (the oldest finished one forgotten first; with {@code kept} running, a new one is refused
 * with INSUFFICIENT RESOURCES), gone with the nexus. A list identifier whose operation is still
 * running cannot be used again (OPERATION IN PROGRESS). Thread-safe: every method holds
 * this object's monitor.
 */
final class ListResults<R> {
    private final int kept;
    private final Predicate<R> running;
    private final Map<Nexus, LinkedHashMap<Long, R>> byNexus = new HashMap<>();

    ListResults(int kept, Predicate<R> running) {
        this.kept = kept;
        this.running = running;
    }

    /** An operation with this list identifier starts; {@code started} is its result meanwhile. */
    synchronized void begin(Nexus nexus, long listId, R started) throws ScsiException {
        LinkedHashMap<Long, R> mine = byNexus.computeIfAbsent(nexus, n -> new LinkedHashMap<>());
        R r = mine.get(listId);
        if (r != null && running.test(r)) {
            throw ScsiException.check(Asc.OPERATION_IN_PROGRESS);
        }
        mine.remove(listId);
        if (mine.size() >= kept) {
            // forget the oldest finished one; a running one is never forgotten (its end would be lost)
            Long oldest = null;
            for (Map.Entry<Long, R> e : mine.entrySet()) {
                if (!running.test(e.getValue())) {
                    oldest = e.getKey();
                    break;
                }
            }
            if (oldest == null) {
                throw ScsiException.check(Asc.INSUFFICIENT_RESOURCES);
            }
            mine.remove(oldest);
        }
        mine.put(listId, started);
    }

    /** The operation ended with {@code result} (unless the nexus went away meanwhile). */
    synchronized void finish(Nexus nexus, long listId, R result) {
        LinkedHashMap<Long, R> mine = byNexus.get(nexus);
        if (mine != null && mine.containsKey(listId)) {
            mine.put(listId, result);
        }
    }

    /** The result for the list identifier, or null when this nexus has none. */
    synchronized R get(Nexus nexus, long listId) {
        LinkedHashMap<Long, R> mine = byNexus.get(nexus);
        return mine == null ? null : mine.get(listId);
    }

    synchronized void forget(Nexus nexus) {
        byNexus.remove(nexus);
    }
}
