package io.clonetarget.server.scsi;

import static io.clonetarget.server.scsi.CopyCommandsTest.assertSense;
import static io.clonetarget.server.scsi.CopyCommandsTest.random;
import static io.clonetarget.server.scsi.CopyCommandsTest.read;
import static io.clonetarget.server.scsi.CopyCommandsTest.unit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ODX: POPULATE TOKEN, WRITE USING TOKEN and RECEIVE ROD TOKEN INFORMATION. */
class OdxCommandsTest {
    static final int BLOCK = 512;

    @TempDir
    Path dir;

    /** A POPULATE TOKEN parameter list for {lba, blocks} ranges. */
    static ByteBuffer populateList(int inactivity, long[]... ranges) {
        ByteBuffer p = ByteBuffer.allocate(16 + 16 * ranges.length);
        p.putShort(0, (short) (p.capacity() - 2)).putInt(4, inactivity).putShort(14, (short) (16 * ranges.length));
        for (int i = 0; i < ranges.length; i++) {
            p.putLong(16 + 16 * i, ranges[i][0]).putInt(24 + 16 * i, (int) ranges[i][1]);
        }
        return p;
    }

    static ByteBuffer writeList(byte[] token, long offset, long[]... ranges) {
        ByteBuffer p = ByteBuffer.allocate(536 + 16 * ranges.length);
        p.putShort(0, (short) (p.capacity() - 2)).putLong(8, offset).put(16, token)
                .putShort(534, (short) (16 * ranges.length));
        for (int i = 0; i < ranges.length; i++) {
            p.putLong(536 + 16 * i, ranges[i][0]).putInt(544 + 16 * i, (int) ranges[i][1]);
        }
        return p;
    }

    static ScsiResult populate(LogicalUnit u, long listId, ByteBuffer list) {
        return u.execute(FakeTask.of(FakeTask.NEXUS, String.format("83 10 00 00 00 00 %08x %08x 00 00", listId,
                list.capacity()), list));
    }

    static ScsiResult writeUsing(LogicalUnit u, long listId, ByteBuffer list) {
        return u.execute(FakeTask.of(FakeTask.NEXUS, String.format("83 11 00 00 00 00 %08x %08x 00 00", listId,
                list.capacity()), list));
    }

    static ByteBuffer rrti(LogicalUnit u, long listId) {
        ScsiResult r = u.execute(FakeTask.of(FakeTask.NEXUS, String.format("84 07 %08x 00 00 00 00 00 00 04 00 00 00",
                listId), null));
        assertTrue(r.isGood());
        return r.dataIn();
    }

    static byte[] token(LogicalUnit u, long listId) {
        ByteBuffer info = rrti(u, listId);
        assertEquals(0x10, info.get(4) & 0x1f, "RESPONSE TO SERVICE ACTION: POPULATE TOKEN");
        assertEquals(0x01, info.get(5), "COPY OPERATION STATUS: completed without errors");
        assertEquals(2 + 512, info.getInt(32));
        byte[] t = new byte[512];
        info.get(38, t);
        return t;
    }

    @Test
    void aTokenCarriesItsRangesToAnotherUnit() throws Exception {
        FileBlockDevice a = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 16 << 20, BLOCK);
        FileBlockDevice b = FileBlockDevice.openOrCreate(dir.resolve("b.img"), 16 << 20, BLOCK);
        try (a; b) {
            BlockLogicalUnit ua = unit("a", a, false);
            BlockLogicalUnit ub = unit("b", b, false);
            byte[] first = random(2048 * BLOCK, 1);
            byte[] second = random(1024 * BLOCK, 2);
            a.write(0, ByteBuffer.wrap(first), false);
            a.write(10000L * BLOCK, ByteBuffer.wrap(second), false);
            assertTrue(populate(ua, 77, populateList(0, new long[]{0, 2048}, new long[]{10000, 1024})).isGood());
            byte[] t = token(ua, 77);
            assertEquals(RodTokens.ROD_POINT_IN_TIME_DEFAULT, ByteBuffer.wrap(t).getInt(0));
            assertEquals(3072L * BLOCK, ByteBuffer.wrap(t).getLong(56), "NUMBER OF BYTES REPRESENTED");
            // into b as two destination ranges that split the token's ranges differently
            assertTrue(writeUsing(ub, 78, writeList(t, 0, new long[]{5000, 1000}, new long[]{20000, 2072})).isGood());
            ByteBuffer info = rrti(ub, 78);
            assertEquals(0x11, info.get(4) & 0x1f);
            assertEquals(0x01, info.get(5));
            assertEquals(3072, info.getLong(16), "TRANSFER COUNT in blocks");
            assertEquals(0, info.getInt(32), "no token in a WRITE USING TOKEN result");
            ByteBuffer all = ByteBuffer.allocate(3072 * BLOCK).put(first).put(second).flip();
            ByteBuffer got = ByteBuffer.allocate(3072 * BLOCK).put(read(b, 5000L * BLOCK, 1000 * BLOCK))
                    .put(read(b, 20000L * BLOCK, 2072 * BLOCK)).flip();
            assertEquals(-1, got.mismatch(all));
            // an offset into the ROD
            assertTrue(writeUsing(ub, 79, writeList(t, 2048, new long[]{0, 1024})).isGood());
            assertEquals(-1, ByteBuffer.wrap(read(b, 0, 1024 * BLOCK)).mismatch(ByteBuffer.wrap(second)));
        }
    }

    @Test
    void theBlockZeroTokenWritesZeroes() throws Exception {
        MemoryBlockDevice b = new MemoryBlockDevice(4 << 20, BLOCK);
        BlockLogicalUnit ub = unit("b", b, false);
        b.write(0, ByteBuffer.wrap(random(64 * BLOCK, 3)), false);
        byte[] zero = new byte[512];
        ByteBuffer.wrap(zero).putInt(0, RodTokens.ROD_BLOCK_ZERO).putShort(6, (short) 0x1f8);
        assertTrue(writeUsing(ub, 1, writeList(zero, 0, new long[]{8, 32})).isGood());
        assertEquals(-1, ByteBuffer.wrap(read(b, 8 * BLOCK, 32 * BLOCK)).mismatch(ByteBuffer.allocate(32 * BLOCK)));
        assertTrue(ByteBuffer.wrap(read(b, 0, 8 * BLOCK)).mismatch(ByteBuffer.allocate(8 * BLOCK)) >= 0,
                "blocks outside the range keep their data");
    }

    @Test
    void aWriteToTheSourceRangesCancelsTheTokenAndOneElsewhereDoesNot() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(4 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        // a second unit of the same volume (same device, same write ranges), as another target's LUN would be
        BlockLogicalUnit again = new BlockLogicalUnit("a2", a, LunIdentity.fromSeed("a2", "disk"), false,
                new HeapBuffers(), ua.ranges());
        again.execute(FakeTask.of("00 00 00 00 00 00"));
        assertTrue(populate(ua, 1, populateList(0, new long[]{100, 50})).isGood());
        byte[] t = token(ua, 1);
        assertTrue(again.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00",
                ByteBuffer.wrap(random(BLOCK, 4)))).isGood(), "block 0: not in the token");
        assertTrue(writeUsing(ua, 2, writeList(t, 0, new long[]{1000, 50})).isGood());
        assertTrue(again.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 95 00 00 01 00",
                ByteBuffer.wrap(random(BLOCK, 5)))).isGood(), "block 149, inside the token, through the other LUN");
        assertSense(writeUsing(ua, 3, writeList(t, 0, new long[]{2000, 50})), SenseKey.ILLEGAL_REQUEST, 0x23, 0x08);
        assertEquals(0x02, rrti(ua, 3).get(5), "completed with errors");
    }

    @Test
    void aTokenMustBeTheOneIssued() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(4 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        assertTrue(populate(ua, 1, populateList(0, new long[]{0, 8})).isGood());
        byte[] t = token(ua, 1);
        byte[] tampered = t.clone();
        tampered[200] ^= 1;
        assertSense(writeUsing(ua, 2, writeList(tampered, 0, new long[]{64, 8})), SenseKey.ILLEGAL_REQUEST, 0x23, 0x05);
        byte[] unknown = t.clone();
        unknown[9] ^= 1;
        assertSense(writeUsing(ua, 2, writeList(unknown, 0, new long[]{64, 8})), SenseKey.ILLEGAL_REQUEST, 0x23, 0x04);
        assertSense(writeUsing(ua, 2, writeList(t, 8, new long[]{64, 8})), SenseKey.ILLEGAL_REQUEST, 0x26, 0x00);
        assertSense(populate(ua, 4, populateList(0, new long[]{(4 << 20) / BLOCK - 4, 8})), SenseKey.ILLEGAL_REQUEST,
                0x21, 0x00);
        ByteBuffer immediate = populateList(0, new long[]{0, 8});
        immediate.put(2, (byte) 1);
        assertSense(populate(ua, 5, immediate), SenseKey.ILLEGAL_REQUEST, 0x26, 0x00);
        ua.close();
        assertSense(writeUsing(unit("b", new MemoryBlockDevice(1 << 20, BLOCK), false), 6,
                writeList(t, 0, new long[]{0, 8})), SenseKey.ILLEGAL_REQUEST, 0x23, 0x06);
    }

    @Test
    void anUnusedTokenExpiresAfterItsInactivityTimeout() {
        AtomicLong now = new AtomicLong();
        RodTokens tokens = new RodTokens(now::get);
        BlockLogicalUnit ua = unit("a", new MemoryBlockDevice(1 << 20, BLOCK), false);
        byte[] t = tokens.create(ua, ua.ranges(), List.of(new RodTokens.Range(0, 8)),
                RodTokens.ROD_POINT_IN_TIME_DEFAULT, 10, "iqn.x");
        now.addAndGet(9_000_000_000L);
        assertTrue(tokens.lookup(t) instanceof RodTokens.Token, "used at 9 s: the timeout starts again");
        now.addAndGet(9_000_000_000L);
        assertTrue(tokens.lookup(t) instanceof RodTokens.Token);
        now.addAndGet(10_000_000_001L);
        assertEquals(RodTokens.Problem.EXPIRED, tokens.lookup(t), "TOKEN EXPIRED, not UNKNOWN");
        assertEquals(0, tokens.size());
        byte[] other = t.clone();
        other[8] ^= 1;
        assertEquals(RodTokens.Problem.UNKNOWN, tokens.lookup(other));
    }

    @Test
    void oneInitiatorCannotTakeEveryToken() {
        RodTokens tokens = new RodTokens(() -> 0L);
        BlockLogicalUnit ua = unit("a", new MemoryBlockDevice(1 << 20, BLOCK), false);
        List<RodTokens.Range> r = List.of(new RodTokens.Range(0, 8));
        for (int i = 0; i < RodTokens.MAX_TOKENS_PER_INITIATOR; i++) {
            assertNotNull(tokens.create(ua, ua.ranges(), r, RodTokens.ROD_POINT_IN_TIME_DEFAULT, 60, "iqn.greedy"));
        }
        assertEquals(null, tokens.create(ua, ua.ranges(), r, RodTokens.ROD_POINT_IN_TIME_DEFAULT, 60, "iqn.greedy"));
        assertNotNull(tokens.create(ua, ua.ranges(), r, RodTokens.ROD_POINT_IN_TIME_DEFAULT, 60, "iqn.other"),
                "another initiator still gets one");
    }

    @Test
    void aLongWriteStopsAtItsDeadlineAndTheRestFollowsWithAnOffset() throws Exception {
        MemoryBlockDevice a = new MemoryBlockDevice(32 << 20, BLOCK);
        BlockLogicalUnit ua = unit("a", a, false);
        byte[] data = random(8 << 20, 6);
        a.write(0, ByteBuffer.wrap(data), false);
        AtomicLong now = new AtomicLong();
        // every clock reading is a second later: the deadline passes after a few chunks
        OdxCommands odx = new OdxCommands(ua, RodTokens.SERVER, () -> now.addAndGet(1_000_000_000L));
        assertTrue(populate(ua, 1, populateList(0, new long[]{0, (8 << 20) / BLOCK})).isGood());
        byte[] t = token(ua, 1);
        long total = (8 << 20) / BLOCK;
        long done = 0;
        int commands = 0;
        while (done < total) {
            ByteBuffer list = writeList(t, done, new long[]{32768 + done, total - done});
            FakeTask task = FakeTask.of(FakeTask.NEXUS, String.format("83 11 00 00 00 00 %08x %08x 00 00", 9,
                    list.capacity()), list);
            assertTrue(odx.writeUsingToken(task).isGood());
            ScsiResult info = odx.receiveRodTokenInformation(FakeTask.of(FakeTask.NEXUS,
                    "84 07 00 00 00 09 00 00 00 00 00 00 04 00 00 00", null));
            long count = info.dataIn().getLong(16);
            assertTrue(count > 0 && count <= total - done, "transfer count " + count);
            done += count;
            commands++;
        }
        assertTrue(commands > 1);
        assertEquals(-1, ByteBuffer.wrap(read(a, 32768L * BLOCK, data.length)).mismatch(ByteBuffer.wrap(data)));
    }

    /**
     * While a writer changes the token's source at a random moment, every WRITE USING TOKEN that
     * answers GOOD wrote exactly the point in time; the others say TOKEN CANCELLED (seeded).
     */
    @Test
    void aCopyThatSucceedsIsThePointInTimeEvenWithAWriterRacingIt() throws Exception {
        long seed = 20261202;
        int good = 0;
        int cancelled = 0;
        for (int round = 0; round < 24; round++) {
            Random r = new Random(seed + round);
            MemoryBlockDevice a = new MemoryBlockDevice(24 << 20, BLOCK);
            BlockLogicalUnit ua = unit("a" + round, a, false);
            byte[] before = random(4 << 20, seed + round);
            a.write(0, ByteBuffer.wrap(before), false);
            assertTrue(populate(ua, 1, populateList(0, new long[]{0, (4 << 20) / BLOCK})).isGood());
            byte[] t = token(ua, 1);
            CountDownLatch go = new CountDownLatch(1);
            long lba = r.nextInt((4 << 20) / BLOCK);
            int spin = r.nextInt(2000);
            Thread writer = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < spin; i++) {
                        Thread.onSpinWait();
                    }
                    ua.execute(FakeTask.of(FakeTask.NEXUS, String.format("2a 00 %08x 00 00 01 00", lba),
                            ByteBuffer.wrap(random(BLOCK, lba))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            writer.start();
            go.countDown();
            ScsiResult res = writeUsing(ua, 2, writeList(t, 0, new long[]{16384, (4 << 20) / BLOCK}));
            writer.join();
            if (res.isGood()) {
                good++;
                assertEquals(-1, ByteBuffer.wrap(read(a, 16384L * BLOCK, before.length)).mismatch(ByteBuffer.wrap(before)),
                        "round " + round);
            } else {
                cancelled++;
                assertSense(res, SenseKey.ILLEGAL_REQUEST, 0x23, 0x08);
            }
        }
    }

    /**
     * A write that took its blocks before the token existed could not cancel it: POPULATE TOKEN
     * waits until such writes have landed, so every use of the token copies the same data. (It
     * answered at once, a first WRITE USING TOKEN copied the old block, the write landed, and a
     * second one copied the new block: two contents for one point in time.)
     */
    @Test
    void aTokenMadeWhileAWriteIsInFlightStandsForOneContent() throws Exception {
        SanitizeCommandsTest.GatedDevice gated = new SanitizeCommandsTest.GatedDevice(new MemoryBlockDevice(4 << 20, BLOCK));
        gated.inner.write(0, ByteBuffer.wrap(random(1000 * BLOCK, 7)), false);
        BlockLogicalUnit ua = unit("gated", gated, false);
        BlockLogicalUnit ub = unit("b", new MemoryBlockDevice(4 << 20, BLOCK), false);
        gated.close(true);
        Thread writer = new Thread(() -> ua.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 64 00 00 01 00",
                ByteBuffer.wrap(random(BLOCK, 8)))));
        writer.start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (gated.waiting.get() == 0) {
            assertTrue(System.nanoTime() < deadline, "the write reached the device");
            Thread.onSpinWait();
        }
        ScsiResult[] populated = new ScsiResult[1];
        Thread populate = new Thread(() -> populated[0] = populate(ua, 1, populateList(0, new long[]{0, 1000})));
        populate.start();
        populate.join(500); // either it answered already, or it waits for the write: both are checked
        byte[] first = null;
        if (populated[0] != null) {
            assertTrue(populated[0].isGood());
            assertTrue(writeUsing(ub, 2, writeList(token(ua, 1), 0, new long[]{0, 1000})).isGood());
            first = read(ub.device(), 0, 1000 * BLOCK);
        }
        gated.open();
        writer.join();
        populate.join();
        assertTrue(populated[0].isGood());
        byte[] t = token(ua, 1);
        ScsiResult second = writeUsing(ub, 3, writeList(t, 0, new long[]{1000, 1000}));
        if (second.isGood()) {
            byte[] copied = read(ub.device(), 1000L * BLOCK, 1000 * BLOCK);
            if (first != null) {
                assertEquals(-1, ByteBuffer.wrap(copied).mismatch(ByteBuffer.wrap(first)), "one token, one content");
            }
            assertEquals(-1, ByteBuffer.wrap(copied).mismatch(ByteBuffer.wrap(read(gated.inner, 0, 1000 * BLOCK))),
                    "the token stands for the data as it was when POPULATE TOKEN answered: with the write");
        } else {
            assertSense(second, SenseKey.ILLEGAL_REQUEST, 0x23, 0x08);
        }
    }

    @Test
    void overlappingRangesAreRefused() {
        BlockLogicalUnit ua = unit("a", new MemoryBlockDevice(4 << 20, BLOCK), false);
        assertSense(populate(ua, 1, populateList(0, new long[]{0, 100}, new long[]{50, 100})),
                SenseKey.ILLEGAL_REQUEST, 0x26, 0x00);
        assertTrue(populate(ua, 2, populateList(0, new long[]{0, 100}, new long[]{100, 100})).isGood());
        assertSense(writeUsing(ua, 3, writeList(token(ua, 2), 0, new long[]{1000, 100}, new long[]{1099, 100})),
                SenseKey.ILLEGAL_REQUEST, 0x26, 0x00);
    }

    /** The Third-party Copy VPD page, descriptor by descriptor, at the offsets SPC-4 and SBC-4 give. */
    @Test
    void theThirdPartyCopyPageHasEveryDescriptorWhereTheStandardPutsIt() {
        BlockLogicalUnit ua = unit("a", new MemoryBlockDevice(4 << 20, BLOCK), false);
        ByteBuffer page = ua.execute(FakeTask.of("12 01 8f 04 00 00")).dataIn();
        assertEquals(page.remaining() - 4, page.getShort(2) & 0xffff);
        java.util.Map<Integer, ByteBuffer> d = new java.util.TreeMap<>();
        for (int at = 4; at < page.remaining(); ) {
            int type = page.getShort(at) & 0xffff;
            int length = page.getShort(at + 2) & 0xffff;
            assertTrue(at + 4 + length <= page.remaining(), "descriptor " + Integer.toHexString(type) + " fits");
            d.put(type, page.slice(at, 4 + length));
            at += 4 + length;
        }
        assertEquals(java.util.Set.of(0x0000, 0x0001, 0x0004, 0x0008, 0x0106, 0x0108, 0x8001), d.keySet());
        ByteBuffer limits = d.get(0x0000);
        assertEquals(0x20, limits.getShort(2), "Block Device ROD Token Limits: length");
        assertEquals(OdxCommands.MAX_RANGE_DESCRIPTORS, limits.getShort(10));
        assertEquals(RodTokens.MAX_INACTIVITY_SECONDS, limits.getInt(12));
        assertEquals(RodTokens.DEFAULT_INACTIVITY_SECONDS, limits.getInt(16));
        assertEquals(OdxCommands.MAX_TOKEN_BYTES / BLOCK, limits.getLong(20));
        assertEquals(OdxCommands.OPTIMAL_TRANSFER_BYTES / BLOCK, limits.getLong(28));
        ByteBuffer parameters = d.get(0x0004);
        assertEquals(0x1c, parameters.getShort(2));
        assertEquals(CopyCommands.MAX_TARGET_DESCRIPTORS, parameters.getShort(8));
        assertEquals(CopyCommands.MAX_SEGMENT_DESCRIPTORS, parameters.getShort(10));
        assertEquals(CopyCommands.MAX_DESCRIPTOR_LIST_LENGTH, parameters.getInt(12));
        ByteBuffer supported = d.get(0x0008);
        assertEquals(2, supported.get(4));
        assertEquals(java.util.Set.of(0x02, 0xe4), java.util.Set.of(supported.get(5) & 0xff, supported.get(6) & 0xff));
        ByteBuffer types = d.get(0x0108);
        assertEquals(128, types.getShort(6), "two ROD type descriptors of 64 bytes");
        assertEquals(RodTokens.ROD_POINT_IN_TIME_DEFAULT, types.getInt(8));
        assertEquals(RodTokens.ROD_BLOCK_ZERO, types.getInt(72));
        ByteBuffer commands = d.get(0x0001);
        assertEquals(0x83, commands.get(5) & 0xff);
        assertEquals(3, commands.get(6), "EXTENDED COPY(LID1), POPULATE TOKEN, WRITE USING TOKEN");
    }
}
