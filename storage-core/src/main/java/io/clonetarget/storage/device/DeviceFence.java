package io.clonetarget.storage.device;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the calls inside a device and fences them against its close, so that a file descriptor
 * is never released while a call may still use it (the number could be reused by another file,
 * and a late write would land there).
 *
 * <p>{@link #enter} before touching the resource, {@link #exit} after, in a finally block. Once
 * {@link #close} has begun, every {@code enter} fails with {@link ClosedDeviceException}; close
 * then waits for the calls already inside. One atomic word holds the closed flag and the count,
 * so entering costs one compare-and-set. Thread-safe.
 */
final class DeviceFence {
    private static final long CLOSED = 1L << 62;
    private static final long COUNT = CLOSED - 1;
    private final AtomicLong state = new AtomicLong();
    private final String what;

    DeviceFence(String what) {
        this.what = what;
    }

    /** Counts a call in. */
    void enter() throws ClosedDeviceException {
        while (true) {
            long s = state.get();
            if ((s & CLOSED) != 0) {
                throw new ClosedDeviceException(what + " is closed");
            }
            if (state.compareAndSet(s, s + 1)) {
                return;
            }
        }
    }

    /** Counts a call out. */
    void exit() {
        long s = state.decrementAndGet();
        if (s == CLOSED) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /**
     * Closes the fence and waits up to {@code timeout} for the calls inside to leave.
     *
     * @return true when the caller closed it and no call is inside any more; false when it was
     *     already closed, or calls are still inside after the timeout (the resource must then be
     *     leaked rather than released)
     */
    boolean close(long timeout, TimeUnit unit) throws InterruptedException {
        long before = state.getAndUpdate(s -> s | CLOSED);
        if ((before & CLOSED) != 0) {
            return false;
        }
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            while ((state.get() & COUNT) != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        return true;
    }

    boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /** Calls inside right now. */
    long inside() {
        return state.get() & COUNT;
    }
}
