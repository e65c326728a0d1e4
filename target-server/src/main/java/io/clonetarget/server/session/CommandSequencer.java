package io.clonetarget.server.session;

import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Delivers non-immediate commands in CmdSN order (RFC 7143 section 4.2.2.1).
 *
 * <p>A command with CmdSN = ExpCmdSN runs at once and advances ExpCmdSN; one ahead of it but
 * inside the window waits for the gap to fill; anything else (a duplicate, or beyond MaxCmdSN)
 * is silently ignored as the RFC requires. Immediate commands run at once and advance nothing.
 *
 * <p>The window: MaxCmdSN = ExpCmdSN - 1 + depth - (commands still running), never lower than a
 * value already advertised, so the initiator can never overrun {@code depth} outstanding
 * commands by much and never sees the window shrink. {@link #submit} runs on the connection's
 * reader thread only; {@link #expCmdSn}, {@link #maxCmdSn} and {@link #finished} are safe from
 * any thread.
 */
public final class CommandSequencer implements Outbox.CommandWindow {
    /** What happened to a submitted command. */
    public enum Verdict { RAN, HELD, IGNORED }

    /** The work a command does once its turn has come. */
    @FunctionalInterface
    public interface Action {
        void run() throws PduException;
    }

    private final int depth;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger advertised;
    private final Map<Integer, Action> held = new HashMap<>();
    private volatile int expCmdSn;
    private volatile java.util.function.BooleanSupplier pressure = () -> false;

    public CommandSequencer(int firstCmdSn, int depth) {
        this.depth = depth;
        this.expCmdSn = firstCmdSn;
        this.advertised = new AtomicInteger(firstCmdSn - 1 + depth);
    }

    /** Serial number comparison (RFC 1982, 32 bits): negative if a precedes b. */
    static int compare(int a, int b) {
        return Integer.signum(a - b);
    }

    /** Submits a command; {@code action} runs now, later in order, or never. */
    public Verdict submit(int cmdSn, boolean immediate, Action action) throws PduException {
        if (immediate) {
            action.run();
            return Verdict.RAN;
        }
        int exp = expCmdSn;
        if (cmdSn == exp) {
            expCmdSn = exp + 1;
            action.run();
            drain();
            return Verdict.RAN;
        }
        if (compare(cmdSn, exp) > 0 && compare(cmdSn, advertised.get()) <= 0 && !held.containsKey(cmdSn)) {
            held.put(cmdSn, action);
            return Verdict.HELD;
        }
        return Verdict.IGNORED;
    }

    private void drain() throws PduException {
        Action next;
        while ((next = held.remove(expCmdSn)) != null) {
            expCmdSn = expCmdSn + 1;
            next.run();
        }
    }

    /**
     * Whether {@link #submit} would run or hold this command rather than ignore it (so that its
     * data can be read into a task, or skipped).
     */
    public boolean accepts(int cmdSn, boolean immediate) {
        if (immediate) {
            return true;
        }
        int exp = expCmdSn;
        return cmdSn == exp || (compare(cmdSn, exp) > 0 && compare(cmdSn, advertised.get()) <= 0
                && !held.containsKey(cmdSn));
    }

    /** Commands waiting for a gap before them to fill. */
    public int heldCount() {
        return held.size();
    }

    /** A command was accepted for execution (counts against the window). */
    public void started() {
        running.incrementAndGet();
    }

    /** A command finished (its response is on its way, or it was aborted). */
    public void finished() {
        running.decrementAndGet();
    }

    public int running() {
        return running.get();
    }

    @Override
    public int expCmdSn() {
        return expCmdSn;
    }

    /**
     * Backpressure: while {@code saturated} says so (the session's data budget is past its soft
     * mark), the window does not grow: MaxCmdSN stays where it was, and the initiator sends
     * nothing new until commands finish.
     */
    public void setPressure(java.util.function.BooleanSupplier saturated) {
        this.pressure = saturated;
    }

    @Override
    public int maxCmdSn() {
        int slots = pressure.getAsBoolean() ? 0 : Math.max(0, depth - running.get());
        int proposal = expCmdSn - 1 + slots;
        return advertised.accumulateAndGet(proposal, (current, p) -> compare(p, current) > 0 ? p : current);
    }
}
