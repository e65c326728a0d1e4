package io.clonetarget.server.session;

import io.clonetarget.server.log.LogText;
import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.metrics.SessionMetrics;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.DataBudget;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An iSCSI session: its identity (initiator name, ISID, TSIH), the target, the negotiated
 * parameters, the CmdSN window, and its tasks by initiator task tag. One connection.
 */
public final class Session {
    private final long isid;
    private final int tsih;
    private final String initiatorName;
    private final String initiatorAlias;
    private final String authenticatedAs;
    private final TargetNode target;
    private final SessionParameters parameters;
    private final Nexus nexus;
    private final CommandSequencer sequencer;
    private final Instant created = Instant.now();
    private final DataBudget budget;
    private final String logContext;
    final Map<Integer, IscsiTask> tasks = new ConcurrentHashMap<>();
    private volatile SessionMetrics metrics = SessionMetrics.NONE;
    volatile Connection connection;

    Session(long isid, int tsih, String initiatorName, String initiatorAlias, String authenticatedAs, TargetNode target,
            SessionParameters parameters, CommandSequencer sequencer, int portalGroupTag, DataBudget budget) {
        this.budget = budget;
        sequencer.setPressure(budget::saturated); // the window stops growing while the budget is past its mark
        this.logContext = io.clonetarget.server.log.LogContext.session(isid, tsih);
        this.isid = isid;
        this.tsih = tsih;
        this.initiatorName = initiatorName;
        this.initiatorAlias = initiatorAlias;
        this.authenticatedAs = authenticatedAs;
        this.target = target;
        this.parameters = parameters;
        this.sequencer = sequencer;
        this.nexus = target == null ? null : Nexus.of(initiatorName, isid, target.name(), portalGroupTag);
    }

    public long isid() {
        return isid;
    }

    public int tsih() {
        return tsih;
    }

    public String initiatorName() {
        return initiatorName;
    }

    public String initiatorAlias() {
        return initiatorAlias;
    }

    /** Its counters; set once at login, closed when it ends. */
    public SessionMetrics metrics() {
        return metrics;
    }

    void setMetrics(SessionMetrics metrics) {
        this.metrics = metrics;
    }

    /** The CHAP user the initiator proved at login, or null when it proved none. */
    public String authenticatedAs() {
        return authenticatedAs;
    }

    /** The target, or null for a discovery session. */
    public TargetNode target() {
        return target;
    }

    public boolean discovery() {
        return target == null;
    }

    public SessionParameters parameters() {
        return parameters;
    }

    public Nexus nexus() {
        return nexus;
    }

    public CommandSequencer sequencer() {
        return sequencer;
    }

    /** The session's MDC value (ISID and TSIH), made once. */
    public String logContext() {
        return logContext;
    }

    /** The data buffers this session's commands may hold. */
    public DataBudget budget() {
        return budget;
    }

    /** Where the session's connection comes from (null once it is gone). */
    public java.net.InetSocketAddress remote() {
        Connection c = connection;
        return c == null ? null : c.remote();
    }

    /** Ends the session by closing its connection (an administrator's logout). */
    public void end(String reason) {
        Connection c = connection;
        if (c != null) {
            c.close(reason);
        }
    }

    public Instant created() {
        return created;
    }

    public int activeTasks() {
        return tasks.size();
    }

    /** Removes a finished or aborted task and frees its slot in the command window. */
    void retire(IscsiTask task) {
        if (tasks.remove(task.itt, task)) {
            sequencer.finished();
        }
        task.finished.complete(null);
    }

    /**
     * Asks for a task to be aborted, from any thread. A task still receiving data or queued is
     * aborted at once, decided by one compare-and-set (it never runs); its buffers stay with
     * their owner (the reader, or the command thread that finds it aborted), never touched here.
     * A running one is only asked, and its running thread decides and cleans up.
     *
     * @return false if the task already completed (its status is sent or on its way)
     */
    static boolean abort(IscsiTask task) {
        while (true) {
            IscsiTask.State s = task.state.get();
            switch (s) {
                case RECEIVING, READY -> {
                    if (task.state.compareAndSet(s, IscsiTask.State.ABORTED)) {
                        task.releaseReservation();
                        task.session.retire(task);
                        return true;
                    }
                }
                case RUNNING -> {
                    task.abortRequested = true;
                    return true;
                }
                case DONE -> {
                    return false;
                }
                case ABORTED -> {
                    return true;
                }
                default -> throw new IllegalStateException(s.toString());
            }
        }
    }

    /** Aborts every task of the session (connection loss, reinstatement). */
    void abortAll() {
        for (IscsiTask t : tasks.values()) {
            abort(t);
        }
    }

    /** Whether a new login with this identity reinstates (replaces) this session. */
    boolean sameIdentity(String initiator, long otherIsid, String targetName) {
        return isid == otherIsid && initiatorName.equals(initiator)
                && (target == null ? targetName == null : target.name().equals(targetName));
    }

    @Override
    public String toString() {
        return String.format("%s isid=%012x tsih=%d%s", LogText.of(initiatorName), isid, tsih,
                target == null ? " (discovery)" : " -> " + target.name());
    }
}
