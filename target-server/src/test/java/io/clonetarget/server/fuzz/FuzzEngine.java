package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Runs fuzz rounds against a target for a while and checks its invariants after each one (see the
 * package documentation). Seeded: round {@code i} has a seed derived from the run's seed, printed
 * with every finding, and the same run seed replays the same rounds. A stack trace found in the
 * log is shrunk to the fewest recorded chunks that still produce it, and its bytes are printed.
 *
 * <p>As a main (bench/soak.sh): {@code FuzzEngine --port=N --target=IQN --lun-file=PATH
 * [--host=127.0.0.1] [--lun=0] [--seconds=60] [--seed=N] [--log=SERVER_LOG] [--pid=SERVER_PID]
 * [--keep-going]}; exits 1 when it found something.
 */
public final class FuzzEngine {
    /** What to run against and how hard to look. */
    public record Settings(FuzzRound.Endpoint endpoint, LunLayout layout, Path image, long seed, int seconds,
                           int closeBoundSeconds, long maxDirectBytes, long maxRssBytes, long maxHeapBytes,
                           boolean keepGoing) {
    }

    /** One broken invariant, with what is needed to reproduce it. */
    public record Finding(String kind, int round, long roundSeed, String detail, String repro) {
        @Override
        public String toString() {
            return "FINDING " + kind + " in round " + round + " (round seed " + roundSeed + "):\n  " + detail
                    + (repro == null ? "" : "\n  reproduce: " + repro);
        }
    }

    /** The run's outcome. */
    public record Report(long seed, int rounds, long pdusSent, long bytesSent, long mutatedPdus, int closedByTarget,
                         long maxDirect, long maxRss, Map<String, Integer> endings, List<Finding> findings) {
        public String summary() {
            return String.format("fuzz seed %d: %d rounds, %d chunks (%d mutated PDUs), %.1f MiB sent; target closed"
                    + " %d connections itself; max direct %s, max RSS %s; endings %s; %d finding(s)", seed, rounds,
                    pdusSent, mutatedPdus, bytesSent / 1048576.0, closedByTarget, mib(maxDirect), mib(maxRss), endings,
                    findings.size());
        }
    }

    private final Settings s;
    private final Probe probe;
    private final LogWatch log;
    private final List<Finding> findings = new ArrayList<>();
    private final Set<String> seen = new HashSet<>();
    private final AtomicLong maxDirect = new AtomicLong(-1);
    private final AtomicLong maxRss = new AtomicLong(-1);
    private volatile boolean sampling;

    /** {@code probe} and {@code log} may be null (nothing of the server seen but its answers). */
    public FuzzEngine(Settings settings, Probe probe, LogWatch log) {
        this.s = settings;
        this.probe = probe;
        this.log = log;
    }

    static String mib(long bytes) {
        return bytes < 0 ? "?" : String.format("%.0f MiB", bytes / 1048576.0);
    }

    public Report run() throws IOException, InterruptedException {
        System.out.println("fuzz: seed " + s.seed() + " (replay with -Dclonetarget.fuzzSeed=" + s.seed() + "), "
                + s.seconds() + " s against " + s.endpoint());
        RegionGuard guard = s.image() == null ? null : new RegionGuard(s.image(), s.layout());
        Checker checker = new Checker(s.endpoint(), s.layout(), s.seed() ^ 0x5eed);
        check(-1, 0, checker, guard, null);
        drainTraces(-1, 0, null);
        int baseThreads = probe == null ? -1 : probe.threads();
        int baseFds = probe == null ? -1 : probe.fileDescriptors();
        Thread sampler = startSampler();
        SplittableRandom seeds = new SplittableRandom(s.seed());
        long end = System.nanoTime() + s.seconds() * 1_000_000_000L;
        int rounds = 0;
        long chunks = 0;
        long bytes = 0;
        long mutated = 0;
        int closedByTarget = 0;
        Map<String, Integer> endings = new LinkedHashMap<>();
        try {
            while (System.nanoTime() < end && (findings.isEmpty() || s.keepGoing())) {
                int round = rounds++;
                long roundSeed = seeds.nextLong();
                FuzzRound.Outcome o;
                try {
                    o = new FuzzRound(s.endpoint(), s.layout(), round, roundSeed).run();
                } catch (IOException e) {
                    found("connect", round, roundSeed, "cannot connect for a round: " + e, null);
                    break;
                }
                chunks += o.chunks().size();
                bytes += o.sentBytes();
                mutated += o.mutations().size();
                closedByTarget += o.closedByTarget() ? 1 : 0;
                endings.merge(o.ending().replaceAll(" \\(.*", ""), 1, Integer::sum);
                for (String e : o.targetErrors()) {
                    found("malformed-response", round, roundSeed, e, null);
                }
                awaitClosed(o);
                drainTraces(round, roundSeed, o);
                if (!check(round, roundSeed, checker, guard, o)) {
                    break; // the target no longer works: later rounds would only repeat it
                }
                drainTraces(round, roundSeed, o);
                memory(round, roundSeed, o);
                if (round % 10 == 9) {
                    resources(round, roundSeed, baseThreads, baseFds);
                }
            }
            resources(rounds, 0, baseThreads, baseFds);
        } finally {
            sampling = false;
            sampler.join();
        }
        Report r = new Report(s.seed(), rounds, chunks, bytes, mutated, closedByTarget, maxDirect.get(), maxRss.get(),
                endings, List.copyOf(findings));
        System.out.println(r.summary());
        return r;
    }

    private Thread startSampler() {
        sampling = true;
        return Thread.ofPlatform().daemon().name("fuzz-sampler").start(() -> {
            while (sampling) {
                if (probe != null) {
                    maxDirect.accumulateAndGet(probe.directBytes(), Math::max);
                    maxRss.accumulateAndGet(probe.rssBytes(), Math::max);
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    private void found(String kind, int round, long roundSeed, String detail, String repro) {
        String key = kind + ":" + detail.replaceAll("[0-9a-f]{8}|\\d+", "#");
        if (seen.add(key)) {
            Finding f = new Finding(kind, round, roundSeed, detail, repro);
            findings.add(f);
            System.out.println(f);
        }
    }

    /** Every connection the round dropped is closed by the target within the bound. */
    private void awaitClosed(FuzzRound.Outcome o) throws InterruptedException {
        long until = System.nanoTime() + s.closeBoundSeconds() * 1_000_000_000L;
        BooleanSupplier closed = () -> {
            if (probe != null && probe.connections() > 0) {
                return false;
            }
            if (probe != null && probe.sessions() > 0) {
                return false;
            }
            return !TcpTable.openByServer(TcpTable.serverEnd(s.endpoint().port(), o.localPort()));
        };
        while (!closed.getAsBoolean()) {
            if (System.nanoTime() > until) {
                found("connection-not-closed", o.round(), o.seed(), String.format(
                        "%s s after the fuzzer ended its connection (%s) the target still holds it: %d connection(s),"
                        + " %d session(s), its socket end in state %s (01 ESTABLISHED, 08 CLOSE_WAIT), threads %s",
                        s.closeBoundSeconds(), o.ending(), probe == null ? -1 : probe.connections(),
                        probe == null ? -1 : probe.sessions(), TcpTable.serverEnd(s.endpoint().port(), o.localPort()),
                        probe == null ? "?" : probe.connectionThreads()), repro(o));
                return;
            }
            Thread.sleep(10);
        }
    }

    /** The checker works and no protected byte changed. */
    private boolean check(int round, long roundSeed, Checker checker, RegionGuard guard, FuzzRound.Outcome o)
            throws IOException {
        try {
            checker.check();
        } catch (Checker.CheckFailed e) {
            found("checker-failed", round, roundSeed, "a fresh well-behaved session failed after the round: "
                    + e.getMessage(), o == null ? null : repro(o));
            return false;
        }
        if (guard != null) {
            String changed = guard.changes();
            if (changed != null) {
                found("protected-bytes-changed", round, roundSeed, changed, o == null ? null : repro(o));
                return false;
            }
        }
        return true;
    }

    private void memory(int round, long roundSeed, FuzzRound.Outcome o) {
        long direct = maxDirect.get();
        long rss = maxRss.get();
        if (s.maxDirectBytes() > 0 && direct > s.maxDirectBytes()) {
            found("direct-memory", round, roundSeed, "direct buffers reached " + mib(direct) + " (bound "
                    + mib(s.maxDirectBytes()) + ") during rounds up to this one; this round: "
                    + summarize(o.mutations()), repro(o));
            maxDirect.set(0);
        }
        if (s.maxRssBytes() > 0 && rss > s.maxRssBytes()) {
            found("rss", round, roundSeed, "RSS reached " + mib(rss) + " (bound " + mib(s.maxRssBytes()) + ")",
                    repro(o));
            maxRss.set(0);
        }
    }

    private static String summarize(List<String> mutations) {
        long large = mutations.stream().filter(m -> m.contains("large")).count();
        return mutations.size() + " mutations" + (large > 0 ? ", " + large + " large announcements" : "");
    }

    /** Threads and descriptors come back to where they started (the server's pools may have grown a little). */
    private void resources(int round, long roundSeed, int baseThreads, int baseFds) throws InterruptedException {
        if (probe == null) {
            return;
        }
        long until = System.nanoTime() + s.closeBoundSeconds() * 1_000_000_000L;
        while (probe.threads() > baseThreads + 40 || probe.fileDescriptors() > baseFds + 16) {
            if (System.nanoTime() > until) {
                found("resources", round, roundSeed, "after round " + round + ": " + probe.threads()
                        + " threads (baseline " + baseThreads + "), " + probe.fileDescriptors() + " descriptors"
                        + " (baseline " + baseFds + ")", null);
                return;
            }
            Thread.sleep(50);
        }
        long heap = probe.heapAfterGc();
        if (s.maxHeapBytes() > 0 && heap > s.maxHeapBytes()) {
            found("heap", round, roundSeed, "heap after a full GC " + mib(heap) + " (bound " + mib(s.maxHeapBytes())
                    + ")", null);
        }
    }

    /** Stack traces in the server's log: each a finding, shrunk to the fewest chunks that still give it. */
    private void drainTraces(int round, long roundSeed, FuzzRound.Outcome o) throws InterruptedException {
        if (log == null) {
            return;
        }
        Thread.sleep(20);
        for (LogWatch.Trace t : log.drain()) {
            if (seen.contains("trace:" + t.signature())) {
                continue;
            }
            String repro = o == null ? null : Shrinker.shrink(s.endpoint(), o, log, t.signature());
            found("stack-trace", round, roundSeed, t.signature() + "\n" + indent(t.text()), repro);
            seen.add("trace:" + t.signature());
        }
    }

    private static String indent(String text) {
        return "    " + text.replace("\n", "\n    ");
    }

    private String repro(FuzzRound.Outcome o) {
        return "-Dclonetarget.fuzzSeed=" + s.seed() + " (round " + o.round() + ", ending " + o.ending() + "; "
                + o.chunks().size() + " chunks, " + o.sentBytes() + " bytes; mutations: "
                + String.join("; ", o.mutations().subList(0, Math.min(12, o.mutations().size())))
                + (o.mutations().size() > 12 ? "; ..." : "") + ")";
    }

    // ---- main ---------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            a.put(arg.replaceFirst("^--", "").replaceAll("=.*", ""), eq < 0 ? "true" : arg.substring(eq + 1));
        }
        Path image = Path.of(a.get("lun-file"));
        int blockSize = Integer.parseInt(a.getOrDefault("block-size", "512"));
        LunLayout layout = LunLayout.of(java.nio.file.Files.size(image), blockSize);
        FuzzRound.Endpoint ep = new FuzzRound.Endpoint(a.getOrDefault("host", "127.0.0.1"),
                Integer.parseInt(a.get("port")), a.get("target"), Integer.parseInt(a.getOrDefault("lun", "0")));
        long seed = a.containsKey("seed") ? Long.parseLong(a.get("seed")) : new java.util.Random().nextLong();
        Probe probe = a.containsKey("pid") ? new ProcessProbe(Long.parseLong(a.get("pid"))) : null;
        LogWatch log = a.containsKey("log") ? LogWatch.ofFile(Path.of(a.get("log"))) : null;
        Settings settings = new Settings(ep, layout, image, seed, Integer.parseInt(a.getOrDefault("seconds", "60")),
                Integer.parseInt(a.getOrDefault("close-bound", "15")), -1,
                Long.parseLong(a.getOrDefault("max-rss-mib", "-1")) << 20, -1, a.containsKey("keep-going"));
        Report r;
        try {
            r = new FuzzEngine(settings, null, log).run();
        } finally {
            if (log != null) {
                log.close();
            }
        }
        if (probe != null) {
            System.out.println("server: " + probe.threads() + " threads, " + probe.fileDescriptors() + " fds, RSS "
                    + mib(probe.rssBytes()));
        }
        System.exit(r.findings().isEmpty() ? 0 : 1);
    }
}
