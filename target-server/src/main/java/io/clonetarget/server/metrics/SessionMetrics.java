package io.clonetarget.server.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;

/**
 * The counters of one session, removed from the registry when it ends (so that sessions that
 * come and go do not pile up series). Thread-safe.
 */
public final class SessionMetrics implements AutoCloseable {
    /** Counts nothing (sessions outside a server, in tests). */
    public static final SessionMetrics NONE = new SessionMetrics();

    private final ServerMetrics owner;
    private final String[] labels;
    private final CounterDataPoint commands;
    private final CounterDataPoint readBytes;
    private final CounterDataPoint writeBytes;
    private final CounterDataPoint digestErrors;

    private SessionMetrics() {
        owner = null;
        labels = null;
        commands = null;
        readBytes = null;
        writeBytes = null;
        digestErrors = null;
    }

    SessionMetrics(ServerMetrics owner, String target, String initiator, String isid) {
        this.owner = owner;
        this.labels = new String[] {target, initiator, isid};
        commands = owner.sessionCommands.labelValues(labels);
        readBytes = owner.sessionBytes.labelValues(target, initiator, isid, "read");
        writeBytes = owner.sessionBytes.labelValues(target, initiator, isid, "write");
        digestErrors = owner.sessionDigestErrors.labelValues(labels);
    }

    public void completed(LunMetrics.Op op, long bytes) {
        if (owner == null) {
            return;
        }
        commands.inc();
        if (bytes > 0 && op != LunMetrics.Op.OTHER) {
            (op == LunMetrics.Op.WRITE ? writeBytes : readBytes).inc(bytes);
        }
    }

    public void digestError() {
        if (owner != null) {
            digestErrors.inc();
        }
    }

    @Override
    public void close() {
        if (owner == null) {
            return;
        }
        owner.sessionCommands.remove(labels);
        owner.sessionDigestErrors.remove(labels);
        owner.sessionBytes.remove(labels[0], labels[1], labels[2], "read");
        owner.sessionBytes.remove(labels[0], labels[1], labels[2], "write");
    }
}
