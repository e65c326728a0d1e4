package io.clonetarget.server.session;

import io.clonetarget.server.log.LogText;
import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.metrics.SessionMetrics;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.DataBudget;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An iSCSI session: its identity (initiator name, ISID, TSIH), the target, the negotiated
 * parameters, the CmdSN window, and its tasks by initiator task tag. One connection.
 *
 * <p>Its public methods may be called from any thread (an administrator's, while commands run
 * on the session's own threads): what they send goes through the connection's outbox, which
 * numbers it in wire order with everything else.
 */
public final class Session {
    /** Most sense data an asynchronous SCSI event carries (SPC-4 caps sense data at 252 bytes). */
    static final int MAX_EVENT_SENSE = 252;
    /** Parameter3 of a logout request is two bytes of seconds. */
    static final int MAX_LOGOUT_SECONDS = 0xffff;
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
    /**
     * Set once the session's per-nexus state has been released in its logout: the close that
     * follows must not release it again, for a new session of the same initiator port (same
     * nexus) may hold new state by then.
     */
    volatile boolean nexusReleased;
    /**
     * Completes when every task the sessions this one reinstated had in storage has left it (set
     * once, at login, before any command of this session arrives; done at once otherwise).
     */
    private volatile java.util.concurrent.CompletableFuture<Void> predecessors =
            java.util.concurrent.CompletableFuture.completedFuture(null);

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

    /**
     * Tells the initiator about a SCSI event with an Asynchronous Message (AsyncEvent 0, RFC 7143
     * section 11.9.1), typically REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh) once a LUN was mapped or
     * unmapped: open-iscsi's iscsid rescans the host on it (when the node's session.scan is auto),
     * so a new LUN appears without a new login; libiscsi logs and ignores it. The message takes the
     * next StatSN, in wire order with the responses around it.
     *
     * <p>Thread-safe; never blocks on the initiator (the message is queued).
     *
     * @param lunField the 8-byte LUN field the event is about
     *     ({@link io.clonetarget.server.target.LunAddress#encode})
     * @param fixedSense the sense data, fixed format (70h), e.g.
     *     {@code SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed()}; copied before this returns
     * @return whether the message was queued: false for a discovery session, or when the
     *     connection is gone, still logging in, logging out or closed. "Logging in" lasts until
     *     the reader has written the final Login Response: a session is listed a moment before
     *     that, and an initiator asks for its LUNs after login anyway.
     * @throws IllegalArgumentException if the sense data is not 8 to 252 bytes of sense data
     *     (response code 70h to 73h)
     */
    public boolean sendScsiEvent(long lunField, byte[] fixedSense) {
        if (fixedSense.length < 8 || fixedSense.length > MAX_EVENT_SENSE || (fixedSense[0] & 0x7c) != 0x70) {
            throw new IllegalArgumentException("not sense data: " + fixedSense.length + " bytes, response code "
                    + (fixedSense.length == 0 ? "none" : Integer.toHexString(fixedSense[0] & 0x7f) + "h"));
        }
        Connection c = connection;
        if (discovery() || c == null) {
            return false;
        }
        return c.sendAsync(Pdus.asyncScsiEvent(lunField, fixedSense));
    }

    /**
     * Asks the initiator to log out (an Asynchronous Message with AsyncEvent 1, RFC 7143 section
     * 11.9.1) within {@code deadline}, sent as Parameter3 in whole seconds: rounded up, at least 1,
     * at most 65535. If the target has not accepted a Logout Request when that many seconds have
     * passed, the connection is closed (and why is logged). A Logout Request in time takes the
     * usual path: running tasks finish, the Logout Response goes out, the connection closes.
     * open-iscsi's iscsid and libiscsi both answer with a Logout (close the session) and then log
     * in again.
     *
     * <p>Thread-safe; never blocks on the initiator. The deadline runs on the server's timer and
     * is cancelled when the logout is accepted or the connection closes for any other reason.
     *
     * @param reason why, for the log
     * @return whether the request was sent: false for a discovery session (use {@link #end}), when
     *     the connection is gone, still logging in, logging out or closed, or when a request is
     *     already pending (its deadline stands)
     * @throws IllegalArgumentException if the deadline is negative
     */
    public boolean requestLogout(String reason, Duration deadline) {
        int seconds = logoutSeconds(deadline);
        Connection c = connection;
        if (discovery() || c == null) {
            return false;
        }
        return c.requestLogout(reason, seconds);
    }

    /** Parameter3 for a deadline: whole seconds, rounded up, 1..65535. */
    static int logoutSeconds(Duration deadline) {
        if (deadline.isNegative()) {
            throw new IllegalArgumentException("negative deadline " + deadline);
        }
        long seconds = deadline.toSeconds() + (deadline.toNanosPart() > 0 ? 1 : 0);
        return (int) Math.clamp(seconds, 1, MAX_LOGOUT_SECONDS);
    }

    public Instant created() {
        return created;
    }

    public int activeTasks() {
        return tasks.size();
    }

    /**
     * Completes when every task now running or queued for a LUN number that passes {@code lun}
     * has finished (tasks that arrive later are not waited for).
     */
    public java.util.concurrent.CompletableFuture<Void> tasksDone(java.util.function.IntPredicate lun) {
        java.util.List<java.util.concurrent.CompletableFuture<Void>> waits = new java.util.ArrayList<>();
        for (IscsiTask t : tasks.values()) {
            if (lun.test(t.lun)) {
                waits.add(t.finished);
            }
        }
        return java.util.concurrent.CompletableFuture.allOf(waits.toArray(java.util.concurrent.CompletableFuture[]::new));
    }

    /**
     * Makes this session's commands wait for {@code done}: the tasks of the session it reinstates
     * that may still reach storage. A write of the old session stuck in a slow device would
     * otherwise land after the new session's write of the same blocks, which the initiator
     * (reissuing after a timeout) assumes replaced it.
     */
    void after(java.util.concurrent.CompletableFuture<Void> done) {
        predecessors = done;
    }

    /** What this session's commands wait for before they run (see {@link #after}). */
    java.util.concurrent.CompletableFuture<Void> predecessors() {
        return predecessors;
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
