package io.clonetarget.server.session;

import io.clonetarget.server.log.LogContext;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.OutboundPdu;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.target.LunAddress;
import io.clonetarget.server.target.TargetNode;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Task management functions (RFC 7143 section 11.5). Each request runs on a background thread:
 * it may wait for running commands to finish, and the reader must keep serving the connection
 * meanwhile. A response is sent only after every affected task has either been answered or
 * will never be, so an initiator never sees a status after FUNCTION COMPLETE of its abort.
 */
final class TaskManagement {
    private static final Logger LOG = LoggerFactory.getLogger(TaskManagement.class);
    static final int ABORT_TASK = 1;
    static final int ABORT_TASK_SET = 2;
    static final int CLEAR_ACA = 3;
    static final int CLEAR_TASK_SET = 4;
    static final int LOGICAL_UNIT_RESET = 5;
    static final int TARGET_WARM_RESET = 6;
    static final int TARGET_COLD_RESET = 7;
    static final int TASK_REASSIGN = 8;

    static final int FUNCTION_COMPLETE = 0;
    static final int TASK_DOES_NOT_EXIST = 1;
    static final int LUN_DOES_NOT_EXIST = 2;
    static final int REASSIGNMENT_NOT_SUPPORTED = 4;
    static final int FUNCTION_NOT_SUPPORTED = 5;
    static final int FUNCTION_REJECTED = 255;

    private final Connection connection;
    private final Session session;
    private final ServerContext context;
    private final Outbox outbox;

    TaskManagement(Connection connection, Session session, ServerContext context, Outbox outbox) {
        this.connection = connection;
        this.session = session;
        this.context = context;
        this.outbox = outbox;
    }

    /** Called on the reader thread once the request's turn in CmdSN order has come. */
    void request(ByteBuffer bhs) {
        int function = Bhs.flags(bhs) & 0x7f;
        int itt = Bhs.itt(bhs);
        long lunField = Bhs.lun(bhs);
        int referenced = bhs.getInt(20);
        int refCmdSn = bhs.getInt(32);
        String sessionContext = session.logContext();
        context.background().execute(() -> {
            LogContext.connection(connection.id(), sessionContext);
            try {
                perform(function, itt, lunField, referenced, refCmdSn);
            } catch (RuntimeException e) {
                LOG.error("task management function {} failed", function, e);
                outbox.send(Pdus.tmfResponse(itt, FUNCTION_REJECTED));
            } finally {
                LogContext.clear();
            }
        });
    }

    private void perform(int function, int itt, long lunField, int referenced, int refCmdSn) {
        int lun = LunAddress.decode(lunField);
        TargetNode target = session.target();
        int response;
        Runnable after = null;
        switch (function) {
            case ABORT_TASK -> {
                response = abortTask(referenced, refCmdSn);
                if (response < 0) {
                    stuck(function);
                    return;
                }
            }
            case ABORT_TASK_SET, CLEAR_TASK_SET -> {
                List<Session> scope = function == ABORT_TASK_SET ? List.of(session) : context.sessions().of(target);
                LogicalUnit unit = target.lun(session.initiatorName(), lun);
                if (!await(unit == null ? abortWhere(List.of(session), lun) : abortWhere(scope, unit))) {
                    stuck(function);
                    return;
                }
                response = FUNCTION_COMPLETE;
            }
            case LOGICAL_UNIT_RESET -> {
                LogicalUnit unit = target.lun(session.initiatorName(), lun);
                if (unit == null) {
                    response = LUN_DOES_NOT_EXIST;
                } else {
                    if (!await(abortWhere(context.sessions().of(target), unit))) {
                        stuck(function);
                        return;
                    }
                    unit.reset(session.nexus());
                    response = FUNCTION_COMPLETE;
                }
            }
            case TARGET_WARM_RESET, TARGET_COLD_RESET -> {
                // the units this initiator can see, not other hosts' masked ones (SAM: the reset is of
                // the logical units accessible to the I_T nexus)
                java.util.Set<LogicalUnit> visible = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
                target.luns(session.initiatorName()).values().forEach(e -> visible.add(e.unit()));
                List<CompletableFuture<Void>> waits = new ArrayList<>();
                for (LogicalUnit unit : visible) {
                    waits.addAll(abortWhere(context.sessions().of(target), unit));
                }
                if (!await(waits)) {
                    stuck(function);
                    return;
                }
                for (LogicalUnit unit : visible) {
                    unit.reset(session.nexus());
                }
                response = FUNCTION_COMPLETE;
                if (function == TARGET_COLD_RESET) {
                    after = () -> {
                        for (Session s : context.sessions().of(target)) {
                            Connection c = s.connection;
                            if (c != null) {
                                c.close("target cold reset");
                            }
                        }
                    };
                }
            }
            case CLEAR_ACA -> response = FUNCTION_NOT_SUPPORTED;
            case TASK_REASSIGN -> response = REASSIGNMENT_NOT_SUPPORTED;
            default -> response = FUNCTION_REJECTED;
        }
        LOG.info("task management function {} on LUN {}: response {}", function, lun, response);
        OutboundPdu pdu = Pdus.tmfResponse(itt, response);
        if (after != null) {
            pdu.then(after);
        }
        outbox.send(pdu);
    }

    /**
     * Storage has not given back an aborted command within the wait: answering now would promise
     * that it can no longer change anything, which a write still inside storage can. So there is
     * no answer; the connection is closed (the initiator recovers by logging in again, and the new
     * session's commands wait for the old session's, see {@link Session}).
     */
    private void stuck(int function) {
        LOG.warn("task management function {}: commands still in storage {} s after their abort; closing the "
                + "connection instead of answering", function, context.timeouts().taskWait().toSeconds());
        connection.close("task management could not complete: storage still holds aborted commands");
    }

    /** The response to ABORT TASK, or -1 when storage did not give the task back in time. */
    private int abortTask(int referenced, int refCmdSn) {
        IscsiTask task = session.tasks.get(referenced);
        if (task == null) {
            // RFC 7143 section 11.5.1: a task not yet received is considered aborted
            boolean notYetReceived = CommandSequencer.compare(refCmdSn, session.sequencer().expCmdSn()) >= 0
                    && CommandSequencer.compare(refCmdSn, session.sequencer().maxCmdSn()) <= 0;
            return notYetReceived ? FUNCTION_COMPLETE : TASK_DOES_NOT_EXIST;
        }
        if (!Session.abort(task)) {
            return TASK_DOES_NOT_EXIST;
        }
        if (!await(List.of(task.finished))) {
            return -1;
        }
        return task.state.get() == IscsiTask.State.ABORTED ? FUNCTION_COMPLETE : TASK_DOES_NOT_EXIST;
    }

    /**
     * Aborts the tasks of the sessions addressed to one logical unit, whatever number each
     * session's LUN map gives it (initiators may see it under different numbers).
     */
    private static List<CompletableFuture<Void>> abortWhere(List<Session> sessions, LogicalUnit unit) {
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        for (Session s : sessions) {
            for (IscsiTask t : s.tasks.values()) {
                if (s.target().lun(s.initiatorName(), t.lun) == unit) {
                    Session.abort(t);
                    waits.add(t.finished);
                }
            }
        }
        return waits;
    }

    /** Aborts the tasks of the sessions addressed to LUN number {@code lun} (-1: all LUNs). */
    private static List<CompletableFuture<Void>> abortWhere(List<Session> sessions, int lun) {
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        for (Session s : sessions) {
            for (IscsiTask t : s.tasks.values()) {
                if (lun < 0 || t.lun == lun) {
                    Session.abort(t);
                    waits.add(t.finished);
                }
            }
        }
        return waits;
    }

    /** Waits for the aborted commands to be given back; false when storage still holds some after the wait. */
    private boolean await(List<CompletableFuture<Void>> waits) {
        long wait = context.timeouts().taskWait().toMillis();
        try {
            CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).get(wait, TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }
}
