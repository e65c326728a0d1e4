package io.clonetarget.server.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;

/**
 * The counters of one exported volume (labels target and volume), looked up once: counting a
 * command allocates nothing. Thread-safe.
 */
public final class LunMetrics implements AutoCloseable {
    /** Kinds of command, by what they move. */
    public enum Op { READ, WRITE, OTHER }

    /** Counts nothing (a LUN outside any server, in tests). */
    public static final LunMetrics NONE = new LunMetrics();

    private final CounterDataPoint[] commands = new CounterDataPoint[3];
    private final DistributionDataPoint[] latency = new DistributionDataPoint[3];
    private final CounterDataPoint readBytes;
    private final CounterDataPoint writeBytes;
    private final CounterDataPoint errors;
    private final ServerMetrics owner;
    private final String[] labels;

    private LunMetrics() {
        owner = null;
        labels = null;
        readBytes = null;
        writeBytes = null;
        errors = null;
    }

    LunMetrics(ServerMetrics m, String target, String lun) {
        owner = m;
        labels = new String[] {target, lun};
        for (Op op : Op.values()) {
            String name = op.name().toLowerCase(java.util.Locale.ROOT);
            commands[op.ordinal()] = m.lunCommands.labelValues(target, lun, name);
            latency[op.ordinal()] = m.lunLatency.labelValues(target, lun, name);
        }
        readBytes = m.lunBytes.labelValues(target, lun, "read");
        writeBytes = m.lunBytes.labelValues(target, lun, "write");
        errors = m.lunErrors.labelValues(target, lun);
    }

    /** One command answered: its kind, the bytes it moved, whether it failed, and how long it took. */
    public void completed(Op op, long bytes, boolean failed, long nanos) {
        if (errors == null) {
            return;
        }
        commands[op.ordinal()].inc();
        latency[op.ordinal()].observe(nanos / 1e9);
        if (bytes > 0) {
            (op == Op.WRITE ? writeBytes : readBytes).inc(bytes);
        }
        if (failed) {
            errors.inc();
        }
    }

    /** Drops the series (the volume is no longer exported by the target). */
    @Override
    public void close() {
        if (owner == null) {
            return;
        }
        for (Op op : Op.values()) {
            String name = op.name().toLowerCase(java.util.Locale.ROOT);
            owner.lunCommands.remove(labels[0], labels[1], name);
            owner.lunLatency.remove(labels[0], labels[1], name);
        }
        owner.lunBytes.remove(labels[0], labels[1], "read");
        owner.lunBytes.remove(labels[0], labels[1], "write");
        owner.lunErrors.remove(labels);
    }

    /** The kind of a CDB by its operation code. */
    public static Op of(int opcode) {
        return switch (opcode) {
            case 0x08, 0x28, 0xa8, 0x88 -> Op.READ;
            case 0x0a, 0x2a, 0xaa, 0x8a -> Op.WRITE;
            default -> Op.OTHER;
        };
    }
}
