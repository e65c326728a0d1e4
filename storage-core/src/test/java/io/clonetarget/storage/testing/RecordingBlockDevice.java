package io.clonetarget.storage.testing;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.Ranges;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;

/**
 * A memory {@link BlockDevice} that records every write, FUA write, flush, discard and
 * write-zeroes in a {@link Journal}, can fail or corrupt I/O on demand, and can make the image
 * a crash would leave: everything flushed, plus any subset of what was not, each unflushed write
 * kept whole, dropped, or torn at 512-byte sectors. Thread-safe.
 */
public final class RecordingBlockDevice implements BlockDevice {
    private final String name;
    private final Journal journal;
    private final byte[] data;
    /** What the device held before the journal began: an image it was made from, or null for zeroes. */
    private final byte[] base;
    private final int logicalBlockSize;
    private final AtomicInteger writes = new AtomicInteger();
    private volatile int failWritesAfter = -1;
    private volatile LongPredicate failReadsAt = offset -> false;
    private volatile boolean failFlush;
    private volatile int flushDelayMicros;
    private volatile Runnable flushHook = () -> { };
    private volatile Runnable writebackHook = () -> { };
    private volatile LongPredicate dropWritesAt = offset -> false;

    public RecordingBlockDevice(String name, Journal journal, long size, int logicalBlockSize) {
        this(name, journal, new byte[Math.toIntExact(size)], logicalBlockSize);
    }

    /** A device holding a copy of {@code image} (e.g. a metadata file from an older version). */
    public static RecordingBlockDevice of(String name, Journal journal, byte[] image, int logicalBlockSize) {
        return new RecordingBlockDevice(name, journal, image.clone(), image.clone(), logicalBlockSize);
    }

    private RecordingBlockDevice(String name, Journal journal, byte[] data, int logicalBlockSize) {
        this(name, journal, data, null, logicalBlockSize);
    }

    private RecordingBlockDevice(String name, Journal journal, byte[] data, byte[] base, int logicalBlockSize) {
        this.name = name;
        this.journal = journal;
        this.data = data;
        this.base = base;
        this.logicalBlockSize = logicalBlockSize;
    }

    // ---- fault injection -------------------------------------------------------------------

    /** Writes after the next {@code n} fail with a medium error (-1: never). */
    public void failWritesAfter(int n) {
        writes.set(0);
        failWritesAfter = n;
    }

    /** Reads of ranges starting at offsets matching the predicate fail with a medium error. */
    public void failReadsAt(LongPredicate offsets) {
        failReadsAt = offsets;
    }

    public void failFlush(boolean fail) {
        failFlush = fail;
    }

    /** Runs {@code hook} at every {@link #startWriteback} (a hint: it changes nothing here). */
    public void onStartWriteback(Runnable hook) {
        writebackHook = hook;
    }

    @Override
    public void startWriteback() {
        writebackHook.run();
    }

    /** Runs {@code hook} inside every flush, after it began and before it returns (to hold it there). */
    public void onFlush(Runnable hook) {
        flushHook = hook;
    }

    /**
     * Silently drops writes to offsets matching the predicate: the call succeeds, nothing
     * changes, as a device that loses a write would (the journal does not see them either).
     */
    public void dropWritesAt(LongPredicate offsets) {
        dropWritesAt = offsets;
    }

    /**
     * Makes every flush take up to {@code micros} microseconds (random), as a real disk's
     * cache flush does: it widens the windows in which other threads act during a commit.
     */
    public void delayFlushes(int micros) {
        flushDelayMicros = micros;
    }

    /** Flips bits in place (as a bad disk would), without journaling. */
    public synchronized void corrupt(long offset, int length) {
        for (int i = 0; i < length; i++) {
            data[(int) offset + i] ^= (byte) 0x5a;
        }
    }

    // ---- BlockDevice ------------------------------------------------------------------------

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public int physicalBlockSize() {
        return 4096;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public boolean discardZeroesData() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Ranges.check(this, offset, dst.remaining());
        if (failReadsAt.test(offset)) {
            throw new MediumErrorException(name + ": injected read error at " + offset, false);
        }
        synchronized (this) {
            dst.put(data, (int) offset, dst.remaining());
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Ranges.check(this, offset, src.remaining());
        int limit = failWritesAfter;
        if (limit >= 0 && writes.incrementAndGet() > limit) {
            throw new MediumErrorException(name + ": injected write error at " + offset, true);
        }
        byte[] copy = new byte[src.remaining()];
        src.get(copy);
        if (dropWritesAt.test(offset)) {
            return;
        }
        synchronized (this) {
            System.arraycopy(copy, 0, data, (int) offset, copy.length);
            journal.record(this, fua ? Journal.Kind.FUA_WRITE : Journal.Kind.WRITE, offset, copy.length, copy);
        }
    }

    @Override
    public void flush() throws IOException {
        if (failFlush) {
            throw new MediumErrorException(name + ": injected flush error", true);
        }
        // a flush covers what completed before it began, and counts only once it has returned
        long began;
        synchronized (this) {
            began = journal.record(this, Journal.Kind.FLUSH, 0, 0, null).seq();
        }
        flushHook.run();
        int delay = flushDelayMicros;
        if (delay > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(
                    java.util.concurrent.ThreadLocalRandom.current().nextLong(delay * 1000L));
        }
        synchronized (this) {
            journal.record(this, Journal.Kind.FLUSH_END, began, 0, null);
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        zero(offset, length, Journal.Kind.DISCARD);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        zero(offset, length, Journal.Kind.ZEROES);
    }

    private void zero(long offset, long length, Journal.Kind kind) throws IOException {
        Ranges.check(this, offset, length);
        int limit = failWritesAfter;
        if (limit >= 0 && writes.incrementAndGet() > limit) {
            throw new MediumErrorException(name + ": injected write error at " + offset, true);
        }
        synchronized (this) {
            java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
            journal.record(this, kind, offset, length, null);
        }
    }

    @Override
    public String describe() {
        return "recording " + name;
    }

    @Override
    public void close() {
    }

    // ---- crash images ----------------------------------------------------------------------

    /**
     * The image this device would hold after a crash at {@code point} of the journal, starting
     * from what it held when it was made: all operations before the start of its last flush that returned before
     * {@code point} (and FUA writes) are applied; of the
     * later ones before {@code point} each is, by {@code random}, dropped, applied, or (writes
     * only, when {@code tear}) applied to a random subset of its 512-byte sectors.
     */
    public RecordingBlockDevice crashImage(long point, Random random, boolean tear, Journal newJournal) {
        List<Journal.Op> mine = journal.ops().stream().filter(o -> o.device() == this && o.seq() < point).toList();
        long lastFlush = -1;
        for (Journal.Op op : mine) {
            if (op.kind() == Journal.Kind.FLUSH_END) {
                lastFlush = Math.max(lastFlush, op.offset()); // where the completed flush began
            }
        }
        byte[] image = base == null ? new byte[data.length] : base.clone();
        for (Journal.Op op : mine) {
            boolean durable = op.seq() < lastFlush || op.kind() == Journal.Kind.FUA_WRITE;
            if (op.kind() == Journal.Kind.FLUSH || op.kind() == Journal.Kind.FLUSH_END) {
                continue;
            }
            if (durable) {
                apply(image, op, null);
                continue;
            }
            int fate = random.nextInt(tear ? 3 : 2);
            if (fate == 1) {
                apply(image, op, null);
            } else if (fate == 2) {
                apply(image, op, random);
            }
        }
        return new RecordingBlockDevice(name, newJournal, image, logicalBlockSize);
    }

    /** The image with everything applied (what a clean shutdown leaves). */
    public RecordingBlockDevice copy(Journal newJournal) {
        synchronized (this) {
            return new RecordingBlockDevice(name, newJournal, data.clone(), logicalBlockSize);
        }
    }

    private static void apply(byte[] image, Journal.Op op, Random tearing) {
        int off = (int) op.offset();
        int len = (int) op.length();
        for (int s = 0; s < len; s += 512) {
            int n = Math.min(512, len - s);
            if (tearing != null && tearing.nextBoolean()) {
                continue;
            }
            if (op.data() == null) {
                java.util.Arrays.fill(image, off + s, off + s + n, (byte) 0);
            } else {
                System.arraycopy(op.data(), s, image, off + s, n);
            }
        }
    }

    /** Number of writes of one 4 KiB metadata block at {@code location} in the journal. */
    public long writesAt(long offset) {
        return journal.ops().stream().filter(o -> o.device() == this && o.offset() == offset
                && (o.kind() == Journal.Kind.WRITE || o.kind() == Journal.Kind.FUA_WRITE)).count();
    }
}
