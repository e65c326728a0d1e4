package io.clonetarget.storage.lock;

import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A lock on byte ranges of a volume, shared or exclusive: every write holds its range shared
 * (writes never wait for each other), and a read-modify-write command (COMPARE AND WRITE,
 * ORWRITE) holds its range exclusively, so no write can land between its read and its write.
 *
 * <p>Requests are served in arrival order among those that overlap: a request waits while an
 * earlier one (held or still waiting) overlaps it and either is exclusive, so an exclusive
 * request is not starved by a stream of shared ones. Non-overlapping requests never wait for
 * each other. The list of requests is as long as the commands in flight, and short.
 *
 * <p>Readers do not take ranges: they read optimistically ({@link #tryOptimisticRead} before,
 * {@link #validate} after) and read again under a shared range when an exclusive holder may
 * have written meanwhile, so a read never returns half of an exclusive holder's write (WRITE
 * ATOMIC, COMPARE AND WRITE) while costing plain reads two volatile loads. Thread-safe.
 */
public final class RangeLock {
    /** How a range is held. */
    public enum Mode { SHARED, EXCLUSIVE }

    /** A held (or waited for) range; {@link #close} releases it. */
    public final class Range implements AutoCloseable {
        private final long from;
        private final long to;
        private final Mode mode;

        private Range(long from, long to, Mode mode) {
            this.from = from;
            this.to = to;
            this.mode = mode;
        }

        private boolean conflicts(Range other) {
            return from < other.to && other.from < to && (mode == Mode.EXCLUSIVE || other.mode == Mode.EXCLUSIVE);
        }

        @Override
        public void close() {
            release(this);
        }
    }

    private final ArrayDeque<Range> requests = new ArrayDeque<>();
    /** Exclusive ranges granted and released so far; equal when none is held. Changed under {@code this}. */
    private final AtomicLong exclusiveGranted = new AtomicLong();
    private final AtomicLong exclusiveReleased = new AtomicLong();

    /**
     * A stamp for an optimistic read, or -1 when an exclusive range is held now (read under
     * {@link #lock} with {@link Mode#SHARED} then, or try later).
     */
    public long tryOptimisticRead() {
        long granted = exclusiveGranted.get();
        return exclusiveReleased.get() == granted ? granted : -1;
    }

    /**
     * Whether no exclusive range was granted since {@code stamp} was taken, i.e. what was read
     * since then is not part of an exclusive holder's write. False for the stamp -1.
     */
    public boolean validate(long stamp) {
        VarHandle.acquireFence();
        return stamp >= 0 && exclusiveGranted.get() == stamp;
    }

    /**
     * Takes {@code [from, to)} in {@code mode}, waiting while an earlier overlapping request
     * conflicts.
     *
     * @throws InterruptedException when interrupted while waiting (nothing is held then)
     */
    public Range lock(long from, long to, Mode mode) throws InterruptedException {
        Range r = new Range(from, to, mode);
        synchronized (this) {
            requests.addLast(r);
            try {
                while (blocked(r)) {
                    wait();
                }
                granted(r);
            } catch (InterruptedException e) {
                requests.remove(r);
                notifyAll();
                throw e;
            }
        }
        return r;
    }

    /** Takes {@code [from, to)} in {@code mode} only if that needs no waiting; else null. */
    public Range tryLock(long from, long to, Mode mode) {
        Range r = new Range(from, to, mode);
        synchronized (this) {
            if (blocked(r)) {
                return null;
            }
            requests.addLast(r);
            granted(r);
        }
        return r;
    }

    /** Whether an earlier request than {@code r} (every one, when {@code r} is not queued) conflicts with it. */
    private boolean blocked(Range r) {
        for (Iterator<Range> it = requests.iterator(); it.hasNext(); ) {
            Range other = it.next();
            if (other == r) {
                return false;
            }
            if (other.conflicts(r)) {
                return true;
            }
        }
        return false;
    }

    private void granted(Range r) {
        if (r.mode == Mode.EXCLUSIVE) {
            exclusiveGranted.incrementAndGet();
        }
    }

    private synchronized void release(Range r) {
        if (requests.remove(r)) {
            if (r.mode == Mode.EXCLUSIVE) {
                exclusiveReleased.incrementAndGet();
            }
            notifyAll();
        }
    }

    /** Ranges held or waited for right now. */
    public synchronized int size() {
        return requests.size();
    }
}
