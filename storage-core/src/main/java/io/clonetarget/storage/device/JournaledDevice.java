package io.clonetarget.storage.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlockDevice} decorator whose {@link #writeAtomic} is all-or-nothing across power loss,
 * by a redo journal on a second device (a small file; format in docs/formats/atomic-journal.md).
 *
 * <p><b>Steps.</b> {@code writeAtomic}: (A1) append one record (offset, length, data, CRC32C) to
 * the journal, (A2) flush the journal, (A3) write the data to the inner device, not durable. A
 * FUA atomic write is durable after A2: its record is replayed after any crash. {@code flush}:
 * (F1) flush the inner device, (F2) <i>retire</i> the journal: write the next epoch into the other
 * header slot, (F3) flush the journal; records of older epochs are never replayed. A FUA plain
 * write, while the journal holds records, first does F1..F3. Open: (R1) read the journal, (R2)
 * write every record of the current epoch to the inner device in order, (R3) flush it, (R4) retire.
 *
 * <p><b>Crash at each point</b> (what the next open finds):
 * <ul>
 *   <li>during A1/A2: the record is torn or absent; its data was never written to the inner
 *       device (A3 comes after A2), so the range is wholly old. The torn record ends the log and is
 *       ignored; it was not acknowledged.</li>
 *   <li>after A2, during or after A3: the record is intact; R2 writes it whole over whatever part
 *       of A3 reached the disk: wholly new.</li>
 *   <li>during F1, or after it before F3 made the new epoch durable: the old epoch's records are
 *       replayed; their data is rewritten identically, unless a later plain write overlapped one
 *       of them, which then reverts to the atomic write's data. That plain write was not
 *       acknowledged as durable (this flush had not returned, and a FUA write would have retired
 *       the journal first), so "old" is allowed for it.</li>
 *   <li>after F3: nothing is replayed; everything written before F1 is durable. A torn header
 *       slot write (F2) leaves the other slot, the previous epoch, valid: the previous case.</li>
 *   <li>during R2..R4: the same records are replayed again at the next open (idempotent).</li>
 * </ul>
 * <b>No acknowledged write is lost</b>: a record is replayed only when no flush retired it, and a
 * write the initiator holds as durable is either an atomic record itself, a FUA write (which
 * retired every older record first), or was completed before a flush that retired every older
 * record. What remains is one precondition the SCSI layer meets with its range lock: overlapping
 * writes are not in flight at the same time (for such writes SCSI defines no order anyway).
 *
 * <p><b>Concurrency.</b> Appends (A1, A2) are serialized, so a record is written only when every
 * earlier one is durable: the log has no holes, and an intact record after a broken one proves
 * damage rather than a torn tail ({@link JournalRecovery}). A3 runs outside that lock. Flush and
 * retire take the gate exclusively: every atomic write that appended has finished A3 before F1
 * begins, and none appends until F3 returns, so a retired record's data is always covered by F1.
 * A flush with an empty journal passes straight through. When the journal is full, the atomic
 * write retires it first. Thread-safe; {@link #close()} once no request is in flight.
 *
 * <p><b>Failures.</b> A failed journal append makes atomic writes fail until a retire succeeds. A
 * failed A3 (data write) leaves the record in place and makes flush, FUA writes and atomic
 * writes fail until the device is reopened, which replays it: retiring that record would make a
 * partly written atomic write durable.
 *
 * <p>Closing flushes and retires, closes the journal, and leaves the inner device open (its owner
 * closes it).
 */
public final class JournaledDevice implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(JournaledDevice.class);
    /** The largest atomic write offered. */
    public static final int MAX_ATOMIC_BYTES = 1 << 20;
    /** Size of a journal file this class creates: several largest records between two flushes. */
    public static final long DEFAULT_CAPACITY = 8L << 20;

    private final BlockDevice inner;
    private final BlockDevice store;
    private final String name;
    private final long identity;
    private final int limit;
    /** Atomic writes hold it shared from append to the end of their data write; flush/retire exclusively. */
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock(true);
    /** Serializes appends; guards {@link #tail}, {@link #seq} and {@link #record} (with the gate shared). */
    private final ReentrantLock append = new ReentrantLock();
    private final ByteBuffer record;
    private long epoch;
    private long tail = JournalFormat.RECORDS;
    private long seq;
    /** Records appended since the last retire; written under the gate, read without it. */
    private volatile long pending;
    private volatile IOException appendFailed;
    private volatile IOException applyFailed;
    private volatile boolean closed;

    private JournaledDevice(BlockDevice inner, BlockDevice store, String name, long identity, long epoch) {
        this.inner = inner;
        this.store = store;
        this.name = name;
        this.identity = identity;
        this.epoch = epoch;
        int room = (int) Math.min(Integer.MAX_VALUE, store.size() - JournalFormat.RECORDS - JournalFormat.RECORD_HEADER);
        int bs = inner.logicalBlockSize();
        this.limit = Math.max(0, Math.min(MAX_ATOMIC_BYTES, room) / bs * bs);
        this.record = ByteBuffer.allocateDirect(JournalFormat.RECORD_HEADER + (int) JournalFormat.roundUp(limit));
    }

    /**
     * Opens the journal at {@code path} for {@code inner}, creating it durably when absent, and
     * replays what it holds before returning.
     *
     * @param identity a hash of the image's identity: a journal whose records belong to another
     *     image is refused, never replayed
     * @throws JournalCorruptException naming the file, offset and check, when the journal cannot be trusted
     */
    public static JournaledDevice openFile(BlockDevice inner, Path path, long identity) throws IOException {
        FileBlockDevice store = null;
        try {
            if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                try {
                    store = DurableFiles.create(path, DEFAULT_CAPACITY, 512,
                            d -> format(d, inner.logicalBlockSize(), identity));
                    LOG.info("made atomic journal {} ({} bytes) for {}", path, DEFAULT_CAPACITY, inner.describe());
                } catch (FileAlreadyExistsException e) {
                    // made meanwhile by someone else: theirs is opened below, never formatted over
                }
            }
            if (store == null) {
                store = FileBlockDevice.open(path, false, 512);
            }
            return open(inner, store, path.toString(), identity);
        } catch (IOException | RuntimeException e) {
            if (store != null) {
                store.close();
            }
            throw e;
        }
    }

    /**
     * Writes the first header onto a new, empty journal device and flushes it. Only for a device
     * just made ({@link #openFile} makes files under a temporary name): it does not look at what
     * is there.
     */
    public static void format(BlockDevice store, int blockSize, long identity) throws IOException {
        store.write(0, JournalFormat.encode(new JournalFormat.Header(blockSize, 0, identity, store.size())), false);
        store.flush();
    }

    /**
     * Replays the journal on {@code store} onto {@code inner}, then serves {@code inner} with
     * atomic writes journaled there. Takes ownership of {@code store} (closed by {@link #close}).
     */
    public static JournaledDevice open(BlockDevice inner, BlockDevice store, String name, long identity)
            throws IOException {
        JournalRecovery.Found found = JournalRecovery.read(store, name, inner.logicalBlockSize(), identity, inner.size());
        if (found.ignored() != null) {
            LOG.info("atomic journal {}: ignored a {}", name, found.ignored());
        }
        JournaledDevice d = new JournaledDevice(inner, store, name, identity, found.header().epoch());
        for (JournalRecovery.Pending p : found.records()) {
            inner.write(p.offset(), p.data(), false);
        }
        if (!found.records().isEmpty()) {
            LOG.warn("atomic journal {}: replayed {} atomic writes onto {}", name, found.records().size(),
                    inner.describe());
        }
        boolean foreign = found.header().identity() != identity || found.header().blockSize() != inner.logicalBlockSize();
        if (!found.records().isEmpty() || foreign) {
            // foreign with no records: a new header for this image, nothing of value formatted over
            d.pending = 1;
            d.flushAndRetire();
        }
        return d;
    }

    /** Where the journal is (for logs). */
    public String journalName() {
        return name;
    }

    @Override
    public int atomicWriteLimit() {
        return limit;
    }

    @Override
    public void writeAtomic(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        Ranges.check(this, offset, length);
        int bs = inner.logicalBlockSize();
        if (length == 0 || length > limit || length % bs != 0 || offset % bs != 0) {
            throw new IllegalArgumentException("atomic write " + offset + "+" + length + " on " + name
                    + ": must be whole blocks of " + bs + ", at most " + limit + " bytes");
        }
        if (inner.isReadOnly()) {
            throw new ReadOnlyException(inner.describe() + " is read-only");
        }
        while (true) {
            checkApplied();
            gate.readLock().lock();
            try {
                if (appendRecord(offset, src, length)) {
                    try {
                        inner.write(offset, src, false);
                    } catch (IOException | RuntimeException e) {
                        applyFailed = new IOException("the data of atomic write " + offset + "+" + length
                                + " failed on " + inner.describe() + " (" + e.getMessage() + "); its record stays in "
                                + name + " and is replayed when the volume is next opened", e);
                        throw e;
                    }
                    return;
                }
            } finally {
                gate.readLock().unlock();
            }
            flushAndRetire(); // the journal was full
        }
    }

    /** A1, A2 under the append lock (the gate held shared); false when the journal is full. */
    private boolean appendRecord(long offset, ByteBuffer src, int length) throws IOException {
        append.lock();
        try {
            IOException failed = appendFailed;
            if (failed != null) {
                throw new IOException("atomic journal " + name + " is unusable until a flush succeeds: "
                        + failed.getMessage(), failed);
            }
            JournalFormat.RecordHeader r = new JournalFormat.RecordHeader(epoch, seq, offset, length);
            if (tail + r.span() > store.size()) {
                return false;
            }
            int bytes = JournalFormat.encodeRecord(record, r, src);
            try {
                store.write(tail, record.slice(0, bytes), false);
                store.flush();
            } catch (IOException | RuntimeException e) {
                appendFailed = e instanceof IOException io ? io : new IOException(e);
                throw e;
            }
            tail += r.span();
            seq++;
            pending++;
            return true;
        } finally {
            append.unlock();
        }
    }

    private void checkApplied() throws IOException {
        IOException failed = applyFailed;
        if (failed != null) {
            throw new IOException(failed.getMessage(), failed);
        }
    }

    /** F1..F3 with the gate held exclusively. */
    private void flushAndRetire() throws IOException {
        gate.writeLock().lock();
        try {
            checkApplied();
            inner.flush();
            if (pending == 0) {
                return;
            }
            JournalFormat.Header next = new JournalFormat.Header(inner.logicalBlockSize(), epoch + 1, identity,
                    store.size());
            store.write(next.slotOffset(), JournalFormat.encode(next), false);
            store.flush();
            epoch = next.epoch();
            tail = JournalFormat.RECORDS;
            seq = 0;
            pending = 0;
            appendFailed = null;
        } finally {
            gate.writeLock().unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        if (pending == 0 && applyFailed == null) {
            // every record appended from here on is newer than all this flush covers: replaying it is harmless
            inner.flush();
            return;
        }
        flushAndRetire();
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (fua && (pending != 0 || applyFailed != null)) {
            // an older record replayed over this durable write would undo it
            flushAndRetire();
        }
        inner.write(offset, src, fua);
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src) throws IOException {
        return inner.tryWrite(offset, src);
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        return inner.physicalBlockSize();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        inner.read(offset, dst);
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return inner.tryRead(offset, dst);
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        inner.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        inner.writeZeroes(offset, length);
    }

    @Override
    public boolean discardZeroesData() {
        return inner.discardZeroesData();
    }

    @Override
    public Extent extentAt(long offset) throws IOException {
        return inner.extentAt(offset);
    }

    @Override
    public Space space() throws IOException {
        return inner.space();
    }

    @Override
    public boolean copyFrom(BlockDevice source, long sourceOffset, long offset, long length) throws IOException {
        BlockDevice from = source instanceof JournaledDevice j ? j.inner : source;
        return inner.copyFrom(from, sourceOffset, offset, length);
    }

    @Override
    public void startWriteback() throws IOException {
        inner.startWriteback();
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        inner.prefetch(offset, length);
    }

    @Override
    public String describe() {
        return inner.describe() + " (atomic journal " + name + ")";
    }

    /** Flushes and retires the journal (unless a data write failed: then its record stays) and closes it. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (applyFailed == null && !inner.isReadOnly()) {
                flushAndRetire();
            }
        } finally {
            store.close();
        }
    }
}
