package io.clonetarget.storage.snapshot;

import static io.clonetarget.storage.snapshot.SnapshotVolumeTest.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.SnapshotStore;
import io.clonetarget.storage.snapshot.DiffModel.Extent;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot streams end to end: exported from one volume, merged by Ceph's {@code rbd merge-diff},
 * imported onto another, which then equals the source byte for byte; from nothing onto an empty
 * volume; every refusal (wrong base, a flipped byte, an existing to-snapshot, another size)
 * leaves the volume as it was; a stream is no bigger than the chunks that changed.
 */
class SnapshotStreamsTest {
    private static final int CHUNK = SnapshotVolumeTest.CHUNK;
    private static final long SIZE = SnapshotVolumeTest.SIZE;
    /** Banner, two names' records, the size record and the end record, for names of one letter. */
    private static final int HEADER = 12 + 2 * (1 + 4 + 1) + (1 + 8) + 1;
    /** A 'w' or 'z' record without its data: tag, offset, length. */
    private static final int RECORD = 1 + 8 + 8;

    @TempDir
    Path dir;

    private final List<SnapshotVolume> opened = new ArrayList<>();

    @AfterEach
    void close() throws IOException {
        for (SnapshotVolume v : opened) {
            v.close();
        }
    }

    @Test
    void aStreamAToCMergedByRbdTakesAVolumeAtAToC() throws Exception {
        ExternalTool.require("rbd", "ceph-common");
        History h = new History(volume("one", SIZE), new Random(7));
        h.write(0, (int) (SIZE / 2));
        h.randomWrites(40);
        h.snapshot("A");
        h.randomWrites(40);
        h.zeroChunks(6);
        h.snapshot("B");
        h.randomWrites(40);
        h.zeroChunks(6);
        h.snapshot("C");
        h.checkImages();

        Path a2b = dir.resolve("A2B");
        Path b2c = dir.resolve("B2C");
        SnapshotStreams.Exported ab = SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);
        SnapshotStreams.Exported bc = SnapshotStreams.exportToFile(h.volume, "B", "C", b2c);
        assertTrue(ab.zeroBytes() > 0 && bc.zeroBytes() > 0, "zeroed chunks became zero records: " + ab + ", " + bc);
        assertTrue(ab.dataBytes() > 0 && bc.dataBytes() > 0, ab + ", " + bc);

        ExternalTool.Result r = rbd("merge-diff", "--no-progress", a2b.toString(), b2c.toString(), "A2C");
        assertEquals(0, r.exitCode(), r.output());
        Path a2c = dir.resolve("A2C");
        StreamChecksum.writeSidecar(a2c);
        assertEquals(new RbdDiffReader.Header("A", "C", SIZE), DiffModel.record(Files.readAllBytes(a2c)).header);

        SnapshotVolume two = volume("two", SIZE);
        two.origin().write(0, ByteBuffer.wrap(h.snaps.get("A")), false);
        two.create("A");
        SnapshotStreams.Imported got = SnapshotStreams.importFile(two, a2c);
        assertEquals("A", got.fromSnap());
        assertEquals("C", got.toSnap());
        assertTrue(got.zeroBytes() > 0, "the merged stream kept zero records: " + got);
        assertArrayEquals(h.snaps.get("C"), read(two.origin()), "the volume is at C");
        assertEquals(List.of("A", "C"), names(two));
        assertArrayEquals(h.snaps.get("C"), read(two.image("C", false)));
        assertArrayEquals(h.snaps.get("A"), read(two.image("A", false)), "A is still A");
        assertEquals(List.of(), two.changes("C", "C"));
    }

    @Test
    void aStreamFromNothingToBTakesAnEmptyVolumeToB() throws Exception {
        // the source on files: holes are not allocated, so they make no records
        Path image = dir.resolve("one.img");
        var settings = new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 4L, 10, 16, 4);
        try (FileBlockDevice device = FileBlockDevice.openOrCreate(image, SIZE, 512)) {
            SnapshotVolume one = SnapshotFiles.open("one", device, dir.resolve("snaps"), settings);
            opened.add(one);
            History h = new History(one, new Random(11));
            TreeSet<Long> touched = new TreeSet<>();
            for (long c : new long[] {0, 1, 2, 7, 40, 41, 100, 254}) {
                h.write(c * CHUNK + 1024, CHUNK);
                touched.add(c);
                touched.add(c + 1);
            }
            h.snapshot("A");
            h.write(2 * CHUNK, 512);
            h.write(120 * CHUNK, 4096);
            touched.add(120L);
            h.zeroChunk(40);
            h.snapshot("B");
            h.write(0, 3 * CHUNK); // after B: B's image reads some chunks from the difference storage
            h.zeroChunk(100);
            h.checkImages();

            Path stream = dir.resolve("0-to-B");
            SnapshotStreams.Exported ex = SnapshotStreams.exportToFile(one, null, "B", stream);
            DiffModel.Recording rec = DiffModel.record(Files.readAllBytes(stream));
            assertEquals(new RbdDiffReader.Header(null, "B", SIZE), rec.header);
            assertEquals(0, ex.zeroBytes(), "from nothing, zeros need no records");
            for (Extent e : rec.extents) {
                for (long c = e.offset() / CHUNK; c * CHUNK < e.offset() + e.length(); c++) {
                    assertTrue(touched.contains(c), "a record " + e + " in chunk " + c + ", never written");
                }
            }

            SnapshotVolume two = volume("two", SIZE);
            SnapshotStreams.Imported got = SnapshotStreams.importFile(two, stream);
            assertNull(got.fromSnap());
            assertEquals(ex.dataBytes(), got.dataBytes());
            assertArrayEquals(h.snaps.get("B"), read(two.origin()), "the volume is at B");
            assertEquals(List.of("B"), names(two));
            assertArrayEquals(h.snaps.get("B"), read(two.image("B", false)));
        }
    }

    @Test
    void aStreamFromASnapshotThatIsNotTheLatestIsRefusedWithNothingApplied() throws Exception {
        History h = abSource();
        Path a2b = dir.resolve("A2B");
        SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);

        History two = new History(volume("two", SIZE), new Random(3));
        two.copy(h.snaps.get("A"));
        two.snapshot("A");
        two.randomWrites(5);
        two.snapshot("X");
        byte[] before = read(two.volume.origin());
        IOException e = assertThrows(IOException.class, () -> SnapshotStreams.importFile(two.volume, a2b));
        assertTrue(e.getMessage().contains("starts from snapshot A") && e.getMessage().contains("volume two is X"),
                e.getMessage());
        assertArrayEquals(before, read(two.volume.origin()), "nothing was applied");
        assertEquals(List.of("A", "X"), names(two.volume));

        SnapshotVolume empty = volume("empty", SIZE);
        e = assertThrows(IOException.class, () -> SnapshotStreams.importFile(empty, a2b));
        assertTrue(e.getMessage().contains("starts from snapshot A") && e.getMessage().contains("none"),
                e.getMessage());
        assertArrayEquals(new byte[(int) SIZE], read(empty.origin()));
        assertEquals(List.of(), names(empty));
    }

    @Test
    void aStreamWithAFlippedByteIsRefusedWithNothingApplied() throws Exception {
        History h = abSource();
        Path a2b = dir.resolve("A2B");
        SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);
        byte[] stream = Files.readAllBytes(a2b);
        int at = firstDataByte(stream) + 100;
        stream[at] ^= 0x01;
        Files.write(a2b, stream);

        History two = new History(volume("two", SIZE), new Random(3));
        two.copy(h.snaps.get("A"));
        two.snapshot("A");
        byte[] before = read(two.volume.origin());
        ChecksumMismatchException e = assertThrows(ChecksumMismatchException.class,
                () -> SnapshotStreams.importFile(two.volume, a2b));
        assertTrue(e.getMessage().contains("A2B"), e.getMessage());
        assertArrayEquals(before, read(two.volume.origin()), "nothing was applied");
        assertEquals(List.of("A"), names(two.volume));

        stream[at] ^= 0x01; // the same stream unflipped goes in: the flip alone was refused
        Files.write(a2b, stream);
        SnapshotStreams.importFile(two.volume, a2b);
        assertArrayEquals(h.snaps.get("B"), read(two.volume.origin()));
    }

    @Test
    void aToSnapshotThatExistsAlreadyIsRefusedWithNothingApplied() throws Exception {
        History h = abSource();
        Path a2b = dir.resolve("A2B");
        Path zeroToB = dir.resolve("0-to-B");
        SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);
        SnapshotStreams.exportToFile(h.volume, null, "B", zeroToB);

        History two = new History(volume("two", SIZE), new Random(3));
        two.randomWrites(5);
        two.snapshot("B");
        two.copy(h.snaps.get("A"));
        two.snapshot("A"); // the latest is A, the stream's from; but B exists
        byte[] before = read(two.volume.origin());
        for (Path stream : List.of(a2b, zeroToB)) {
            IOException e = assertThrows(IOException.class, () -> SnapshotStreams.importFile(two.volume, stream));
            assertTrue(e.getMessage().contains("already has snapshot B"), e.getMessage());
            assertArrayEquals(before, read(two.volume.origin()), "nothing was applied from " + stream);
            assertEquals(List.of("B", "A"), names(two.volume));
        }
        two.checkImages();
    }

    @Test
    void aStreamOfAnotherSizeIsRefusedWithNothingApplied() throws Exception {
        History h = abSource();
        Path a2b = dir.resolve("A2B");
        SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);

        History two = new History(volume("two", SIZE / 2), new Random(3));
        two.copy(Arrays.copyOf(h.snaps.get("A"), (int) (SIZE / 2)));
        two.snapshot("A");
        byte[] before = read(two.volume.origin());
        IOException e = assertThrows(IOException.class, () -> SnapshotStreams.importFile(two.volume, a2b));
        assertTrue(e.getMessage().contains(String.valueOf(SIZE)) && e.getMessage().contains(String.valueOf(SIZE / 2)),
                e.getMessage());
        assertArrayEquals(before, read(two.volume.origin()), "nothing was applied");
        assertEquals(List.of("A"), names(two.volume));
    }

    @Test
    void aStreamHoldsAtMostOneChunkPerChangedChunkAndNothingForTheRest() throws Exception {
        History h = new History(volume("one", SIZE), new Random(5));
        h.write(0, (int) SIZE); // data everywhere: an unchanged region would have something to send
        h.snapshot("A");
        int n = 24;
        TreeSet<Long> changed = new TreeSet<>();
        while (changed.size() < n) {
            changed.add((long) h.rnd.nextInt((int) (SIZE / CHUNK)));
        }
        for (long c : changed) {
            h.write(c * CHUNK + 512L * h.rnd.nextInt(CHUNK / 512), 512);
        }
        h.snapshot("B");
        h.snapshot("C"); // nothing changed between B and C
        h.checkImages();

        Path a2b = dir.resolve("A2B");
        SnapshotStreams.Exported ex = SnapshotStreams.exportToFile(h.volume, "A", "B", a2b);
        DiffModel.Recording rec = DiffModel.record(Files.readAllBytes(a2b));
        assertEquals(Files.size(a2b), ex.bytes());
        assertEquals(0, ex.zeroBytes());
        assertTrue(ex.dataBytes() <= (long) n * CHUNK, ex + " for " + n + " changes of 512 bytes");
        assertTrue(ex.dataBytes() >= n * 512L, ex.toString());
        assertTrue(rec.extents.size() <= n, rec.extents.toString());
        assertTrue(ex.bytes() - ex.dataBytes() <= HEADER + (long) rec.extents.size() * RECORD,
                "headers only: " + (ex.bytes() - ex.dataBytes()) + " bytes of " + ex);
        TreeSet<Long> covered = new TreeSet<>();
        for (Extent e : rec.extents) {
            for (long c = e.offset() / CHUNK; c * CHUNK < e.offset() + e.length(); c++) {
                assertTrue(changed.contains(c), "a record " + e + " covers unchanged chunk " + c);
                covered.add(c);
            }
        }
        assertEquals(changed, covered, "every changed chunk is in the stream");

        Path b2c = dir.resolve("B2C");
        SnapshotStreams.Exported none = SnapshotStreams.exportToFile(h.volume, "B", "C", b2c);
        assertEquals(List.of(), DiffModel.record(Files.readAllBytes(b2c)).extents, "no change, no records");
        assertEquals(HEADER, none.bytes());
    }

    // ---- helpers ---------------------------------------------------------------------------

    /** A volume with data, snapshot A, changes including zeroed chunks, snapshot B. */
    private History abSource() throws IOException {
        History h = new History(volume("one", SIZE), new Random(9));
        h.write(0, (int) (SIZE / 2));
        h.randomWrites(20);
        h.snapshot("A");
        h.randomWrites(20);
        h.zeroChunks(3);
        h.snapshot("B");
        h.checkImages();
        return h;
    }

    /** A volume of {@code size} bytes on recording devices (room for 16 snapshots). */
    private SnapshotVolume volume(String name, long size) throws IOException {
        Journal journal = new Journal();
        long limit = size * 4;
        var settings = new SnapshotVolume.Settings(CHUNK, limit, CHUNK * 16L, 10, 16, 8);
        var origin = new RecordingBlockDevice(name + ".origin", journal, size, 512);
        var meta = new RecordingBlockDevice(name + ".meta", journal, SnapshotStore.bytesNeeded(16, limit / CHUNK), 4096);
        var diff = new RecordingBlockDevice(name + ".diff", journal, limit, 4096);
        SnapshotVolume v = SnapshotVolume.format(name, origin, meta, diff, settings, (id, why) -> true);
        opened.add(v);
        return v;
    }

    @Test
    void progressReachesTheTotalOfTheChangedExtentsZeroChunksIncluded() throws Exception {
        History h = new History(volume("progress", SIZE), new Random(6));
        h.write(0, (int) SIZE);
        h.snapshot("A");
        h.write(3L * CHUNK, 512);
        h.volume.origin().writeZeroes(7L * CHUNK, 2L * CHUNK); // chunks that become zero: zero records
        h.snapshot("B");
        long total = 0;
        for (SnapshotVolume.Extent e : h.volume.changes("A", "B")) {
            total += e.length();
        }
        long[] last = {-1, -1};
        SnapshotStreams.exportToFile(h.volume, "A", "B", dir.resolve("progress.diff"), (done, all) -> {
            last[0] = done;
            last[1] = all;
        });
        assertEquals(3L * CHUNK, total, "one written chunk and two zeroed ones");
        assertEquals(total, last[1]);
        assertEquals(total, last[0], "progress ends at the total");
    }

    private static List<String> names(SnapshotVolume v) {
        return v.list().stream().map(SnapshotVolume.SnapshotInfo::name).toList();
    }

    /** Where the data of the stream's first 'w' record starts (walking the v1 records). */
    private static int firstDataByte(byte[] stream) {
        ByteBuffer b = ByteBuffer.wrap(stream).order(ByteOrder.LITTLE_ENDIAN).position(12);
        while (true) {
            byte tag = b.get();
            switch (tag) {
                case 'f', 't' -> {
                    int n = b.getInt();
                    b.position(b.position() + n);
                }
                case 's' -> b.getLong();
                case 'z' -> b.position(b.position() + 16);
                case 'w' -> {
                    b.getLong();
                    long length = b.getLong();
                    assertTrue(length > 100, "a data record of " + length + " bytes");
                    return b.position();
                }
                default -> throw new AssertionError("no data record before tag " + (char) tag);
            }
        }
    }

    private ExternalTool.Result rbd(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (ExternalTool.onPath("unshare")
                && ExternalTool.run(dir, Map.of(), List.of("unshare", "--net", "true")).exitCode() == 0) {
            cmd.addAll(List.of("unshare", "--net"));
        }
        cmd.add("rbd");
        cmd.addAll(List.of(args));
        return ExternalTool.run(dir, Map.of("CEPH_CONF", "/dev/null"), cmd);
    }

    /** A volume and a model of its origin, changed alike; the model's copy at each snapshot. */
    private static final class History {
        final SnapshotVolume volume;
        final Random rnd;
        final byte[] model;
        final Map<String, byte[]> snaps = new HashMap<>();
        long seq;

        History(SnapshotVolume volume, Random rnd) {
            this.volume = volume;
            this.rnd = rnd;
            this.model = new byte[(int) volume.origin().size()];
        }

        void write(long offset, int length) throws IOException {
            seq++;
            SnapshotVolumeTest.write(volume.origin(), offset, length, seq, 0);
            SnapshotVolumeTest.stamp(ByteBuffer.wrap(model, (int) offset, length), offset, seq, 0);
        }

        void copy(byte[] content) throws IOException {
            volume.origin().write(0, ByteBuffer.wrap(content), false);
            System.arraycopy(content, 0, model, 0, content.length);
        }

        /** Stamped writes of 1 sector to 3 chunks anywhere, aligned to sectors. */
        void randomWrites(int count) throws IOException {
            for (int i = 0; i < count; i++) {
                long offset = 512L * rnd.nextInt(model.length / 512);
                int length = (int) Math.min(model.length - offset, 512L * (1 + rnd.nextInt(3 * CHUNK / 512)));
                write(offset, length);
            }
        }

        /** Zeroes (write zeroes or discard) {@code count} whole chunks that hold data now. */
        void zeroChunks(int count) throws IOException {
            for (int done = 0; done < count; ) {
                long c = rnd.nextInt(model.length / CHUNK);
                if (!isZero(c)) {
                    zeroChunk(c);
                    done++;
                }
            }
        }

        void zeroChunk(long c) throws IOException {
            if (rnd.nextBoolean()) {
                volume.origin().writeZeroes(c * CHUNK, CHUNK);
            } else {
                volume.origin().discard(c * CHUNK, CHUNK);
            }
            Arrays.fill(model, (int) (c * CHUNK), (int) (c * CHUNK + CHUNK), (byte) 0);
        }

        boolean isZero(long c) {
            for (int i = (int) (c * CHUNK); i < (c + 1) * CHUNK; i++) {
                if (model[i] != 0) {
                    return false;
                }
            }
            return true;
        }

        void snapshot(String name) throws IOException {
            volume.origin().flush();
            volume.create(name);
            snaps.put(name, model.clone());
        }

        /** The origin equals the model, and every snapshot's image its copy. */
        void checkImages() throws IOException {
            assertArrayEquals(model, read(volume.origin()), "the origin");
            for (Map.Entry<String, byte[]> s : snaps.entrySet()) {
                assertArrayEquals(s.getValue(), read(volume.image(s.getKey(), false)), "snapshot " + s.getKey());
            }
        }
    }
}
