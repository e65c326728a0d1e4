package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SANITIZE (SBC-4): OVERWRITE, BLOCK ERASE, CRYPTO ERASE and EXIT FAILURE MODE, and the state
 * a sanitize leaves the logical unit in.
 *
 * <p>What each method does here, on a virtual medium (a file, a clone, a volume with snapshots):
 * <ul>
 *   <li><b>OVERWRITE</b> writes the initialization pattern (repeated from the start of every
 *       block, inverted between passes when asked) over every block, OVERWRITE COUNT times,
 *       through the device's ordinary write path: a file's blocks are rewritten in place, a
 *       clone's regions become the destination's own (reads no longer reach the source), a
 *       volume with snapshots copies the old data to its snapshots first, which keep their
 *       point-in-time content.</li>
 *   <li><b>BLOCK ERASE</b> deallocates every block (the device's discard, or write-zeroes
 *       where a discard would not read back as zeroes): every block then reads zeroes and GET
 *       LBA STATUS reports it deallocated.</li>
 *   <li><b>CRYPTO ERASE</b>: the medium is not encrypted, so there is no key to change. SBC-4
 *       asks of a cryptographic erase that the user data becomes unreadable and that reads
 *       afterwards follow WACEREQ; this is done by the same deallocation as BLOCK ERASE, which
 *       meets both (WACEREQ = 01b: reads complete, with zeroes). It promises nothing more than
 *       BLOCK ERASE does.</li>
 * </ul>
 * None of them reaches copies outside the LUN's own view: extents the host file system freed,
 * a clone's source image, snapshots, host backups. Each ends with a flush, so a sanitize that
 * completed is durable.
 *
 * <p>The operation runs on its own thread, whatever IMMED says (with IMMED=0 the command waits
 * for it, and stops waiting when aborted); task management and a lost nexus do not stop it.
 * Meanwhile every command but INQUIRY, REPORT LUNS and REQUEST SENSE ends with NOT READY,
 * SANITIZE IN PROGRESS and a progress indication, which REQUEST SENSE reports too. A failed
 * sanitize leaves the unit in failure mode: commands that access the medium end with MEDIUM
 * ERROR, SANITIZE COMMAND FAILED until a sanitize succeeds or, if the failed one had AUSE=1,
 * EXIT FAILURE MODE. A restart of the target forgets a sanitize in progress (SBC-4 would resume
 * it after power on): the LUN then serves whatever the operation had reached.
 *
 * <p>Thread-safety: {@link #state} is owned by this object's monitor (changed only under it,
 * read without it through the volatile field).
 */
final class SanitizeCommands implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SanitizeCommands.class);
    static final int OVERWRITE = 0x01;
    static final int BLOCK_ERASE = 0x02;
    static final int CRYPTO_ERASE = 0x03;
    static final int EXIT_FAILURE_MODE = 0x1f;
    /** How much one step writes or deallocates; progress moves per step. */
    static final int STEP = 1 << 20;
    private static final long ABORT_POLL_MILLIS = 100;
    /**
     * The pace of OVERWRITE: it rewrites the whole LUN, and at full speed it would saturate the
     * host disk, which other LUNs share, for as long as it runs (the LUN itself serves nothing
     * meanwhile anyway). Deallocation (BLOCK and CRYPTO ERASE) is metadata work and not paced.
     */
    static final long OVERWRITE_BYTES_PER_SECOND = 128L << 20;

    /** What the unit is doing about sanitizing. */
    sealed interface State permits Idle, Running, Failed {
    }

    record Idle() implements State {
    }

    /** A sanitize in progress: {@code done} of {@code total} work units. */
    record Running(int serviceAction, AtomicLong done, long total, CompletableFuture<Boolean> finished,
                   boolean unrestricted) implements State {
        int progress() {
            return (int) Math.min(0xffff, done.get() * 0x10000 / Math.max(1, total));
        }
    }

    /** The last sanitize failed; {@code unrestricted}: it had AUSE=1, so EXIT FAILURE MODE may end this. */
    record Failed(boolean unrestricted) implements State {
    }

    private static final State IDLE = new Idle();

    private final BlockCommands core;
    private final String name;
    private final long overwriteRate;
    private volatile State state = IDLE;
    private Thread worker;

    SanitizeCommands(BlockCommands core, String name) {
        this(core, name, OVERWRITE_BYTES_PER_SECOND);
    }

    /** @param overwriteRate bytes per second OVERWRITE writes at most; 0 for no limit */
    SanitizeCommands(BlockCommands core, String name, long overwriteRate) {
        this.core = core;
        this.name = name;
        this.overwriteRate = overwriteRate;
    }

    State state() {
        return state;
    }

    /** Whether plain reads and writes must not run now (the fast path declines then). */
    boolean blocksMedium() {
        return !(state instanceof Idle);
    }

    /**
     * Refuses a command that may not run in the current state: NOT READY while a sanitize runs
     * (but INQUIRY, REQUEST SENSE and REPORT LUNS), MEDIUM ERROR for medium access in failure mode.
     */
    void check(CommandInfo info) throws ScsiException {
        switch (state) {
            case Idle i -> {
            }
            case Running r -> {
                int op = info.opcode();
                if (op != 0x12 && op != 0x03 && op != 0xa0) {
                    throw ScsiException.check(SenseData.progress(Asc.SANITIZE_IN_PROGRESS, r.progress()));
                }
            }
            case Failed f -> {
                boolean medium = info.access() == Reservations.Access.READ || info.access() == Reservations.Access.WRITE;
                if (medium && info.opcode() != 0x48) {
                    throw ScsiException.check(Asc.SANITIZE_COMMAND_FAILED);
                }
            }
        }
    }

    /** What REQUEST SENSE reports without a pending unit attention, or null for NO SENSE. */
    SenseData pendingSense() {
        return state instanceof Running r ? SenseData.progress(Asc.SANITIZE_IN_PROGRESS, r.progress()) : null;
    }

    /** Decoded OVERWRITE parameter list. */
    record Overwrite(boolean invert, int passes, byte[] pattern) {
        /** Whether pass {@code p} (from 0) writes the inverted pattern: the last pass never does. */
        boolean inverted(int p) {
            return invert && (passes - p) % 2 == 0;
        }
    }

    ScsiResult sanitize(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        int flags = Cdb.u8(cdb, 1);
        boolean immed = (flags & 0x80) != 0;
        boolean ause = (flags & 0x20) != 0;
        int action = flags & 0x1f;
        if ((flags & 0x40) != 0) {
            throw ScsiException.invalidCdbField(1, 6); // ZNR: not a zoned device
        }
        for (int i = 2; i <= 6; i++) {
            if (Cdb.u8(cdb, i) != 0) {
                throw ScsiException.invalidCdbField(i, -1);
            }
        }
        int listLength = Cdb.u16(cdb, 7);
        boolean lengthOk = switch (action) {
            case OVERWRITE -> listLength > 4 && listLength <= core.blockSize() + 4;
            case BLOCK_ERASE, CRYPTO_ERASE, EXIT_FAILURE_MODE -> listLength == 0;
            default -> throw ScsiException.invalidCdbField(1, 4);
        };
        if (!lengthOk) {
            throw ScsiException.invalidCdbField(7, -1);
        }
        if (action == EXIT_FAILURE_MODE) {
            exitFailureMode();
            return ScsiResult.good();
        }
        if (ause && state instanceof Failed f && !f.unrestricted()) {
            // a failure in restricted mode is left only by a sanitize in restricted mode
            throw ScsiException.invalidCdbField(1, 5);
        }
        core.checkWritable();
        Overwrite overwrite = action == OVERWRITE ? overwriteParameters(task.dataOut(), listLength) : null;
        Running running = start(action, overwrite, ause);
        if (immed) {
            return ScsiResult.good();
        }
        return awaitCompletion(task, running);
    }

    private Overwrite overwriteParameters(ByteBuffer data, int listLength) throws ScsiException {
        if (data.remaining() < listLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        int b0 = Cdb.u8(data, 0);
        if ((b0 & 0x60) != 0) {
            throw ScsiException.invalidParameterField(0, 6); // TEST: no vendor test modes
        }
        int passes = b0 & 0x1f;
        if (passes == 0) {
            throw ScsiException.invalidParameterField(0, 4);
        }
        if (Cdb.u8(data, 1) != 0) {
            throw ScsiException.invalidParameterField(1, -1);
        }
        int patternLength = Cdb.u16(data, 2);
        if (patternLength == 0 || patternLength > core.blockSize() || patternLength != listLength - 4) {
            throw ScsiException.invalidParameterField(2, -1);
        }
        byte[] pattern = new byte[patternLength];
        data.get(4, pattern);
        return new Overwrite((b0 & 0x80) != 0, passes, pattern);
    }

    private void exitFailureMode() throws ScsiException {
        synchronized (this) {
            switch (state) {
                case Idle i -> {
                }
                case Running r -> throw ScsiException.check(SenseData.progress(Asc.SANITIZE_IN_PROGRESS, r.progress()));
                case Failed f -> {
                    if (!f.unrestricted()) {
                        throw ScsiException.invalidCdbField(1, 4);
                    }
                    state = IDLE;
                }
            }
        }
    }

    private Running start(int action, Overwrite overwrite, boolean ause) throws ScsiException {
        BlockDevice device = core.device();
        long total = overwrite != null ? Math.multiplyExact(device.size(), (long) overwrite.passes()) : device.size();
        synchronized (this) {
            if (state instanceof Running r) {
                throw ScsiException.check(SenseData.progress(Asc.SANITIZE_IN_PROGRESS, r.progress()));
            }
            Running running = new Running(action, new AtomicLong(), total, new CompletableFuture<>(), ause);
            state = running;
            worker = Thread.ofPlatform().name("sanitize " + name).daemon().unstarted(() -> run(running, overwrite));
            worker.start();
            LOG.info("{}: sanitize {} started ({} bytes of work)", name, action, total);
            return running;
        }
    }

    private void run(Running running, Overwrite overwrite) {
        boolean ok = false;
        try {
            try (RangeLock.Range all = core.hold(0, core.blocks(), RangeLock.Mode.EXCLUSIVE)) {
                if (overwrite != null) {
                    overwrite(overwrite, running.done());
                } else {
                    erase(running.done());
                }
                core.device().flush();
            }
            ok = true;
            LOG.info("{}: sanitize {} completed", name, running.serviceAction());
        } catch (IOException | RuntimeException e) {
            LOG.error("{}: sanitize {} failed", name, running.serviceAction(), e);
        } finally {
            synchronized (this) {
                state = ok ? IDLE : new Failed(running.unrestricted());
                worker = null;
            }
            running.finished().complete(ok);
        }
    }

    private void overwrite(Overwrite o, AtomicLong done) throws IOException {
        BlockDevice device = core.device();
        int blockSize = core.blockSize();
        int step = (int) Math.min(STEP, device.size());
        ByteBuffer buffer = core.buffers().acquire(step);
        long started = System.nanoTime();
        try {
            for (int pass = 0; pass < o.passes(); pass++) {
                fill(buffer, step, blockSize, o.pattern(), o.inverted(pass));
                for (long at = 0; at < device.size(); at += step) {
                    stopIfInterrupted();
                    int n = (int) Math.min(step, device.size() - at);
                    device.write(at, buffer.duplicate().position(0).limit(n), false);
                    pace(started, done.addAndGet(n));
                }
            }
        } finally {
            core.buffers().release(buffer);
        }
    }

    /** Fills {@code length} bytes with the pattern repeated from the start of every block. */
    static void fill(ByteBuffer buffer, int length, int blockSize, byte[] pattern, boolean inverted) {
        buffer.clear().limit(length);
        for (int i = 0; i < length; i++) {
            byte b = pattern[(i % blockSize) % pattern.length];
            buffer.put(i, inverted ? (byte) ~b : b);
        }
    }

    private void erase(AtomicLong done) throws IOException {
        BlockDevice device = core.device();
        boolean discardZeroes = device.discardZeroesData();
        long step = 64L * STEP;
        for (long at = 0; at < device.size(); at += step) {
            stopIfInterrupted();
            long n = Math.min(step, device.size() - at);
            if (discardZeroes) {
                device.discard(at, n);
            } else {
                device.writeZeroes(at, n);
            }
            done.addAndGet(n);
        }
    }

    /** Waits until {@code written} bytes are due at the overwrite rate since {@code started}. */
    private void pace(long started, long written) throws InterruptedIOException {
        if (overwriteRate <= 0) {
            return;
        }
        long due = started + (long) (written * 1e9 / overwriteRate);
        long wait = due - System.nanoTime();
        if (wait > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("sanitize stopped: the logical unit is closing");
            }
        }
    }

    private static void stopIfInterrupted() throws InterruptedIOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("sanitize stopped: the logical unit is closing");
        }
    }

    /** IMMED=0: the status once the operation ended, or nothing useful once the task is aborted. */
    private static ScsiResult awaitCompletion(ScsiTask task, Running running) throws ScsiException, IOException {
        while (true) {
            try {
                boolean ok = running.finished().get(ABORT_POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (!ok) {
                    throw ScsiException.check(Asc.SANITIZE_COMMAND_FAILED);
                }
                return ScsiResult.good();
            } catch (TimeoutException e) {
                if (task.aborted()) {
                    // the operation goes on; the transport drops this response
                    return ScsiResult.failed(ScsiStatus.TASK_ABORTED, null);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the sanitize");
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Stops a running sanitize (the unit is closing) and waits for its thread. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            t = worker;
        }
        if (t == null) {
            return;
        }
        t.interrupt();
        try {
            t.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
