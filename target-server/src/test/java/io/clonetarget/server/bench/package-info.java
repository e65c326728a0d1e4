/**
 * Benchmark clients of ours, run by the scripts in bench/ (not tests):
 * {@link io.clonetarget.server.bench.LatencyClient} records every command's latency in an
 * HdrHistogram (bench/latency.sh, bench/soak.sh).
 */
package io.clonetarget.server.bench;
