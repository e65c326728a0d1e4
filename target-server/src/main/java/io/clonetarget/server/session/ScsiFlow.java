package io.clonetarget.server.session;

import io.clonetarget.server.log.LogContext;
import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.OutboundPdu;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduException;
import io.clonetarget.server.pdu.PduReader;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.metrics.LunMetrics;
import io.clonetarget.server.pdu.RejectReason;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.ScsiResult;
import io.clonetarget.server.scsi.ScsiStatus;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.target.LunAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SCSI commands on one connection: the SCSI Command PDU, immediate and unsolicited data, R2Ts
 * and solicited Data-Out (RFC 7143 sections 4.7 and 11.3-11.8), execution on the command
 * executor, and Data-In plus status.
 *
 * <p>Every rule of the data transfer is checked before a byte reaches storage: the W bit,
 * FirstBurstLength, the expected transfer length, DataSN, buffer offsets, target transfer
 * tags and burst lengths. A violation fails that command with CHECK CONDITION and the ABORTED
 * COMMAND sense RFC 7143 section 11.4.7.2 gives for it; the command never runs, its remaining
 * data is drained, and the connection goes on. Framing errors (digests, segment lengths) are
 * the connection's business and close it.
 *
 * <p>{@link #command} and {@link #dataOut} run on the reader thread; {@link #execute} on a
 * command thread.
 */
final class ScsiFlow {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiFlow.class);
    /**
     * Data a command may move, in or out, that is buffered: no command of ours takes more
     * (a WRITE at most 8 MiB, COMPARE AND WRITE 2 x 16 blocks). Beyond it nothing is allocated,
     * the data is drained, and the logical unit refuses the CDB.
     */
    static final long MAX_DATA = 16L << 20;
    /** Largest command tried on the reader thread. */
    static final int INLINE_MAX_BYTES = 256 * 1024;

    private final Connection connection;
    private final Session session;
    private final ServerContext context;
    private final SessionParameters params;
    private final PduReader reader;
    private final Outbox outbox;
    private final CommandSequencer sequencer;
    private int nextTtt = 1;

    ScsiFlow(Connection connection, Session session, ServerContext context, PduReader reader, Outbox outbox) {
        this.connection = connection;
        this.session = session;
        this.context = context;
        this.params = session.parameters();
        this.reader = reader;
        this.outbox = outbox;
        this.sequencer = session.sequencer();
    }

    /** Handles a SCSI Command PDU whose header was just read. */
    void command(ByteBuffer bhs) throws IOException, PduException {
        int flags = Bhs.flags(bhs);
        boolean fin = (flags & 0x80) != 0;
        boolean read = (flags & 0x40) != 0;
        boolean write = (flags & 0x20) != 0;
        boolean immediate = Bhs.immediate(bhs);
        int itt = Bhs.itt(bhs);
        long edtl = Integer.toUnsignedLong(bhs.getInt(Bhs.OFF_EDTL));
        int cmdSn = bhs.getInt(Bhs.OFF_CMDSN);
        long lunField = Bhs.lun(bhs);
        int dsl = reader.pendingDataLength();

        if (session.discovery()) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, false, "SCSI command on a discovery session");
        }
        if (itt == Bhs.RESERVED_TAG) {
            throw new PduException(RejectReason.INVALID_PDU_FIELD, false, "SCSI command with the reserved ITT");
        }
        if (session.tasks.containsKey(itt)) {
            throw new PduException(RejectReason.TASK_IN_PROGRESS, false,
                    String.format("ITT %08x is still in use", itt));
        }
        if (!sequencer.accepts(cmdSn, immediate)) {
            LOG.debug("ignoring command CmdSN {} outside the window (ExpCmdSN {}, MaxCmdSN {})",
                    cmdSn, sequencer.expCmdSn(), sequencer.maxCmdSn());
            reader.skipData();
            return;
        }

        ByteBuffer cdb = cdb(bhs, reader.ahs());
        int lun = LunAddress.decode(lunField);
        IscsiTask task = new IscsiTask(session, itt, cmdSn, immediate, lunField, lun, cdb,
                read, write, (int) Math.min(edtl, Integer.MAX_VALUE), context.buffers());
        String violation = null;
        if (dsl > 0 && !write) {
            violation = "immediate data without the W bit";
        } else if (dsl > 0 && !params.immediateData()) {
            violation = "immediate data although ImmediateData=No";
        } else if (dsl > params.firstBurstLength()) {
            violation = "immediate data of " + dsl + " bytes exceeds FirstBurstLength " + params.firstBurstLength();
        } else if (dsl > edtl) {
            violation = "immediate data of " + dsl + " bytes exceeds the expected transfer length " + edtl;
        } else if (!fin && (!write || params.initialR2T())) {
            violation = "F bit clear but no unsolicited Data-Out may follow";
        }
        if (violation != null) {
            fail(task, Asc.UNEXPECTED_UNSOLICITED_DATA, violation);
        } else {
            admit(task, edtl, immediate);
        }
        PduException digestError = null;
        try {
            receive(task, dsl);
        } catch (PduException e) {
            if (e.reason() != RejectReason.DATA_DIGEST_ERROR) {
                task.releaseDataOut();
                throw e;
            }
            digestError = e;
            session.metrics().digestError();
            fail(task, Asc.PROTOCOL_SERVICE_CRC_ERROR, e.getMessage());
        } catch (IOException | RuntimeException e) {
            task.releaseDataOut();
            throw e;
        }
        session.tasks.put(itt, task);
        sequencer.started();
        if (write && task.failure == null) {
            if (!fin) {
                task.unsolicitedActive = true;
                task.unsolicitedLimit = (int) Math.min(edtl, params.firstBurstLength());
            } else {
                startSolicited(task);
            }
        }
        sequencer.submit(cmdSn, immediate, () -> {
            task.sequenced = true;
            maybeDispatch(task);
        });
        if (digestError != null) {
            throw digestError;
        }
    }

    /** Fails a task's transfer (see {@link IscsiTask#fail}) with a log line. */
    private void fail(IscsiTask task, Asc asc, String why) {
        LOG.warn("{}: {}; the command fails with {}", task, why, asc);
        task.fail(asc);
    }

    /**
     * Decides what the command may hold before any byte of its data is stored: buffers only for
     * what its CDB can move (the initiator's expected length alone allocates nothing), reserved
     * in the session's and the server's {@link io.clonetarget.server.transport.DataBudget}. An
     * immediate command beyond the command window, or one the budget cannot take, is answered
     * TASK SET FULL without running (its data is drained).
     */
    private void admit(IscsiTask task, long edtl, boolean immediate) {
        long out = 0;
        if (task.write) {
            out = Math.min(edtl, session.target().dataOutLength(session.initiatorName(), task.lun, task.cdb()));
            if (out > MAX_DATA) {
                out = 0; // the logical unit refuses a transfer that long; nothing to keep
            }
        }
        long in = task.read ? Math.min(edtl, MAX_DATA) : 0;
        if (immediate && sequencer.running() >= context.settings().commandWindow()) {
            LOG.debug("{}: immediate command beyond the window of {}; TASK SET FULL", task,
                    context.settings().commandWindow());
            task.full = true;
        } else if (!session.budget().tryReserve(out + in)) {
            LOG.debug("{}: {} bytes do not fit the data budget ({} used by the session); TASK SET FULL", task,
                    out + in, session.budget().used());
            task.full = true;
        } else {
            task.reserve(out + in);
            if (out > 0) {
                task.dataOut = context.buffers().acquire((int) out);
            }
        }
        if (task.full) {
            task.discardData = true;
        }
    }

    /** The CDB: the 16 bytes of the BHS, extended by an Extended CDB AHS (type 1) if present. */
    private static ByteBuffer cdb(ByteBuffer bhs, ByteBuffer ahs) throws PduException {
        int extra = 0;
        ByteBuffer extension = null;
        while (ahs.remaining() >= 4) {
            int length = ahs.getShort(ahs.position()) & 0xffff;
            int type = ahs.get(ahs.position() + 2) & 0xff;
            int total = (3 + length + 3) & ~3;
            if (total > ahs.remaining()) {
                throw new PduException(RejectReason.INVALID_PDU_FIELD, true, "AHS length beyond the header");
            }
            if (type == 1 && length > 1) {
                extension = ahs.slice(ahs.position() + 4, length - 1);
                extra = length - 1;
            }
            ahs.position(ahs.position() + total);
        }
        ByteBuffer cdb = ByteBuffer.allocate(16 + extra);
        cdb.put(bhs.slice(Bhs.OFF_CDB, 16));
        if (extension != null) {
            cdb.put(extension);
        }
        return cdb.flip();
    }

    /**
     * Reads {@code length} bytes of data-out for the task: into its buffer as far as the CDB
     * wants them, the rest (an expected transfer length larger than the CDB's) drained.
     */
    private void receive(IscsiTask task, int length) throws IOException, PduException {
        if (length <= 0) {
            reader.readData(ByteBuffer.allocate(0));
            return;
        }
        ByteBuffer buffer = task.dataOut;
        if (task.discardData || buffer == null || task.stored >= buffer.limit()) {
            reader.skipData();
        } else {
            int keep = Math.min(length, buffer.limit() - task.stored); // the limit: pooled buffers are larger
            reader.readDataPrefix(buffer.slice(task.stored, keep));
            task.stored += keep;
        }
        task.received += length;
    }

    private void startSolicited(IscsiTask task) {
        task.nextR2tOffset = task.received;
        if (!task.discardData) {
            issueR2ts(task);
        }
    }

    private void issueR2ts(IscsiTask task) {
        while (task.outstanding.size() < params.maxOutstandingR2T() && task.nextR2tOffset < task.edtl) {
            int length = Math.min(params.maxBurstLength(), task.edtl - task.nextR2tOffset);
            int ttt = nextTtt++;
            if (nextTtt == Bhs.RESERVED_TAG) {
                nextTtt = 1;
            }
            IscsiTask.R2t r2t = new IscsiTask.R2t(ttt, task.nextR2tSn++, task.nextR2tOffset, length);
            task.outstanding.add(r2t);
            task.nextR2tOffset += length;
            outbox.send(Pdus.r2t(task.lunField, task.itt, ttt, r2t.r2tSn, r2t.offset, r2t.length));
        }
    }

    /**
     * Handles a SCSI Data-Out PDU whose header was just read. A Data-Out that breaks the
     * transfer rules (DataSN, buffer offset, target transfer tag, burst length, FirstBurstLength)
     * fails its command with the matching ABORTED COMMAND sense of RFC 7143 section 11.4.7.2;
     * the rest of its data is drained and the connection goes on.
     */
    void dataOut(ByteBuffer bhs) throws IOException, PduException {
        int itt = Bhs.itt(bhs);
        int ttt = bhs.getInt(Bhs.OFF_TTT);
        int dataSn = bhs.getInt(Bhs.OFF_DATASN);
        int offset = bhs.getInt(Bhs.OFF_BUFFER_OFFSET);
        boolean fin = Bhs.finalBit(bhs);
        int dsl = reader.pendingDataLength();
        IscsiTask task = session.tasks.get(itt);
        if (task == null || !task.write || task.failure != null
                || task.state.get() != IscsiTask.State.RECEIVING) {
            LOG.debug("discarding Data-Out for ITT {} (no task waiting for data)", Integer.toHexString(itt));
            reader.skipData();
            return;
        }
        IscsiTask.R2t r2t = null;
        String violation = null;
        Asc asc = Asc.DATA_PHASE_ERROR;
        if (ttt == Bhs.RESERVED_TAG) {
            if (!task.unsolicitedActive) {
                violation = "unsolicited Data-Out after the unsolicited burst ended";
                asc = Asc.UNEXPECTED_UNSOLICITED_DATA;
            } else if (dataSn != task.unsolicitedDataSn) {
                violation = "Data-Out DataSN " + dataSn + ", expected " + task.unsolicitedDataSn;
            } else if ((long) offset + dsl > task.unsolicitedLimit) {
                violation = "unsolicited data up to " + ((long) offset + dsl)
                        + " exceeds FirstBurstLength/EDTL " + task.unsolicitedLimit;
                asc = Asc.UNEXPECTED_UNSOLICITED_DATA;
            }
        } else {
            for (IscsiTask.R2t r : task.outstanding) {
                if (r.ttt == ttt) {
                    r2t = r;
                    break;
                }
            }
            if (r2t == null) {
                violation = "Data-Out with unknown target transfer tag " + Integer.toHexString(ttt);
            } else if (dataSn != r2t.nextDataSn) {
                violation = "Data-Out DataSN " + dataSn + ", expected " + r2t.nextDataSn;
            } else if (r2t.received + dsl > r2t.length) {
                violation = "Data-Out beyond the " + r2t.length + " bytes of R2T " + r2t.r2tSn;
                asc = Asc.DATA_OFFSET_ERROR;
            } else if (fin && r2t.received + dsl != r2t.length) {
                violation = "F bit after " + (r2t.received + dsl) + " of " + r2t.length + " bytes of R2T " + r2t.r2tSn;
            }
        }
        if (violation == null && offset != task.received) {
            violation = "Data-Out buffer offset " + offset + ", expected " + task.received + " (DataPDUInOrder)";
            asc = Asc.DATA_OFFSET_ERROR;
        }
        if (violation != null) {
            reader.skipData();
            fail(task, asc, violation);
            maybeDispatch(task);
            return;
        }
        try {
            receive(task, dsl);
        } catch (PduException e) {
            if (e.reason() == RejectReason.DATA_DIGEST_ERROR) {
                session.metrics().digestError();
                fail(task, Asc.PROTOCOL_SERVICE_CRC_ERROR, e.getMessage());
                maybeDispatch(task);
            }
            throw e;
        }
        if (r2t == null) {
            task.unsolicitedDataSn++;
            if (fin) {
                task.unsolicitedActive = false;
                startSolicited(task);
            }
        } else {
            r2t.received += dsl;
            r2t.nextDataSn++;
            if (fin) {
                task.outstanding.remove(r2t);
                issueR2ts(task);
            }
        }
        maybeDispatch(task);
    }

    /**
     * Hands a task whose data is complete and whose CmdSN turn came to execution: inline on the
     * reader when it is the session's only command and storage need not wait, else on the
     * command pool. An abort decided meanwhile (see {@link Session#abort}) wins: the task is then
     * never run.
     */
    private void maybeDispatch(IscsiTask task) {
        if (task.sequenced && task.dataComplete()
                && task.state.compareAndSet(IscsiTask.State.RECEIVING, IscsiTask.State.READY)) {
            java.util.concurrent.CompletableFuture<Void> predecessors = session.predecessors();
            if (!predecessors.isDone()) {
                // a reinstated session's task may still be in storage: run after it (an abort meanwhile wins)
                predecessors.whenComplete((v, e) -> context.commands().execute(() -> execute(task)));
                return;
            }
            if (inlineCandidate(task) && task.state.compareAndSet(IscsiTask.State.READY, IscsiTask.State.RUNNING)) {
                // RUNNING on the reader: an abort now only asks (abortRequested); this thread decides
                if (!task.abortRequested) {
                    LogContext.task(task.itt, task.lun);
                    try {
                        ScsiResult result = session.target().tryExecute(session.initiatorName(), task.lun, task);
                        if (result != null) {
                            finish(task, result, true);
                            return;
                        }
                    } finally {
                        LogContext.clearTask();
                    }
                }
                if (task.abortRequested) {
                    task.state.set(IscsiTask.State.ABORTED);
                    finishAborted(task);
                    return;
                }
                // storage would have to wait: back to READY for the pool; from here an abort decides by itself
                task.state.set(IscsiTask.State.READY);
                if (task.abortRequested && task.state.compareAndSet(IscsiTask.State.READY, IscsiTask.State.ABORTED)) {
                    finishAborted(task); // an abort that saw RUNNING just before and only asked
                    return;
                }
            }
            context.commands().execute(() -> execute(task));
        }
    }

    /**
     * Whether to try a command on the reader thread: only when it is the session's only command
     * (latency-bound, nothing to overlap with) and small. The logical unit still refuses anything
     * that would wait for storage, so the reader never blocks on a disk.
     */
    private boolean inlineCandidate(IscsiTask task) {
        return task.failure == null && !task.discardData && sequencer.running() <= 1
                && task.edtl <= INLINE_MAX_BYTES;
    }

    /** Runs the command and answers it; on a command thread. */
    private void execute(IscsiTask task) {
        if (!task.state.compareAndSet(IscsiTask.State.READY, IscsiTask.State.RUNNING)) {
            // aborted while queued: this thread now owns what the task holds
            task.releaseDataOut();
            task.releaseReservation();
            return;
        }
        LogContext.connection(connection.id(), session.logContext());
        LogContext.task(task.itt, task.lun);
        try {
            if (task.abortRequested) {
                task.state.set(IscsiTask.State.ABORTED);
                finishAborted(task);
                return;
            }
            ScsiResult result;
            try {
                if (task.failure != null) {
                    result = ScsiResult.failed(ScsiStatus.CHECK_CONDITION, SenseData.of(task.failure).fixed());
                } else if (task.full) {
                    result = ScsiResult.failed(ScsiStatus.TASK_SET_FULL, null);
                } else if (task.discardData) {
                    result = ScsiResult.failed(ScsiStatus.CHECK_CONDITION,
                            SenseData.of(Asc.INVALID_FIELD_IN_INFORMATION_UNIT).fixed());
                } else {
                    result = session.target().execute(session.initiatorName(), task.lun, task);
                }
            } catch (RuntimeException e) {
                LOG.error("{} failed", task, e);
                result = ScsiResult.failed(ScsiStatus.CHECK_CONDITION,
                        SenseData.of(Asc.INTERNAL_TARGET_FAILURE).fixed());
            }
            finish(task, result, false);
        } finally {
            LogContext.clear();
        }
    }

    /** Answers a command that ran (on a command thread, or inline on the reader). */
    private void finish(IscsiTask task, ScsiResult result, boolean onReader) {
        task.releaseDataOut();
        // only the thread that ran the task moves it out of RUNNING; task management just asks
        if (task.abortRequested) {
            task.state.set(IscsiTask.State.ABORTED);
            finishAborted(task);
            return;
        }
        task.state.set(IscsiTask.State.DONE);
        if (session.tasks.remove(task.itt, task)) {
            sequencer.finished();
        }
        count(task, result);
        respond(task, result, onReader);
        task.finished.complete(null);
    }

    /** Counts an answered command for its LUN and its session. */
    private void count(IscsiTask task, ScsiResult result) {
        LunMetrics.Op op = LunMetrics.of(task.cdb().get(0) & 0xff);
        long bytes = switch (op) {
            case READ -> result.dataIn() == null ? 0 : result.dataIn().remaining();
            case WRITE -> result.isGood() ? task.stored : 0;
            case OTHER -> 0;
        };
        session.target().metrics(session.initiatorName(), task.lun).completed(op, bytes, !result.isGood(), System.nanoTime() - task.arrived);
        session.metrics().completed(op, bytes);
    }

    /** Cleans up a task that will never be answered; on the thread that owns it (it ran it, or would have). */
    private void finishAborted(IscsiTask task) {
        task.releaseDataOut();
        task.releaseDataIn();
        task.releaseReservation();
        session.retire(task);
    }

    /** Sends the command's data-in and status ({@link CommandResponse}), then gives back what it held. */
    private void respond(IscsiTask task, ScsiResult result, boolean onReader) {
        ByteBuffer owned = task.takeDataIn();
        List<OutboundPdu> pdus = CommandResponse.pdus(task, result, params,
                session.target().dataOutLength(session.initiatorName(), task.lun, task.cdb()));
        OutboundPdu response = pdus.getLast();
        if (owned != null) {
            response.then(() -> context.buffers().release(owned));
        }
        response.then(task::releaseReservation);
        if (onReader) {
            outbox.sendDirect(pdus);
        } else {
            for (OutboundPdu p : pdus) {
                outbox.send(p);
            }
        }
    }
}
