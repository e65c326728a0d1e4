package io.clonetarget.server.transport;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many bytes of data buffers (data-out received, data-in to send) commands may hold: per
 * session and for the whole server. Each command reserves what its CDB can move before any
 * buffer is allocated, and gives it back once its response has left.
 *
 * <p>Two marks per level. Past the <em>soft</em> mark the session's window stops growing
 * (MaxCmdSN is not advanced), so the initiator sends no new commands until others finish: that
 * is the backpressure, and normally the only thing an initiator notices. A command that arrives
 * anyway (sent in the window it saw before) is still admitted up to the <em>hard</em> mark
 * (twice the soft one); beyond it the command is answered TASK SET FULL without allocating
 * anything, which initiators answer by lowering their queue depth and retrying. Thread-safe.
 */
public final class DataBudget {
    private final DataBudget parent;
    private final long soft;
    private final AtomicLong used = new AtomicLong();

    private DataBudget(DataBudget parent, long soft) {
        if (soft <= 0) {
            throw new IllegalArgumentException("budget " + soft);
        }
        this.parent = parent;
        this.soft = soft;
    }

    /** The server's budget. */
    public static DataBudget server(long softBytes) {
        return new DataBudget(null, softBytes);
    }

    /** A session's budget inside this one. */
    public DataBudget session(long softBytes) {
        return new DataBudget(this, softBytes);
    }

    /**
     * Reserves {@code bytes} here and in every enclosing budget, if none would pass its hard
     * mark; else reserves nothing.
     */
    public boolean tryReserve(long bytes) {
        if (bytes <= 0) {
            return true;
        }
        long hard = 2 * soft;
        while (true) {
            long u = used.get();
            if (u + bytes > hard && u > 0) {
                return false; // a single command larger than the hard mark passes only into an empty budget
            }
            if (used.compareAndSet(u, u + bytes)) {
                break;
            }
        }
        if (parent != null && !parent.tryReserve(bytes)) {
            used.addAndGet(-bytes);
            return false;
        }
        return true;
    }

    /** Gives back what {@link #tryReserve} took. */
    public void release(long bytes) {
        if (bytes <= 0) {
            return;
        }
        used.addAndGet(-bytes);
        if (parent != null) {
            parent.release(bytes);
        }
    }

    /** Whether this budget or an enclosing one is past its soft mark (new commands should wait). */
    public boolean saturated() {
        return used.get() >= soft || (parent != null && parent.saturated());
    }

    /** Bytes reserved here now. */
    public long used() {
        return used.get();
    }

    public long softLimit() {
        return soft;
    }
}
