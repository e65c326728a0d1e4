package io.clonetarget.storage.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.clonetarget.storage.testing.Journal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The expected outcome of a run of atomic, plain and FUA writes and flushes on a
 * {@link JournaledDevice}, checked against what a crash image reads after replay.
 *
 * <p>Every write stamps each 512-byte sector with its own id (increasing in issue order, and
 * writes to one sector are never in flight together) and the sector's offset; a sector reads
 * zeroes or exactly one stamp. Invariants at crash point {@code p}:
 * <ul>
 *   <li>each sector holds zeroes or a write that began before {@code p} and covers it;</li>
 *   <li>no sector is older than its newest write that was durable at {@code p}: an atomic write
 *       acknowledged before {@code p} (its record was flushed), a FUA write acknowledged before
 *       {@code p}, or any write acknowledged before a flush that began after it and returned
 *       before {@code p};</li>
 *   <li>an atomic write is whole or absent: if any sector of its range holds it, every sector of
 *       the range holds it or something newer.</li>
 * </ul>
 * Thread-safe: writers record concurrently.
 */
final class JournalCrashModel {
    static final int SECTOR = 512;

    enum Kind { ATOMIC, ATOMIC_FUA, PLAIN, FUA, FLUSH }

    /** One operation; {@code acked} is Long.MAX_VALUE while in flight (or if it failed). */
    static final class Op {
        final Kind kind;
        final long id;
        final long offset;
        final int length;
        final long started;
        volatile long acked = Long.MAX_VALUE;

        Op(Kind kind, long id, long offset, int length, long started) {
            this.kind = kind;
            this.id = id;
            this.offset = offset;
            this.length = length;
            this.started = started;
        }

        boolean atomic() {
            return kind == Kind.ATOMIC || kind == Kind.ATOMIC_FUA;
        }
    }

    private final Journal journal;
    private final List<Op> ops = new ArrayList<>();
    private final AtomicLong ids = new AtomicLong();

    JournalCrashModel(Journal journal) {
        this.journal = journal;
    }

    /** Does one operation on {@code device}, recording its start and acknowledgment in the timeline. */
    void run(BlockDevice device, Kind kind, long offset, int length) throws IOException {
        Op op;
        synchronized (this) {
            op = new Op(kind, ids.incrementAndGet(), offset, length, journal.mark());
            ops.add(op);
        }
        switch (kind) {
            case FLUSH -> device.flush();
            case ATOMIC, ATOMIC_FUA -> device.writeAtomic(offset, stamp(op.id, offset, length), kind == Kind.ATOMIC_FUA);
            case PLAIN, FUA -> device.write(offset, stamp(op.id, offset, length), kind == Kind.FUA);
        }
        op.acked = journal.mark();
    }

    static ByteBuffer stamp(long id, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int s = 0; s < length; s += SECTOR) {
            b.putLong(s, id).putLong(s + 8, offset + s);
            for (int i = 16; i < SECTOR; i++) {
                b.put(s + i, (byte) (id * 31 + i));
            }
        }
        return b;
    }

    /** The id in the sector at {@code b[at..]} (0 for zeroes); fails on anything else. */
    private static long version(ByteBuffer b, int at, long offset, String where) {
        long id = b.getLong(at);
        boolean zero = id == 0;
        for (int i = 0; i < SECTOR; i++) {
            byte want = zero ? 0 : i < 16 ? stampByte(id, offset, i) : (byte) (id * 31 + i);
            if (b.get(at + i) != want) {
                fail(where + ": sector at " + offset + " is garbage (byte " + i + ")");
            }
        }
        return id;
    }

    private static byte stampByte(long id, long offset, int i) {
        ByteBuffer s = ByteBuffer.allocate(16).putLong(id).putLong(offset);
        return s.get(i);
    }

    /** Checks the invariants on {@code recovered} (read whole) for a crash at {@code point}. */
    synchronized void check(BlockDevice recovered, long point, String where) throws IOException {
        int size = Math.toIntExact(recovered.size());
        ByteBuffer image = ByteBuffer.allocateDirect(size);
        recovered.read(0, image);
        long[] version = new long[size / SECTOR];
        for (int s = 0; s < version.length; s++) {
            version[s] = version(image, s * SECTOR, (long) s * SECTOR, where);
        }
        java.util.Map<Long, Op> byId = new java.util.HashMap<>();
        List<Op> flushes = new ArrayList<>();
        for (Op op : ops) {
            byId.put(op.id, op);
            if (op.kind == Kind.FLUSH && op.acked < point) {
                flushes.add(op);
            }
        }
        long[] floor = new long[version.length];
        for (Op op : ops) {
            if (op.kind == Kind.FLUSH || op.acked >= point) {
                continue;
            }
            boolean durable = op.atomic() || op.kind == Kind.FUA;
            for (Op f : flushes) {
                durable |= f.started > op.acked;
            }
            if (durable) {
                for (long s = op.offset / SECTOR; s < (op.offset + op.length) / SECTOR; s++) {
                    floor[(int) s] = Math.max(floor[(int) s], op.id);
                }
            }
        }
        for (int s = 0; s < version.length; s++) {
            long v = version[s];
            if (v != 0) {
                Op w = byId.get(v);
                if (w == null || w.started >= point || w.offset > (long) s * SECTOR
                        || w.offset + w.length <= (long) s * SECTOR) {
                    fail(where + ": sector " + s + " holds write " + v + ", which had not begun or does not cover it");
                }
            }
            if (v < floor[s]) {
                fail(where + ": sector " + s + " holds write " + v + " but write " + floor[s] + " ("
                        + byId.get(floor[s]).kind + ") was durable: an acknowledged write was lost");
            }
        }
        for (Op op : ops) {
            if (!op.atomic() || op.started >= point) {
                continue;
            }
            int first = (int) (op.offset / SECTOR);
            int n = op.length / SECTOR;
            int holding = 0;
            for (int s = first; s < first + n; s++) {
                holding += version[s] == op.id ? 1 : 0;
            }
            if (holding > 0) {
                for (int s = first; s < first + n; s++) {
                    if (version[s] < op.id) {
                        fail(where + ": atomic write " + op.id + " at " + op.offset + "+" + op.length + " is torn: "
                                + holding + " of " + n + " sectors hold it, sector " + s + " holds older " + version[s]);
                    }
                }
            }
        }
    }

    synchronized int size() {
        return ops.size();
    }

    /** How many atomic writes were acknowledged (a run that made none proves nothing). */
    synchronized long atomicsAcked() {
        return ops.stream().filter(o -> o.atomic() && o.acked != Long.MAX_VALUE).count();
    }

    static void assertWhole(BlockDevice d, long id, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        d.read(offset, b);
        assertEquals(stamp(id, offset, length).clear(), b.clear(), "content at " + offset + "+" + length);
    }
}
