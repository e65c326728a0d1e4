package io.clonetarget.server.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A one-line progress bar for long CLI work (metadata repair, image generation), redrawn in place
 * at most five times a second; silent when standard error is not a terminal.
 */
final class Progress {
    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean tty;
    private final long started = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    Progress(PrintWriter err, String label, long total) {
        this(err, label, total, System.console() != null && !"dumb".equals(System.getenv("TERM")));
    }

    Progress(PrintWriter err, String label, long total, boolean tty) {
        this.err = err;
        this.label = label;
        this.total = total;
        this.tty = tty;
    }

    void update(long done) {
        if (!tty || total <= 0) {
            return;
        }
        long now = System.nanoTime();
        if (drawn && now - lastDraw < 200_000_000L && done < total) {
            return;
        }
        lastDraw = now;
        drawn = true;
        err.print("\r" + line(done, now - started) + "\033[K");
        err.flush();
    }

    String line(long done, long elapsedNanos) {
        double fraction = total <= 0 ? 1 : Math.min(1, (double) done / total);
        long rate = elapsedNanos > 0 ? (long) (done * 1e9 / elapsedNanos) : 0;
        long eta = rate > 0 ? (total - done) / rate : -1;
        return String.format(Locale.ROOT, "%s %s %5.1f%%  %s of %s  %s/s  ETA %s", label, CloneTable.bar(fraction, 30),
                100 * fraction, ConnectHelp.human(done), ConnectHelp.human(total), ConnectHelp.human(rate),
                CloneTable.eta(eta));
    }

    void finish() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
