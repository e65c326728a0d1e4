package io.clonetarget.server.session;

import io.clonetarget.server.target.TargetNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** All sessions of the server, by TSIH. Thread-safe. */
public final class SessionRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(SessionRegistry.class);
    private final Map<Integer, Session> sessions = new ConcurrentHashMap<>();
    private int nextTsih = 1;

    /** A TSIH not in use (1..65535). */
    synchronized int allocateTsih() {
        for (int i = 0; i < 65535; i++) {
            int candidate = nextTsih;
            nextTsih = nextTsih == 65535 ? 1 : nextTsih + 1;
            if (!sessions.containsKey(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no free TSIH");
    }

    /**
     * Adds a session; an existing session with the same initiator, ISID and target is closed
     * first (session reinstatement, RFC 7143 section 6.3.5): its tasks are aborted at once, and
     * the new session's commands wait for those of them already in storage to come out of it
     * ({@link Session#after}), so none of the old session's writes lands after a new one. The
     * login itself does not wait: it completes while storage is still slow.
     */
    void add(Session session) {
        String targetName = session.target() == null ? null : session.target().name();
        for (Session old : sessions.values()) {
            if (old.sameIdentity(session.initiatorName(), session.isid(), targetName)) {
                LOG.info("reinstating session {}: closing the old one (tsih={}, {} tasks)", session, old.tsih(),
                        old.activeTasks());
                session.after(java.util.concurrent.CompletableFuture.allOf(session.predecessors(),
                        old.tasksDone(lun -> true), old.predecessors()));
                Connection c = old.connection;
                if (c != null) {
                    c.close("session reinstatement");
                }
                sessions.remove(old.tsih(), old);
            }
        }
        sessions.put(session.tsih(), session);
    }

    void remove(Session session) {
        sessions.remove(session.tsih(), session);
    }

    public Session get(int tsih) {
        return sessions.get(tsih);
    }

    public List<Session> all() {
        return new ArrayList<>(sessions.values());
    }

    /** Sessions logged in to a target. */
    public List<Session> of(TargetNode target) {
        List<Session> list = new ArrayList<>();
        for (Session s : sessions.values()) {
            if (s.target() == target) {
                list.add(s);
            }
        }
        return list;
    }

    public int size() {
        return sessions.size();
    }
}
