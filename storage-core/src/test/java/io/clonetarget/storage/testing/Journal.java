package io.clonetarget.storage.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * One timeline for the operations of several {@link RecordingBlockDevice}s, so that a crash
 * "at point p" means the same moment for all of them.
 */
public final class Journal {
    /** Kinds of recorded operations. */
    public enum Kind { WRITE, FUA_WRITE, FLUSH, DISCARD, ZEROES, MARK,
        /** A flush returned; {@code offset} is the sequence number of its FLUSH (where it began). */
        FLUSH_END }

    /** One completed operation. {@code data} is a copy for writes, null otherwise. */
    public record Op(long seq, RecordingBlockDevice device, Kind kind, long offset, long length, byte[] data) {
    }

    private final List<Op> ops = new ArrayList<>();

    synchronized Op record(RecordingBlockDevice device, Kind kind, long offset, long length, byte[] data) {
        Op op = new Op(ops.size(), device, kind, offset, length, data);
        ops.add(op);
        return op;
    }

    /**
     * Records a point in the timeline that belongs to no device: a test marks when a user
     * operation starts and when it is acknowledged, so that "acknowledged before that flush
     * began" is decided by one total order, across threads.
     */
    public long mark() {
        return record(null, Kind.MARK, 0, 0, null).seq();
    }

    /** The operations so far, in order. */
    public synchronized List<Op> ops() {
        return new ArrayList<>(ops);
    }

    /** The current end of the timeline (a crash here loses nothing that was flushed). */
    public synchronized long now() {
        return ops.size();
    }

    /** Positions right after each flush of any device: the crash points of "every flush boundary". */
    public synchronized List<Long> flushPoints() {
        List<Long> points = new ArrayList<>();
        for (Op op : ops) {
            if (op.kind() == Kind.FLUSH_END || op.kind() == Kind.FUA_WRITE) {
                points.add(op.seq() + 1);
            }
        }
        return points;
    }
}
