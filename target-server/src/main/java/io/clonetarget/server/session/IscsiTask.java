package io.clonetarget.server.session;

import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.scsi.ScsiTask;
import io.clonetarget.server.transport.BufferPool;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One SCSI command on an iSCSI connection, from the SCSI Command PDU to the status.
 *
 * <p>Ownership. The receive-side fields (data-out progress, R2Ts) and the data-out buffer
 * belong to the reader thread until the task is READY; then to the thread that runs it (or, if
 * it is aborted while queued, to the command thread that finds it so). No other thread touches
 * them. The lifecycle {@link #state} is shared with task management: RECEIVING → READY →
 * RUNNING → DONE, or → ABORTED. An abort is decided by one compare-and-set: RECEIVING or READY
 * become ABORTED at once (the task never runs); a RUNNING task is only asked
 * ({@link #abortRequested}) and its running thread decides. A task aborted while receiving
 * keeps its buffer until the garbage collector takes it: the reader may be filling it, and no
 * one else may give it back to the pool. The data budget reserved for the task is given back
 * exactly once ({@link #releaseReservation}), by whoever ends it.
 */
final class IscsiTask implements ScsiTask {
    enum State { RECEIVING, READY, RUNNING, DONE, ABORTED }

    /** One outstanding R2T and what has arrived for it. */
    static final class R2t {
        final int ttt;
        final int r2tSn;
        final int offset;
        final int length;
        int received;
        int nextDataSn;

        R2t(int ttt, int r2tSn, int offset, int length) {
            this.ttt = ttt;
            this.r2tSn = r2tSn;
            this.offset = offset;
            this.length = length;
        }
    }

    final Session session;
    final int itt;
    /** When its command PDU was read (for the latency metric). */
    final long arrived = System.nanoTime();
    final int cmdSn;
    final boolean immediate;
    final long lunField;
    final int lun;
    final boolean read;
    final boolean write;
    final int edtl;
    private final ByteBuffer cdb;
    private final BufferPool pool;
    final AtomicReference<State> state = new AtomicReference<>(State.RECEIVING);
    final CompletableFuture<Void> finished = new CompletableFuture<>();
    volatile boolean abortRequested;

    ByteBuffer dataOut;
    boolean discardData;
    /** Answered TASK SET FULL without running: beyond the window, or beyond the data budget. */
    boolean full;
    /** Data-out bytes kept in {@link #dataOut} (at most what the CDB wants); {@link #received} counts all. */
    int stored;
    private long reserved;
    private final java.util.concurrent.atomic.AtomicBoolean reservationReturned =
            new java.util.concurrent.atomic.AtomicBoolean();
    /** Set when the transfer broke the rules: the command is answered with this, never run. */
    Asc failure;
    int received;
    boolean unsolicitedActive;
    int unsolicitedLimit;
    int unsolicitedDataSn;
    boolean sequenced;
    int nextR2tOffset;
    int nextR2tSn;
    final ArrayDeque<R2t> outstanding = new ArrayDeque<>(2);
    private ByteBuffer dataIn;

    IscsiTask(Session session, int itt, int cmdSn, boolean immediate, long lunField, int lun, ByteBuffer cdb,
              boolean read, boolean write, int edtl, BufferPool pool) {
        this.session = session;
        this.itt = itt;
        this.cmdSn = cmdSn;
        this.immediate = immediate;
        this.lunField = lunField;
        this.lun = lun;
        this.cdb = cdb.asReadOnlyBuffer();
        this.read = read;
        this.write = write;
        this.edtl = edtl;
        this.pool = pool;
    }

    @Override
    public Nexus nexus() {
        return session.nexus();
    }

    @Override
    public ByteBuffer cdb() {
        return cdb;
    }

    @Override
    public ByteBuffer dataOut() {
        if (dataOut == null) {
            return ByteBuffer.allocate(0);
        }
        return dataOut.duplicate().position(0).limit(stored);
    }

    @Override
    public long dataOutReceived() {
        return received;
    }

    @Override
    public int dataInLimit() {
        return read ? edtl : 0;
    }

    @Override
    public ByteBuffer allocateDataIn(int length) {
        if (dataIn != null) {
            pool.release(dataIn);
        }
        dataIn = pool.acquire(length);
        return dataIn;
    }

    @Override
    public boolean aborted() {
        return abortRequested;
    }

    @Override
    public java.util.Collection<io.clonetarget.server.scsi.LogicalUnit> peers() {
        io.clonetarget.server.target.TargetNode target = session.target();
        if (target == null) {
            return java.util.List.of();
        }
        java.util.List<io.clonetarget.server.scsi.LogicalUnit> units = new java.util.ArrayList<>();
        target.luns(session.initiatorName()).values().forEach(e -> units.add(e.unit()));
        return units;
    }

    /** Whether all expected data-out has arrived (or will be discarded). */
    boolean dataComplete() {
        return !write || (!unsolicitedActive && outstanding.isEmpty() && (discardData || received >= edtl));
    }

    /**
     * Fails the transfer: no more data is accepted, what arrives is drained, and the command
     * will be answered with CHECK CONDITION and {@code asc} instead of running. Reader thread.
     */
    void fail(Asc asc) {
        if (failure == null) {
            failure = asc;
        }
        discardData = true;
        unsolicitedActive = false;
        outstanding.clear();
        releaseDataOut();
    }

    /** Records what reservation the task holds in the session's data budget (reader thread). */
    void reserve(long bytes) {
        reserved = bytes;
    }

    /** Gives the task's data budget back; the first call only (any thread). */
    void releaseReservation() {
        if (reserved > 0 && reservationReturned.compareAndSet(false, true)) {
            session.budget().release(reserved);
        }
    }

    /** Returns the data-out buffer to the pool (once). */
    void releaseDataOut() {
        ByteBuffer b = dataOut;
        dataOut = null;
        if (b != null) {
            pool.release(b);
        }
    }

    /** Hands the data-in buffer over to whoever sends it (it then releases it). */
    ByteBuffer takeDataIn() {
        ByteBuffer b = dataIn;
        dataIn = null;
        return b;
    }

    void releaseDataIn() {
        ByteBuffer b = takeDataIn();
        if (b != null) {
            pool.release(b);
        }
    }

    @Override
    public String toString() {
        return String.format("task itt=%08x cmdsn=%d lun=%d op=%02xh", itt, cmdSn, lun, cdb.get(0) & 0xff);
    }
}
