package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libiscsi's conformance suite ({@code iscsi-test-cu}, every family, destructive mode, two
 * sessions for the multipath and reservation tests) against a file LUN. Every test must pass,
 * except those the suite skips because they are inapplicable, listed here with the reason; none
 * may fail.
 */
class ConformanceIT {
    /** Commands or device kinds this target does not have (the suite reports them as skipped). */
    static final Map<String, String> NOT_APPLICABLE = new LinkedHashMap<>();
    static final List<String> SANITIZE_TESTS = List.of("BlockErase", "BlockEraseReserved", "CryptoErase",
            "CryptoEraseReserved", "ExitFailureMode", "InvalidServiceAction", "Overwrite", "OverwriteReserved",
            "Readonly", "Reservations", "Reset");
    static {
        for (String t : List.of("WriteSame10.UnmapUnaligned", "WriteSame10.InvalidDataOutSize",
                "WriteSame16.UnmapUnaligned", "WriteSame16.InvalidDataOutSize", "CompareAndWrite.InvalidDataOutSize")) {
            NOT_APPLICABLE.put(t, "tests requests that are not whole physical blocks; our LUNs have one logical "
                    + "block per physical block (LBPPB 1), so every request is whole");
        }
        for (String t : List.of("Simple", "Eject", "ITNexusLoss", "Logout", "WarmReset", "ColdReset", "LUNReset",
                "2ITNexuses")) {
            NOT_APPLICABLE.put("PreventAllow." + t, "needs removable media (RMB=1); our LUNs are disks");
        }
        NOT_APPLICABLE.put("StartStopUnit.Simple", "needs removable media (RMB=1)");
        NOT_APPLICABLE.put("ReadOnly.ReadOnlySBC", "needs a read-only LUN: readOnlyFamily runs it against one");
        for (String t : SANITIZE_TESTS) {
            NOT_APPLICABLE.put("Sanitize." + t, "runs in sanitizeFamily, with one URL: with two, the suite keeps "
                    + "the second session (and the RESERVE(6) Sanitize.Reservations takes from it) into Sanitize.Reset");
        }
    }

    private static final Pattern MARKER = Pattern.compile("(?m)^(Suite: .*|  Test: .*?\\.\\.\\.)");
    private static final Pattern SKIP = Pattern.compile(
            "\\[SKIPP(ED|ING)\\]|skipping test|is not implemented|not supported|not working/implemented",
            Pattern.CASE_INSENSITIVE);

    /** Parses CUnit output into test name to passed / failed / skipped. */
    static Map<String, String> parse(String text) {
        Map<String, String> results = new TreeMap<>();
        Matcher m = MARKER.matcher(text);
        List<int[]> marks = new ArrayList<>();
        while (m.find()) {
            marks.add(new int[]{m.start(), m.end()});
        }
        String suite = null;
        for (int i = 0; i < marks.size(); i++) {
            String head = text.substring(marks.get(i)[0], marks.get(i)[1]);
            int end = i + 1 < marks.size() ? marks.get(i + 1)[0] : text.length();
            String body = text.substring(marks.get(i)[1], end);
            if (head.startsWith("Suite: ")) {
                suite = head.substring(7).trim();
                continue;
            }
            String name = suite + "." + head.trim().substring(6, head.trim().length() - 3).trim();
            int runSummary = body.indexOf("Run Summary:");
            if (runSummary >= 0) {
                body = body.substring(0, runSummary);
            }
            Matcher failed = Pattern.compile("(?m)^FAILED").matcher(body);
            Matcher passed = Pattern.compile("(?m)^passed").matcher(body);
            boolean f = failed.find();
            boolean p = passed.find();
            if (f && (!p || failed.start() < passed.start())) {
                results.put(name, "failed");
            } else if (p) {
                results.put(name, SKIP.matcher(body.substring(0, passed.start())).find() ? "skipped" : "passed");
            }
        }
        return results;
    }

    @TempDir
    Path dir;

    /** A 1 GiB LUN: a file, or a clone of a golden image (random first 64 MiB, the rest sparse) not hydrated yet. */
    private TestTarget lun(String kind) throws Exception {
        if (kind.equals("file")) {
            return TestTarget.start(dir, 1L << 30, 1);
        }
        if (kind.equals("snapshotted") || kind.equals("writable-snapshot")) {
            // a file volume with a snapshot held, so every write of the suite goes through copy-on-write;
            // or that snapshot mapped writable, so every write goes to its own copies
            io.clonetarget.config.VolumeConfig v = io.clonetarget.config.VolumeConfig.file("v0",
                    dir.resolve("lun0.img").toString(), io.clonetarget.config.ByteSize.ofBytes(1L << 30))
                    .withSnapshots(io.clonetarget.config.SnapshotsConfig.defaults());
            TestTarget t = TestTarget.start(dir, List.of(v), List.of(new io.clonetarget.config.LunConfig(0, "v0")));
            byte[] data = new byte[1 << 20];
            new java.util.Random(8).nextBytes(data);
            t.server.volumes().get("v0").served().write(0, java.nio.ByteBuffer.wrap(data), false);
            t.server.volumes().get("v0").snapshots().create("before");
            if (kind.equals("writable-snapshot")) {
                Object[] r = CloneIT.cli("lun", "map", TestTarget.IQN, "v0@before", "--lun", "1", "--writable",
                        "--state-dir", dir.toString());
                assertEquals(io.clonetarget.server.cli.ExitCodes.OK, r[0], r[1] + " " + r[2]);
            }
            return t;
        }
        Path golden = dir.resolve("golden.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(golden.toFile(), "rw")) {
            byte[] data = new byte[64 << 20];
            new java.util.Random(7).nextBytes(data);
            f.write(data);
            f.setLength(1L << 30);
        }
        io.clonetarget.config.VolumeConfig clone = new io.clonetarget.config.VolumeConfig("v0",
                io.clonetarget.config.VolumeType.CLONE, dir.resolve("clone.img").toString(), null, null, null,
                golden.toString(), null, null, new io.clonetarget.config.HydrationConfig(null, null, null, true, null,
                null, null), null);
        return TestTarget.start(dir, List.of(clone), List.of(new io.clonetarget.config.LunConfig(0, "v0")));
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} LUN")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"file", "clone", "snapshotted", "writable-snapshot"})
    void fullSuite(String kind) throws Exception {
        Tools.require("libiscsi-bin", "iscsi-test-cu");
        List<String> expected = new ArrayList<>();
        for (String line : Tools.ok(Duration.ofSeconds(30), "iscsi-test-cu", "-l").split("\n")) {
            String[] parts = line.trim().split("\\.");
            if (parts.length == 3 && parts[0].equals("ALL")) {
                expected.add(parts[1] + "." + parts[2]);
            }
        }
        assertTrue(expected.size() > 200, "the suite lists " + expected.size() + " tests");
        try (TestTarget target = lun(kind)) {
            int lun = kind.equals("writable-snapshot") ? 1 : 0;
            Tools.Result run = Tools.run(Duration.ofMinutes(10), "iscsi-test-cu", "-d", "-t", "ALL",
                    target.url(lun), target.url(lun));
            Map<String, String> results = parse(run.output());
            List<String> problems = new ArrayList<>();
            int passed = 0;
            for (String test : expected) {
                String outcome = results.getOrDefault(test, "no result (hang or crash)");
                if (outcome.equals("passed")) {
                    passed++;
                    continue;
                }
                if (NOT_APPLICABLE.containsKey(test) && outcome.equals("skipped")) {
                    continue;
                }
                if (kind.equals("writable-snapshot") && test.startsWith("WriteAtomic16.") && outcome.equals("skipped")) {
                    continue; // a snapshot LUN has no atomic-write journal, so it offers no WRITE ATOMIC(16)
                }
                problems.add(test + ": " + outcome);
            }
            System.out.printf("iscsi-test-cu (%s LUN): %d of %d passed%n", kind, passed, expected.size());
            assertEquals(List.of(), problems, "unexpected outcomes; raw output:\n" + tail(run.output()));
            int atomicSkips = kind.equals("writable-snapshot") ? 6 : 0;
            assertTrue(passed >= expected.size() - NOT_APPLICABLE.size() - atomicSkips,
                    "passed " + passed);
        }
    }

    /**
     * The Sanitize family with one URL (the suite then opens and closes the second session a test
     * needs within that test), against a file LUN and a clone LUN that is still hydrating.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} LUN")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"file", "clone"})
    void sanitizeFamily(String kind) throws Exception {
        Tools.require("libiscsi-bin", "iscsi-test-cu");
        try (TestTarget target = lun(kind)) {
            Tools.Result run = Tools.run(Duration.ofMinutes(5), "iscsi-test-cu", "-d", "-S", "-t", "ALL.Sanitize",
                    target.url(0));
            Map<String, String> expected = new TreeMap<>();
            SANITIZE_TESTS.forEach(t -> expected.put("Sanitize." + t, "passed"));
            assertEquals(expected, parse(run.output()), tail(run.output()));
        }
    }

    /** The ReadOnly family (every medium-writing command refused with DATA PROTECT) against a read-only LUN. */
    @Test
    void readOnlyFamily() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-test-cu");
        Path image = dir.resolve("ro.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64 << 20);
        }
        io.clonetarget.config.VolumeConfig v = new io.clonetarget.config.VolumeConfig("v0",
                io.clonetarget.config.VolumeType.FILE, image.toString(), null, null, true, null, null, null, null, null);
        try (TestTarget target = TestTarget.start(dir, List.of(v), List.of(new io.clonetarget.config.LunConfig(0, "v0")))) {
            Tools.Result run = Tools.run(Duration.ofMinutes(2), "iscsi-test-cu", "-d", "-t", "ALL.ReadOnly",
                    target.url(0), target.url(0));
            Map<String, String> results = parse(run.output());
            assertEquals(Map.of("ReadOnly.ReadOnlySBC", "passed"), results, tail(run.output()));
        }
    }

    private static String tail(String s) {
        return s.length() < 20000 ? s : s.substring(s.length() - 20000);
    }

    @Test
    void parserRecognisesOutcomes() {
        String sample = """
                Suite: A
                  Test: One ...passed
                  Test: Two ...    [SKIPPED] X is not implemented.
                passed
                  Test: Three ...FAILED
                    1. foo.c:1 - CU_ASSERT
                Suite: B
                  Test: Four ...passed
                Run Summary:
                """;
        assertEquals(Map.of("A.One", "passed", "A.Two", "skipped", "A.Three", "failed", "B.Four", "passed"),
                parse(sample));
        assertTrue(Set.of("passed", "failed", "skipped").containsAll(parse(sample).values()));
    }
}
