package io.clonetarget.server.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Collection;
import java.util.function.Supplier;

/**
 * The server's metrics, in the Prometheus client's registry, scraped as the Prometheus text
 * format ({@code GET /metrics} of the admin API):
 *
 * <pre>
 * clonetarget_lun_commands_total{target,lun,op}      op: read, write, other
 * clonetarget_lun_bytes_total{target,lun,op}         read, write
 * clonetarget_lun_errors_total{target,lun}           commands answered other than GOOD
 * clonetarget_lun_command_seconds{target,lun,op}     histogram, arrival to answer
 * clonetarget_session_commands_total{target,initiator,isid}
 * clonetarget_session_bytes_total{target,initiator,isid,op}
 * clonetarget_session_digest_errors_total{target,initiator,isid}
 * clonetarget_logins_total{result,reason}            result: success, failure
 * clonetarget_clone_size_bytes{volume}, clonetarget_clone_hydrated_bytes{volume},
 * clonetarget_clone_hydration_rate_bytes_per_second{volume}, clonetarget_clone_errors_total{volume}
 * clonetarget_snapshots{volume}, clonetarget_snapshots_failed{volume},
 * clonetarget_snapshot_diff_used_bytes{volume}, clonetarget_snapshot_diff_limit_bytes{volume},
 * clonetarget_snapshot_low_space{volume} (1 below the low-space threshold), clonetarget_snapshot_copies{volume}
 * </pre>
 *
 * The data path holds {@link LunMetrics} and {@link SessionMetrics} whose data points were looked
 * up once, so counting a command costs a few atomic adds and no allocation. Thread-safe.
 */
public final class ServerMetrics {
    /** Latency buckets from 50 us (a cached 4 KiB read) to 10 s (a stalled disk). */
    static final double[] LATENCY_BOUNDS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    /** One clone's figures at scrape time. */
    public record CloneFigures(String volume, long size, long hydrated, long rate, long errors) {
    }

    private final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter lunCommands;
    final Counter lunBytes;
    final Counter lunErrors;
    final Histogram lunLatency;
    final Counter sessionCommands;
    final Counter sessionBytes;
    final Counter sessionDigestErrors;
    private final Counter logins;

    public ServerMetrics() {
        lunCommands = Counter.builder().name("clonetarget_lun_commands_total")
                .help("SCSI commands answered, per exported volume and kind").labelNames("target", "volume", "op").register(registry);
        lunBytes = Counter.builder().name("clonetarget_lun_bytes_total").unit(Unit.BYTES)
                .help("Bytes read and written, per exported volume").labelNames("target", "volume", "op").register(registry);
        lunErrors = Counter.builder().name("clonetarget_lun_errors_total")
                .help("Commands answered with a status other than GOOD, per exported volume").labelNames("target", "volume")
                .register(registry);
        lunLatency = Histogram.builder().name("clonetarget_lun_command_seconds").unit(Unit.SECONDS)
                .help("Time from a command's arrival to its answer, per exported volume and kind").classicOnly()
                .classicUpperBounds(LATENCY_BOUNDS).labelNames("target", "volume", "op").register(registry);
        sessionCommands = Counter.builder().name("clonetarget_session_commands_total")
                .help("SCSI commands answered, per session").labelNames("target", "initiator", "isid").register(registry);
        sessionBytes = Counter.builder().name("clonetarget_session_bytes_total").unit(Unit.BYTES)
                .help("Bytes read and written, per session").labelNames("target", "initiator", "isid", "op")
                .register(registry);
        sessionDigestErrors = Counter.builder().name("clonetarget_session_digest_errors_total")
                .help("Header and data digest errors, per session").labelNames("target", "initiator", "isid")
                .register(registry);
        logins = Counter.builder().name("clonetarget_logins_total")
                .help("Logins, by result and (for failures) reason").labelNames("result", "reason").register(registry);
    }

    /**
     * The counters of one volume as one target exports it (whatever LUN numbers its maps give
     * it); dropped again with {@link LunMetrics#close}.
     */
    public LunMetrics lun(String target, String volume) {
        return new LunMetrics(this, target, volume);
    }

    /** The counters of one session (dropped again with {@link SessionMetrics#close}). */
    public SessionMetrics session(String target, String initiator, long isid) {
        return new SessionMetrics(this, target, initiator, String.format("%012x", isid));
    }

    /** Counts a login: {@code reason} null for a success, else the login status's name. */
    public void login(String failureReason) {
        if (failureReason == null) {
            logins.labelValues("success", "").inc();
        } else {
            logins.labelValues("failure", failureReason).inc();
        }
    }

    /** One volume's snapshot figures at scrape time. */
    public record SnapshotFigures(String volume, long snapshots, long failed, long diffUsed, long diffLimit,
                                  long lowSpace, long copies) {
    }

    /** Reports the snapshots of volumes that have them, read from {@code volumes} at every scrape. */
    public void snapshots(Supplier<Collection<SnapshotFigures>> volumes) {
        snapshotGauge("clonetarget_snapshots", "Snapshots each volume holds", null, volumes, SnapshotFigures::snapshots);
        snapshotGauge("clonetarget_snapshots_failed", "Failed snapshots of each volume (the difference storage "
                + "overflowed)", null, volumes, SnapshotFigures::failed);
        snapshotGauge("clonetarget_snapshot_diff_used_bytes", "Difference storage in use", Unit.BYTES, volumes,
                SnapshotFigures::diffUsed);
        snapshotGauge("clonetarget_snapshot_diff_limit_bytes", "Difference storage limit", Unit.BYTES, volumes,
                SnapshotFigures::diffLimit);
        snapshotGauge("clonetarget_snapshot_low_space", "1 while the difference storage is below its low-space "
                + "threshold", null, volumes, SnapshotFigures::lowSpace);
        snapshotGauge("clonetarget_snapshot_copies", "Chunks copied on write since the start", null, volumes,
                SnapshotFigures::copies);
    }

    private void snapshotGauge(String name, String help, Unit unit, Supplier<Collection<SnapshotFigures>> volumes,
                               java.util.function.ToLongFunction<SnapshotFigures> value) {
        GaugeWithCallback.Builder b = GaugeWithCallback.builder().name(name).help(help).labelNames("volume")
                .callback(cb -> {
                    for (SnapshotFigures f : volumes.get()) {
                        cb.call(value.applyAsLong(f), f.volume());
                    }
                });
        if (unit != null) {
            b.unit(unit);
        }
        b.register(registry);
    }

    /** Reports clones' hydration, read from {@code clones} at every scrape. */
    public void clones(Supplier<Collection<CloneFigures>> clones) {
        gauge("clonetarget_clone_size_bytes", "Size of each clone volume", Unit.BYTES, clones, CloneFigures::size);
        gauge("clonetarget_clone_hydrated_bytes", "Bytes of each clone copied from its source", Unit.BYTES, clones,
                CloneFigures::hydrated);
        gauge("clonetarget_clone_hydration_rate_bytes_per_second", "Current background copy rate of each clone",
                null, clones, CloneFigures::rate);
        gauge("clonetarget_clone_errors", "Copy errors of each clone so far", null, clones, CloneFigures::errors);
    }

    private void gauge(String name, String help, Unit unit, Supplier<Collection<CloneFigures>> clones,
                       java.util.function.ToLongFunction<CloneFigures> value) {
        GaugeWithCallback.Builder b = GaugeWithCallback.builder().name(name).help(help).labelNames("volume")
                .callback(cb -> {
                    for (CloneFigures c : clones.get()) {
                        cb.call(value.applyAsLong(c), c.volume());
                    }
                });
        if (unit != null) {
            b.unit(unit);
        }
        b.register(registry);
    }

    /** One exported volume's counters as {@code clonetarget stats} shows them. */
    public record LunStats(String target, String volume, long reads, long writes, long other, long readBytes,
                           long writeBytes, long errors, double meanReadMicros, double meanWriteMicros) {
    }

    /** Every exported volume's counters now, by target and volume. */
    public java.util.List<LunStats> lunStats() {
        record Key(String target, String volume) {
        }
        java.util.Map<Key, long[]> counts = new java.util.TreeMap<>(
                java.util.Comparator.comparing(Key::target).thenComparing(Key::volume));
        java.util.Map<Key, double[]> latency = new java.util.HashMap<>();
        for (var snapshot : registry.scrape()) {
            String name = snapshot.getMetadata().getPrometheusName();
            if (snapshot instanceof io.prometheus.metrics.model.snapshots.CounterSnapshot c) {
                for (var d : c.getDataPoints()) {
                    Key k = new Key(d.getLabels().get("target"), d.getLabels().get("volume"));
                    if (k.target() == null || k.volume() == null) {
                        continue;
                    }
                    long[] n = counts.computeIfAbsent(k, x -> new long[6]);
                    String op = d.getLabels().get("op");
                    long v = (long) d.getValue();
                    switch (name) {
                        case "clonetarget_lun_commands" -> n["read".equals(op) ? 0 : "write".equals(op) ? 1 : 2] += v;
                        case "clonetarget_lun_bytes" -> n["read".equals(op) ? 3 : 4] += v;
                        case "clonetarget_lun_errors" -> n[5] += v;
                        default -> {
                        }
                    }
                }
            } else if (snapshot instanceof io.prometheus.metrics.model.snapshots.HistogramSnapshot h
                    && name.equals("clonetarget_lun_command_seconds")) {
                for (var d : h.getDataPoints()) {
                    Key k = new Key(d.getLabels().get("target"), d.getLabels().get("volume"));
                    double[] l = latency.computeIfAbsent(k, x -> new double[4]);
                    String op = d.getLabels().get("op");
                    if ("read".equals(op)) {
                        l[0] += d.getSum();
                        l[1] += d.getCount();
                    } else if ("write".equals(op)) {
                        l[2] += d.getSum();
                        l[3] += d.getCount();
                    }
                }
            }
        }
        java.util.List<LunStats> list = new java.util.ArrayList<>();
        counts.forEach((k, n) -> {
            double[] l = latency.getOrDefault(k, new double[4]);
            list.add(new LunStats(k.target(), k.volume(), n[0], n[1], n[2], n[3], n[4], n[5],
                    l[1] == 0 ? 0 : l[0] / l[1] * 1e6, l[3] == 0 ? 0 : l[2] / l[3] * 1e6));
        });
        return list;
    }

    /** The Prometheus text format (version 0.0.4). */
    public byte[] scrape() {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("writing metrics to memory failed", e);
        }
    }

    public static String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }
}
