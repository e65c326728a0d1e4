package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EXTENDED COPY (LID1) and RECEIVE COPY RESULTS between units of one I_T nexus's view. */
class CopyCommandsTest {
    static final int BLOCK = 512;

    @TempDir
    Path dir;

    static BlockLogicalUnit unit(String name, BlockDevice device, boolean readOnly) {
        BlockLogicalUnit u = new BlockLogicalUnit(name, device, LunIdentity.fromSeed(name, "disk"), readOnly,
                new HeapBuffers());
        u.execute(FakeTask.of("00 00 00 00 00 00")); // the power-on unit attention
        return u;
    }

    /** A parameter list: identification descriptors for {@code units}, then block-to-block segments {src, dst, blocks, srcLba, dstLba}. */
    static ByteBuffer list(int listId, int usage, List<BlockLogicalUnit> units, long[]... segments) {
        ByteBuffer p = ByteBuffer.allocate(16 + 32 * units.size() + 28 * segments.length);
        p.put(0, (byte) listId).put(1, (byte) (usage << 3)).putShort(2, (short) (32 * units.size()))
                .putInt(8, 28 * segments.length);
        int at = 16;
        for (BlockLogicalUnit u : units) {
            p.put(at, (byte) 0xe4).put(at + 4, (byte) 0x01).put(at + 5, (byte) 0x03).put(at + 7, (byte) 16)
                    .put(at + 8, u.identity().naa());
            p.put(at + 29, (byte) 0).putShort(at + 30, (short) BLOCK);
            at += 32;
        }
        for (long[] s : segments) {
            p.put(at, (byte) 0x02).putShort(at + 2, (short) 24).putShort(at + 4, (short) s[0])
                    .putShort(at + 6, (short) s[1]).putShort(at + 10, (short) s[2]).putLong(at + 12, s[3])
                    .putLong(at + 20, s[4]);
            at += 28;
        }
        return p;
    }

    static FakeTask xcopy(ByteBuffer list, LogicalUnit... view) {
        String cdb = String.format("83 00 00 00 00 00 00 00 00 00 %08x 00 00", list.capacity());
        return FakeTask.of(FakeTask.NEXUS, cdb, list).withPeers(view);
    }

    static byte[] random(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(BlockDevice d, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        d.read(offset, b);
        return b.array();
    }

    static void assertSense(ScsiResult r, SenseKey key, int asc, int ascq) {
        assertEquals(ScsiStatus.CHECK_CONDITION, r.status());
        assertEquals(key.code(), r.sense()[2] & 0x0f, "sense key");
        assertEquals(asc, r.sense()[12] & 0xff, "asc");
        assertEquals(ascq, r.sense()[13] & 0xff, "ascq");
    }

    @Test
    void copiesBetweenTwoFileUnitsAndReportsTheResult() throws Exception {
        FileBlockDevice a = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 8 << 20, BLOCK);
        FileBlockDevice b = FileBlockDevice.openOrCreate(dir.resolve("b.img"), 8 << 20, BLOCK);
        try (a; b) {
            BlockLogicalUnit ua = unit("a", a, false);
            BlockLogicalUnit ub = unit("b", b, false);
            byte[] data = random(3 << 20, 1);
            a.write(1 << 20, ByteBuffer.wrap(data), false);
            // 3 MiB from a at 1 MiB to b at 4 MiB, as two segments, issued to b
            ScsiResult r = ub.execute(xcopy(list(7, 0, List.of(ua, ub), new long[]{0, 1, 4096, 2048, 8192},
                    new long[]{0, 1, 2048, 6144, 12288}), ua, ub));
            assertTrue(r.isGood(), () -> java.util.HexFormat.of().formatHex(r.sense()));
            assertEquals(-1, ByteBuffer.wrap(read(b, 4 << 20, 3 << 20)).mismatch(ByteBuffer.wrap(data)));
            ByteBuffer status = ub.execute(FakeTask.of("84 00 07 00 00 00 00 00 00 00 00 00 00 20 00 00")).dataIn();
            assertEquals(0x00, status.get(4), "completed without errors");
            assertEquals(2, status.getShort(5), "segments processed");
            assertEquals(0x00, status.get(7), "transfer count in bytes");
            assertEquals(3 << 20, status.getInt(8));
            ScsiResult other = ub.execute(FakeTask.of("84 00 08 00 00 00 00 00 00 00 00 00 00 20 00 00"));
            assertSense(other, SenseKey.ILLEGAL_REQUEST, 0x24, 0x00);
        }
    }

    @Test
    void aUnitOutsideTheNexusViewIsNotReachableAndNothingIsCopied() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(1 << 20, BLOCK);
        MemoryBlockDevice b = new MemoryBlockDevice(1 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        BlockLogicalUnit ub = unit("b", b, false);
        a.write(0, ByteBuffer.wrap(random(BLOCK * 8, 2)), false);
        ScsiResult r = ub.execute(xcopy(list(1, 0, List.of(ua, ub), new long[]{0, 1, 8, 0, 0}), ub));
        assertSense(r, SenseKey.COPY_ABORTED, 0x0d, 0x02);
        assertEquals(-1, ByteBuffer.wrap(read(b, 0, BLOCK * 8)).mismatch(ByteBuffer.allocate(BLOCK * 8)));
    }

    @Test
    void everySegmentIsCheckedBeforeAnyIsCopied() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(1 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        a.write(0, ByteBuffer.wrap(random(BLOCK * 8, 3)), false);
        long last = (1 << 20) / BLOCK - 4;
        ScsiResult r = ua.execute(xcopy(list(1, 0, List.of(ua), new long[]{0, 0, 8, 0, 100},
                new long[]{0, 0, 8, 0, last}), ua));
        assertSense(r, SenseKey.COPY_ABORTED, 0x00, 0x00);
        assertEquals(-1, ByteBuffer.wrap(read(a, 100L * BLOCK, BLOCK * 8)).mismatch(ByteBuffer.allocate(BLOCK * 8)),
                "the first segment was not copied either");
    }

    @Test
    void anOverlappingCopyWithinOneUnitMovesTheDataAsIfReadFirst() throws Exception {
        for (int shift : new int[]{1, 1000, 2047, -1, -2047}) {
            MemoryBlockDevice a = new MemoryBlockDevice(8 << 20, BLOCK);
            BlockLogicalUnit ua = unit("a", a, false);
            byte[] data = random(2048 * BLOCK, 4);
            a.write(4096L * BLOCK, ByteBuffer.wrap(data), false);
            assertTrue(ua.execute(xcopy(list(0, 3, List.of(ua), new long[]{0, 0, 2048, 4096, 4096 + shift}), ua))
                    .isGood());
            assertEquals(-1, ByteBuffer.wrap(read(a, (4096L + shift) * BLOCK, data.length)).mismatch(ByteBuffer.wrap(data)),
                    "shift " + shift);
        }
    }

    @Test
    void aWriteProtectedOrReservedDestinationRefusesTheCopy() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(1 << 20, BLOCK);
        MemoryBlockDevice b = new MemoryBlockDevice(1 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        BlockLogicalUnit readOnly = unit("b", b, true);
        assertSense(ua.execute(xcopy(list(1, 0, List.of(ua, readOnly), new long[]{0, 1, 8, 0, 0}), ua, readOnly)),
                SenseKey.DATA_PROTECT, 0x27, 0x00);
        BlockLogicalUnit ub = unit("b2", b, false);
        // OTHER registers and takes WRITE EXCLUSIVE on b: NEXUS may not write it, not even through a copy
        ByteBuffer register = ByteBuffer.allocate(24).putLong(8, 0x42);
        assertTrue(ub.execute(FakeTask.of(FakeTask.OTHER, "5f 00 00 00 00 00 00 00 18 00", register)).isGood());
        ByteBuffer reserve = ByteBuffer.allocate(24).putLong(0, 0x42);
        assertTrue(ub.execute(FakeTask.of(FakeTask.OTHER, "5f 01 01 00 00 00 00 00 18 00", reserve)).isGood());
        ScsiResult r = ua.execute(xcopy(list(1, 0, List.of(ua, ub), new long[]{0, 1, 8, 0, 0}), ua, ub));
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, r.status());
    }

    /** A copy may not read a unit while a sanitize overwrites it (it would copy what is being erased). */
    @Test
    void aUnitUnderSanitizeIsNotReady() throws Exception {
        SanitizeCommandsTest.GatedDevice gated = new SanitizeCommandsTest.GatedDevice(new MemoryBlockDevice(1 << 20, BLOCK));
        BlockLogicalUnit ua = unit("a", gated, false);
        BlockLogicalUnit ub = unit("b", new MemoryBlockDevice(1 << 20, BLOCK), false);
        gated.close(true);
        ByteBuffer pattern = ByteBuffer.allocate(4 + BLOCK).put(0, (byte) 0x01).putShort(2, (short) BLOCK);
        ScsiResult started = ua.execute(FakeTask.of(FakeTask.NEXUS,
                String.format("48 81 00 00 00 00 00 %04x 00", 4 + BLOCK), pattern));
        assertTrue(started.isGood(), "SANITIZE OVERWRITE, IMMED");
        try {
            ScsiResult r = ub.execute(xcopy(list(1, 0, List.of(ua, ub), new long[]{0, 1, 8, 0, 0}), ua, ub));
            assertSense(r, SenseKey.NOT_READY, 0x04, 0x1b);
            ScsiResult into = ub.execute(xcopy(list(2, 0, List.of(ub, ua), new long[]{0, 1, 8, 0, 0}), ua, ub));
            assertSense(into, SenseKey.NOT_READY, 0x04, 0x1b);
        } finally {
            gated.open();
        }
    }

    @Test
    void anAbortedCopyStopsWithCopyAborted() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(1 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        FakeTask t = xcopy(list(5, 0, List.of(ua), new long[]{0, 0, 8, 0, 100}), ua);
        t.aborted = true;
        assertSense(ua.execute(t), SenseKey.COPY_ABORTED, 0x00, 0x00);
        ByteBuffer status = ua.execute(FakeTask.of("84 00 05 00 00 00 00 00 00 00 00 00 00 20 00 00")).dataIn();
        assertEquals(0x01, status.get(4), "completed with errors");
        assertEquals(0, status.getShort(5));
    }

    @Test
    void operatingParametersMatchWhatIsEnforced() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(1 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        ByteBuffer op = ua.execute(FakeTask.of("84 03 00 00 00 00 00 00 00 00 00 00 04 00 00 00")).dataIn();
        int maxTargets = op.getShort(8);
        int maxSegments = op.getShort(10);
        List<BlockLogicalUnit> targets = new ArrayList<>();
        for (int i = 0; i <= maxTargets; i++) {
            targets.add(ua);
        }
        assertSense(ua.execute(xcopy(list(1, 0, targets, new long[]{0, 0, 1, 0, 1}), ua)),
                SenseKey.ILLEGAL_REQUEST, 0x26, 0x06);
        long[][] segments = new long[maxSegments + 1][];
        for (int i = 0; i <= maxSegments; i++) {
            segments[i] = new long[]{0, 0, 1, 0, 1};
        }
        assertSense(ua.execute(xcopy(list(1, 0, List.of(ua), segments), ua)), SenseKey.ILLEGAL_REQUEST, 0x26, 0x08);
        ByteBuffer vpd = ua.execute(FakeTask.of("12 01 8f 01 00 00")).dataIn();
        assertEquals(0x8f, vpd.get(1) & 0xff);
        assertEquals(0x0001, vpd.getShort(4), "the first descriptor lists the supported commands");
        ByteBuffer standard = ua.execute(FakeTask.of("12 00 00 00 ff 00")).dataIn();
        assertEquals(0x08, standard.get(5) & 0x08, "3PC");
    }

    /**
     * Three threads copy while a fourth writes the source's other half: each copy's destination
     * holds exactly its source at the end (seeded; 4 threads). The copies' slots do not overlap, so
     * this checks that concurrent copies do not disturb each other, not the range holds.
     */
    @Test
    void concurrentCopiesAndWritesKeepEachCopyWhole() throws Exception {
        long seed = 20261202;
        MemoryBlockDevice a = new MemoryBlockDevice(16 << 20, BLOCK);
        MemoryBlockDevice b = new MemoryBlockDevice(16 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        BlockLogicalUnit ub = unit("b", b, false);
        byte[] source = random(8 << 20, seed);
        a.write(0, ByteBuffer.wrap(source), false);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int thread = t;
                work.add(pool.submit(() -> {
                    Random r = new Random(seed + thread);
                    for (int i = 0; i < 40; i++) {
                        int slot = thread * 40 + i; // its own 64-block slot of the first 8 MiB
                        long lba = slot * 64L;
                        ScsiResult res = ub.execute(xcopy(list(0, 3, List.of(ua, ub),
                                new long[]{0, 1, 64, lba, lba}), ua, ub));
                        assertTrue(res.isGood());
                        if (r.nextBoolean()) {
                            Thread.yield();
                        }
                    }
                    return null;
                }));
            }
            work.add(pool.submit(() -> {
                Random r = new Random(seed + 9);
                for (int i = 0; i < 400; i++) {
                    // writes to the source's second half, never copied
                    long lba = (8L << 20) / BLOCK + r.nextInt(8 << 11);
                    ua.execute(FakeTask.of(FakeTask.NEXUS, String.format("2a 00 %08x 00 00 01 00", lba),
                            ByteBuffer.wrap(random(BLOCK, i))));
                }
                return null;
            }));
            for (Future<?> f : work) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        int copied = 120 * 64 * BLOCK;
        assertEquals(-1, ByteBuffer.wrap(read(b, 0, copied)).mismatch(ByteBuffer.wrap(source, 0, copied)));
    }
}
