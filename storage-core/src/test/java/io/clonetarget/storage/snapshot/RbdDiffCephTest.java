package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.snapshot.DiffModel.Extent;
import io.clonetarget.storage.snapshot.RbdDiffException.Problem;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our streams against Ceph's own reader: {@code rbd merge-diff} (Debian package ceph-common)
 * merges two of them, and the merged stream, parsed by our reader, must be what applying both
 * gives. merge-diff reads and writes local files only: it needs no cluster or monitor, and
 * {@code CEPH_CONF=/dev/null} keeps it from warning about the missing ceph.conf. It is run
 * without a network (in a network namespace of its own) when unshare allows it.
 */
class RbdDiffCephTest {
    private static final long A_SIZE = 80 * 1024;

    @TempDir
    Path dir;

    @BeforeEach
    void rbd() {
        ExternalTool.require("rbd", "ceph-common");
    }

    @Test
    void mergeDiffOfTwoOfOurStreamsIsBothAppliedInTurn() throws Exception {
        long[][] sizes = {{64 * 1024, 64 * 1024}, {64 * 1024, 96 * 1024}, {96 * 1024, 48 * 1024}, {40 * 1024, 72 * 1024}};
        int runs = 0;
        for (long[] s : sizes) {
            for (int seed = 0; seed < 6; seed++) {
                Random rnd = new Random(seed * 31L + s[0] + s[1]);
                boolean named = seed != 0;
                byte[] a = new byte[(int) A_SIZE];
                rnd.nextBytes(a);
                byte[] a2b = DiffModel.write(named ? "a" : null, named ? "b" : null, s[0],
                        DiffModel.randomExtents(rnd, s[0], 60));
                byte[] b2c = DiffModel.write(named ? "b" : null, named ? "c" : null, s[1],
                        DiffModel.randomExtents(rnd, s[1], 60));
                String name = "m" + runs++;
                byte[] merged = merge(name, a2b, b2c);

                DiffModel.Recording r = DiffModel.record(merged);
                String where = "sizes " + s[0] + " -> " + s[1] + ", seed " + seed;
                assertEquals(new RbdDiffReader.Header(named ? "a" : null, named ? "c" : null, s[1]), r.header, where);
                byte[] expected = DiffModel.apply(DiffModel.apply(a, a2b), b2c);
                assertArrayEquals(expected, DiffModel.apply(a, merged), where);
            }
        }
    }

    @Test
    void aMergedStreamOfNonAdjacentRecordsKeepsThem() throws Exception {
        // records far apart in both streams come out as they went in, second stream's on top
        byte[] w1 = filled(4096, 1);
        byte[] w2 = filled(512, 2);
        byte[] a2b = DiffModel.write("a", "b", 1 << 20, List.of(Extent.data(0, w1), Extent.zero(65536, 4096)));
        byte[] b2c = DiffModel.write("b", "c", 1 << 20, List.of(Extent.data(1024, w2), Extent.data(1 << 19, w2)));
        List<Extent> got = DiffModel.record(merge("m", a2b, b2c)).extents;
        List<Extent> expected = List.of(
                Extent.data(0, Arrays.copyOf(w1, 1024)),
                Extent.data(1024, w2),
                Extent.data(1536, Arrays.copyOfRange(w1, 1536, 4096)),
                Extent.zero(65536, 4096),
                Extent.data(1 << 19, w2));
        assertEquals(expected, got);
    }

    @Test
    void mergeDiffNeedsTheFirstToSnapshotToBeTheSecondsFrom() throws Exception {
        Path a2b = write("a2b", DiffModel.write("a", "b", 4096, List.of()));
        Path x2c = write("x2c", DiffModel.write("x", "c", 4096, List.of()));
        ExternalTool.Result r = rbd("merge-diff", "--no-progress", a2b.toString(), x2c.toString(), "out");
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("The first TO snapshot must be equal with the second FROM snapshot"), r.output());
        assertFalse(Files.exists(dir.resolve("out")));
    }

    @Test
    void mergeDiffAndOurReaderRefuseTheSameMalformedStreams() throws Exception {
        byte[] good = DiffModel.write("a", "b", 8192, List.of(Extent.data(0, filled(1000, 3))));
        byte[] okSecond = DiffModel.write("b", "c", 8192, List.of());

        byte[] cut = Arrays.copyOf(good, good.length - 500);
        refused(cut, okSecond, cut, Problem.TRUNCATED, "failed to merge diff chunk");

        byte[] banner = good.clone();
        banner[10] = '2'; // "rbd diff v2\n"
        refused(okSecond, banner, banner, Problem.BAD_BANNER, "invalid banner");

        byte[] disordered = new RbdDiffTest.Raw().ascii("rbd diff v1\n").tag('f').le32(1).ascii("b")
                .tag('s').le64(8192).extent('z', 4096, 10).extent('z', 0, 10).tag('e').get();
        refused(good, disordered, disordered, Problem.OUT_OF_ORDER, "out-of-order offset from second diff");

        byte[] empty = new RbdDiffTest.Raw().ascii("rbd diff v1\n").tag('t').le32(1).ascii("b")
                .tag('s').le64(8192).extent('z', 0, 0).tag('e').get();
        refused(empty, okSecond, empty, Problem.EMPTY_RECORD, "failed to read first diff data chunk header");
    }

    /** merge-diff of first and second fails saying rbdSays; our reader finds problem in bad. */
    private void refused(byte[] first, byte[] second, byte[] bad, Problem problem, String rbdSays) throws Exception {
        RbdDiffException e = assertThrows(RbdDiffException.class,
                () -> RbdDiffReader.verify(new ByteArrayInputStream(bad)));
        assertEquals(problem, e.problem(), e.getMessage());
        Path f = write("first", first);
        Path s = write("second", second);
        ExternalTool.Result r = rbd("merge-diff", "--no-progress", f.toString(), s.toString(), "out");
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains(rbdSays), r.output());
        assertFalse(Files.exists(dir.resolve("out")), "merge-diff removes its output when it fails");
        Files.delete(f);
        Files.delete(s);
    }

    private byte[] merge(String name, byte[] first, byte[] second) throws Exception {
        Path f = write(name + ".a2b", first);
        Path s = write(name + ".b2c", second);
        ExternalTool.Result r = rbd("merge-diff", "--no-progress", f.toString(), s.toString(), name + ".out");
        assertEquals(0, r.exitCode(), r.output());
        assertEquals("", r.output(), "merge-diff printed something (a warning?)");
        return Files.readAllBytes(dir.resolve(name + ".out"));
    }

    private Path write(String name, byte[] b) throws IOException {
        return Files.write(dir.resolve(name), b);
    }

    private ExternalTool.Result rbd(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(Isolation.PREFIX);
        cmd.add("rbd");
        cmd.addAll(List.of(args));
        return ExternalTool.run(dir, Map.of("CEPH_CONF", "/dev/null"), cmd);
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (value * 37 + i);
        }
        return b;
    }

    /** {@code unshare --net} when it works here (root, or user namespaces allowed), else nothing. */
    private static final class Isolation {
        static final List<String> PREFIX = probe();

        private static List<String> probe() {
            if (!ExternalTool.onPath("unshare")) {
                return List.of();
            }
            try {
                ExternalTool.Result r = ExternalTool.run(Path.of("."), Map.of(), List.of("unshare", "--net", "true"));
                return r.exitCode() == 0 ? List.of("unshare", "--net") : List.of();
            } catch (IOException | InterruptedException e) {
                return List.of();
            }
        }
    }
}
