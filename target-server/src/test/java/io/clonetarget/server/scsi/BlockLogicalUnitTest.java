package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BlockLogicalUnitTest {
    static final int BLOCKS = 2048;
    MemoryBlockDevice device;
    BlockLogicalUnit lu;

    @BeforeEach
    void setUp() {
        device = new MemoryBlockDevice(BLOCKS * 512, 512);
        lu = new BlockLogicalUnit("test", device, LunIdentity.fromSeed("seed", "test"), false, new HeapBuffers());
    }

    static void assertSense(ScsiResult r, Asc expected) {
        assertEquals(ScsiStatus.CHECK_CONDITION, r.status(), "status");
        assertNotNull(r.sense());
        byte[] s = r.sense();
        assertEquals(0x70, s[0] & 0x7f, "fixed format");
        assertEquals(expected.key().code(), s[2] & 0x0f, "sense key of " + expected);
        assertEquals(expected.asc(), s[12] & 0xff, "ASC of " + expected);
        assertEquals(expected.ascq(), s[13] & 0xff, "ASCQ of " + expected);
    }

    static int fieldPointer(ScsiResult r) {
        byte[] s = r.sense();
        assertTrue((s[15] & 0x80) != 0, "SKSV set");
        return ((s[16] & 0xff) << 8) | (s[17] & 0xff);
    }

    ScsiResult run(String cdb) {
        return lu.execute(FakeTask.of(cdb));
    }

    ScsiResult run(String cdb, ByteBuffer dataOut) {
        return lu.execute(FakeTask.of(FakeTask.NEXUS, cdb, dataOut));
    }

    static ByteBuffer blocks(int count, byte fill) {
        ByteBuffer b = ByteBuffer.allocateDirect(count * 512);
        while (b.hasRemaining()) {
            b.put(fill);
        }
        return b.flip();
    }

    @Test
    void writeThenReadEveryCdbSize() {
        assertTrue(run("0a 00 00 10 02 00", blocks(2, (byte) 1)).isGood(), "WRITE(6) LBA 16");
        assertTrue(run("2a 00 00 00 00 20 00 00 02 00", blocks(2, (byte) 2)).isGood(), "WRITE(10) LBA 32");
        assertTrue(run("aa 00 00 00 00 30 00 00 00 02 00 00", blocks(2, (byte) 3)).isGood(), "WRITE(12) LBA 48");
        assertTrue(run("8a 08 00 00 00 00 00 00 00 40 00 00 00 02 00 00", blocks(2, (byte) 4)).isGood(), "WRITE(16) FUA");
        assertEquals(blocks(2, (byte) 1), run("08 00 00 10 02 00").dataIn());
        assertEquals(blocks(2, (byte) 2), run("28 00 00 00 00 20 00 00 02 00").dataIn());
        assertEquals(blocks(2, (byte) 3), run("a8 00 00 00 00 30 00 00 00 02 00 00").dataIn());
        assertEquals(blocks(2, (byte) 4), run("88 00 00 00 00 00 00 00 00 40 00 00 00 02 00 00").dataIn());
    }

    @Test
    void read6WithLengthZeroMeans256Blocks() {
        ScsiResult r = run("08 00 00 00 00 00");
        assertTrue(r.isGood());
        assertEquals(256 * 512, r.dataInLength());
    }

    @Test
    void zeroLengthTransfersAreGoodAndMoveNothing() {
        assertTrue(run("28 00 00 00 00 00 00 00 00 00").isGood());
        assertNull(run("28 00 00 00 07 ff 00 00 00 00").dataIn(), "at the last LBA + 1 with 0 blocks");
        assertTrue(run("2a 00 00 00 08 00 00 00 00 00").isGood(), "0 blocks at capacity is in range");
    }

    static Stream<Arguments> outOfRange() {
        return Stream.of(
                Arguments.of("last block plus one", "28 00 00 00 07 ff 00 00 02 00"),
                Arguments.of("LBA equal to capacity", "28 00 00 00 08 00 00 00 01 00"),
                Arguments.of("LBA 2^32-1", "28 00 ff ff ff ff 00 00 01 00"),
                Arguments.of("READ(16) LBA 2^63", "88 00 80 00 00 00 00 00 00 00 00 00 00 01 00 00"),
                Arguments.of("READ(16) LBA 2^64-1", "88 00 ff ff ff ff ff ff ff ff 00 00 00 01 00 00"),
                Arguments.of("READ(16) LBA + length wraps", "88 00 7f ff ff ff ff ff ff ff 00 00 00 02 00 00"),
                Arguments.of("READ(6) beyond the end", "08 1f ff ff 01 00"),
                Arguments.of("WRITE(16) past the end", "8a 00 00 00 00 00 00 00 07 ff 00 00 00 02 00 00"),
                Arguments.of("VERIFY(10) past the end", "2f 00 00 00 07 ff 00 00 02 00"),
                Arguments.of("SYNCHRONIZE CACHE(10) past the end", "35 00 00 00 08 00 00 00 01 00"),
                Arguments.of("PRE-FETCH(16) past the end", "90 00 00 00 00 00 00 00 08 00 00 00 00 01 00 00"),
                Arguments.of("GET LBA STATUS at capacity", "9e 12 00 00 00 00 00 00 08 00 00 00 00 20 00 00"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("outOfRange")
    void lbaOutOfRange(String name, String cdb) {
        assertSense(run(cdb, blocks(2, (byte) 0)), Asc.LBA_OUT_OF_RANGE);
    }

    @Test
    void transferLongerThanTheMaximumIsAnInvalidField() {
        BlockLogicalUnit big = new BlockLogicalUnit("big", new MemoryBlockDevice(32 << 20, 512),
                LunIdentity.fromSeed("big", "test"), false, new HeapBuffers());
        ScsiResult r = big.execute(FakeTask.of("88 00 00 00 00 00 00 00 00 00 00 00 ff ff 00 00"));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(10, fieldPointer(r), "points at TRANSFER LENGTH");
    }

    @Test
    void protectionFieldsAreRefused() {
        ScsiResult r = run("28 20 00 00 00 00 00 00 01 00");
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(1, fieldPointer(r));
        assertEquals(0xcf, r.sense()[15] & 0xff, "SKSV, C/D=CDB, BPV, bit 7");
    }

    @Test
    void unknownOpcodeAndServiceAction() {
        ScsiResult r = run("c0 00 00 00 00 00");
        assertSense(r, Asc.INVALID_COMMAND_OPERATION_CODE);
        assertSense(run("9e 1f 00 00 00 00 00 00 00 00 00 00 00 20 00 00"), Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void nacaBitIsRefused() {
        ScsiResult r = run("00 00 00 00 00 04");
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(5, fieldPointer(r));
    }

    @Test
    void everyTableEntryIsDispatched() {
        for (CommandInfo c : CommandTable.COMMANDS) {
            if (c.opcode() == 0xa0) {
                continue;
            }
            ByteBuffer cdb = ByteBuffer.allocate(16);
            cdb.put(0, (byte) c.opcode());
            if (c.hasServiceAction()) {
                cdb.put(1, (byte) c.serviceAction());
            }
            ScsiResult r = lu.execute(new FakeTask(FakeTask.NEXUS, cdb, ByteBuffer.allocate(0), 1 << 20));
            if (r.sense() != null) {
                int asc = r.sense()[12] & 0xff;
                assertTrue(asc != 0x20, c.name() + " is listed but not dispatched");
            }
        }
    }

    @Test
    void inquiryStandardAndVpdPages() {
        ByteBuffer std = run("12 00 00 00 ff 00").dataIn();
        assertEquals(74, std.remaining());
        assertEquals(0, std.get(0));
        assertEquals(6, std.get(2));
        assertEquals(0x02, std.get(7), "CMDQUE");
        ByteBuffer pages = run("12 01 00 00 ff 00").dataIn();
        assertEquals(8, pages.getShort(2));
        assertEquals(0x8f, pages.get(8) & 0xff, "Third-party Copy, in page order");
        ByteBuffer serial = run("12 01 80 00 ff 00").dataIn();
        assertEquals(24, serial.getShort(2), "serial of 24 hex digits");
        ByteBuffer id = run("12 01 83 00 ff 00").dataIn();
        assertEquals(0x03, id.get(5), "first designator is NAA");
        int walked = 4;
        int designators = 0;
        while (walked < id.remaining()) {
            walked += 4 + (id.get(walked + 3) & 0xff);
            designators++;
        }
        assertEquals(id.getShort(2) + 4, walked, "page length covers exactly the designators");
        assertEquals(6, designators, "NAA, T10, relative target port, target port group, port and device names");
        assertEquals(0x60, id.get(8) & 0xf0, "NAA type 6");
        ByteBuffer limits = run("12 01 b0 00 ff 00").dataIn();
        assertEquals(0x3c, limits.getShort(2));
        assertEquals(BlockCommands.MAX_TRANSFER_BYTES / 512, limits.getInt(8));
        assertTrue(limits.getInt(20) > 0 && limits.getInt(24) > 0, "UNMAP limits for Windows");
        ByteBuffer lbp = run("12 01 b2 00 ff 00").dataIn();
        assertEquals(0xe4, lbp.get(5) & 0xff, "LBPU, LBPWS, LBPWS10, LBPRZ");
        assertSense(run("12 01 99 00 ff 00"), Asc.INVALID_FIELD_IN_CDB);
        assertSense(run("12 00 80 00 ff 00"), Asc.INVALID_FIELD_IN_CDB);
        assertEquals(5, run("12 00 00 00 05 00").dataIn().remaining(), "allocation length cuts the data");
    }

    @Test
    void identityIsStable() {
        ByteBuffer a = run("12 01 83 00 ff 00").dataIn();
        BlockLogicalUnit again = new BlockLogicalUnit("x", device, LunIdentity.fromSeed("seed", "test"), false,
                new HeapBuffers());
        ByteBuffer b = again.execute(FakeTask.of("12 01 83 00 ff 00")).dataIn();
        assertEquals(a, b);
        BlockLogicalUnit other = new BlockLogicalUnit("x", device, LunIdentity.fromSeed("other", "test"), false,
                new HeapBuffers());
        assertTrue(!a.equals(other.execute(FakeTask.of("12 01 83 00 ff 00")).dataIn()));
    }

    @Test
    void readCapacity() {
        ByteBuffer rc10 = run("25 00 00 00 00 00 00 00 00 00").dataIn();
        assertEquals(BLOCKS - 1, rc10.getInt(0));
        assertEquals(512, rc10.getInt(4));
        ByteBuffer rc16 = run("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00").dataIn();
        assertEquals(BLOCKS - 1, rc16.getLong(0));
        assertEquals(0, rc16.get(13) & 0x0f, "one logical block per physical block (ProvisioningReportTest)");
        assertEquals(0xc0, rc16.get(14) & 0xc0, "LBPME and LBPRZ");
        assertSense(run("25 00 00 00 00 01 00 00 00 00"), Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void writeSameFillsAndUnmaps() {
        ByteBuffer block = blocks(1, (byte) 0x5a);
        assertTrue(run("41 00 00 00 00 10 00 00 08 00", block).isGood());
        assertEquals(blocks(8, (byte) 0x5a), run("28 00 00 00 00 10 00 00 08 00").dataIn());
        assertTrue(run("93 08 00 00 00 00 00 00 00 10 00 00 00 04 00 00", block).isGood(), "UNMAP bit");
        assertEquals(blocks(4, (byte) 0), run("28 00 00 00 00 10 00 00 04 00").dataIn());
        assertTrue(run("93 01 00 00 00 00 00 00 00 14 00 00 00 04 00 00").isGood(), "NDOB");
        assertEquals(blocks(4, (byte) 0), run("28 00 00 00 00 14 00 00 04 00").dataIn());
        assertSense(run("41 00 00 00 00 10 00 00 08 00", blocks(2, (byte) 1)), Asc.INVALID_FIELD_IN_CDB);
        assertSense(run("41 10 00 00 00 10 00 00 08 00", block), Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void unmapValidatesEveryDescriptorBeforeDoingAnything() {
        assertTrue(run("2a 00 00 00 00 00 00 00 10 00", blocks(16, (byte) 7)).isGood());
        ByteBuffer list = ByteBuffer.allocateDirect(8 + 32);
        list.putShort(0, (short) 38).putShort(2, (short) 32);
        list.putLong(8, 0).putInt(16, 4);
        list.putLong(24, BLOCKS).putInt(32, 1);
        assertSense(run("42 00 00 00 00 00 00 00 28 00", list), Asc.LBA_OUT_OF_RANGE);
        assertEquals(blocks(4, (byte) 7), run("28 00 00 00 00 00 00 00 04 00").dataIn(), "nothing was unmapped");
        list.putLong(24, 8).putInt(32, 2);
        assertTrue(run("42 00 00 00 00 00 00 00 28 00", list).isGood());
        assertEquals(blocks(4, (byte) 0), run("28 00 00 00 00 00 00 00 04 00").dataIn());
        assertEquals(blocks(2, (byte) 0), run("28 00 00 00 00 08 00 00 02 00").dataIn());
        assertEquals(blocks(1, (byte) 7), run("28 00 00 00 00 0a 00 00 01 00").dataIn());
        assertSense(run("42 00 00 00 00 00 00 00 04 00", list), Asc.PARAMETER_LIST_LENGTH_ERROR);
        assertTrue(run("42 00 00 00 00 00 00 00 00 00").isGood(), "empty parameter list");
    }

    @Test
    void verifyAndCompareAndWrite() {
        assertTrue(run("2a 00 00 00 00 00 00 00 02 00", blocks(2, (byte) 9)).isGood());
        assertTrue(run("2f 02 00 00 00 00 00 00 02 00", blocks(2, (byte) 9)).isGood(), "BYTCHK=1 match");
        ByteBuffer differs = blocks(2, (byte) 9);
        differs.put(700, (byte) 1);
        ScsiResult miscompare = run("2f 02 00 00 00 00 00 00 02 00", differs);
        assertEquals(SenseKey.MISCOMPARE.code(), miscompare.sense()[2] & 0x0f);
        assertEquals(700, ByteBuffer.wrap(miscompare.sense()).getInt(3), "INFORMATION = offset of the first difference");
        assertTrue(run("2f 06 00 00 00 00 00 00 02 00", blocks(1, (byte) 9)).isGood(), "BYTCHK=11b");

        ByteBuffer caw = ByteBuffer.allocateDirect(1024);
        caw.put(blocks(1, (byte) 9)).put(blocks(1, (byte) 3)).flip();
        assertTrue(run("89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00", caw.duplicate()).isGood());
        assertEquals(blocks(1, (byte) 3), run("28 00 00 00 00 00 00 00 01 00").dataIn());
        ScsiResult again = run("89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00", caw.duplicate());
        assertEquals(SenseKey.MISCOMPARE.code(), again.sense()[2] & 0x0f, "the block is 3 now, not 9");
        assertEquals(blocks(1, (byte) 3), run("28 00 00 00 00 00 00 00 01 00").dataIn(), "nothing written");
        assertSense(run("89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00", blocks(1, (byte) 9)),
                Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void writeProtection() {
        BlockLogicalUnit ro = new BlockLogicalUnit("ro", device, LunIdentity.fromSeed("s", "t"), true, new HeapBuffers());
        assertSense(ro.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00", blocks(1, (byte) 1))),
                Asc.WRITE_PROTECTED);
        for (String writeSame : new String[]{"41 00 00 00 00 00 00 00 01 00", "41 08 00 00 00 00 00 00 01 00",
            "93 08 00 00 00 00 00 00 00 00 00 00 00 01 00 00"}) {
            assertSense(ro.execute(FakeTask.of(FakeTask.NEXUS, writeSame, null)), Asc.WRITE_PROTECTED);
        }
        ByteBuffer ms = ro.execute(FakeTask.of("1a 00 3f 00 ff 00")).dataIn();
        assertEquals(0x80, ms.get(2) & 0x80, "WP in the device-specific parameter");
        assertTrue(ro.execute(FakeTask.of("28 00 00 00 00 00 00 00 01 00")).isGood());
    }

    @Test
    void modeSelectSoftwareWriteProtectAndDescriptorSense() {
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "00 00 00 00 00 00", null)).isGood(), "OTHER is known");
        ByteBuffer control = run("1a 08 0a 00 ff 00").dataIn();
        assertEquals(4 + 12, control.remaining());
        ByteBuffer select = ByteBuffer.allocateDirect(16);
        for (int i = 0; i < 16; i++) {
            select.put(i, control.get(i));
        }
        select.put(0, (byte) 0).put(2, (byte) 0);
        select.put(4 + 4, (byte) (select.get(8) | 0x08));
        select.put(4 + 2, (byte) (select.get(6) | 0x04));
        assertTrue(lu.execute(FakeTask.of(FakeTask.NEXUS, "15 10 00 00 10 00", select)).isGood());
        ScsiResult w = run("2a 00 00 00 00 00 00 00 01 00", blocks(1, (byte) 1));
        assertEquals(ScsiStatus.CHECK_CONDITION, w.status());
        assertEquals(0x72, w.sense()[0], "descriptor format after D_SENSE");
        assertEquals(SenseKey.DATA_PROTECT.code(), w.sense()[1]);
        ScsiResult ua = lu.execute(FakeTask.of(FakeTask.OTHER, "00 00 00 00 00 00", null));
        assertEquals(0x2a, ua.sense()[2] & 0xff, "other nexus: MODE PARAMETERS CHANGED");
        ByteBuffer bad = select.duplicate();
        bad.put(4 + 3, (byte) 0x00);
        ScsiResult refused = lu.execute(FakeTask.of(FakeTask.NEXUS, "15 10 00 00 10 00", bad));
        assertEquals(0x26, refused.sense()[2] & 0xff, "non-changeable bit changed");
    }

    @Test
    void modeSenseSavedValuesAreNotSupported() {
        assertSense(run("1a 00 ff 00 ff 00"), Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
        assertSense(run("1a 00 3f 01 ff 00"), Asc.INVALID_FIELD_IN_CDB);
        ByteBuffer caching = run("5a 00 08 00 00 00 00 00 ff 00").dataIn();
        assertEquals(0x04, caching.get(8 + 8 + 2) & 0x04, "WCE=1");
    }

    @Test
    void unitAttentionComesFirstThenClears() {
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "00 00 00 00 00 00", null)).isGood());
        lu.reset(FakeTask.NEXUS);
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "12 00 00 00 ff 00", null)).isGood(), "INQUIRY passes");
        ScsiResult r = lu.execute(FakeTask.of(FakeTask.OTHER, "c0 00 00 00 00 00", null));
        assertSense(r, Asc.BUS_DEVICE_RESET);
        assertSense(lu.execute(FakeTask.of(FakeTask.OTHER, "c0 00 00 00 00 00", null)), Asc.INVALID_COMMAND_OPERATION_CODE);
    }

    @Test
    void requestSenseReportsAndClearsAPendingUnitAttention() {
        run("00 00 00 00 00 00");
        lu.notifyAll(Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
        ByteBuffer s = run("03 00 00 00 ff 00").dataIn();
        assertEquals(0x3f, s.get(12));
        assertEquals(0x0e, s.get(13));
        ByteBuffer none = run("03 01 00 00 ff 00").dataIn();
        assertEquals(0x72, none.get(0), "DESC=1");
        assertEquals(0, none.get(1));
    }

    @Test
    void reportSupportedOperationCodes() {
        ByteBuffer all = run("a3 0c 00 00 00 00 00 00 ff ff 00 00").dataIn();
        assertTrue(all.getInt(0) >= 8 * 40);
        ByteBuffer one = run("a3 0c 01 28 00 00 00 00 00 ff 00 00").dataIn();
        assertEquals(0x03, one.get(1) & 0x07, "supported");
        assertEquals(10, one.getShort(2));
        assertEquals(0x28, one.get(4) & 0xff);
        ByteBuffer withAction = run("a3 0c 02 9e 00 10 00 00 00 ff 00 00").dataIn();
        assertEquals(0x10, withAction.get(5) & 0x1f);
        assertSense(run("a3 0c 01 9e 00 10 00 00 00 ff 00 00"), Asc.INVALID_FIELD_IN_CDB);
        assertSense(run("a3 0c 02 28 00 00 00 00 00 ff 00 00"), Asc.INVALID_FIELD_IN_CDB);
        ByteBuffer unsupported = run("a3 0c 01 c0 00 00 00 00 00 ff 00 00").dataIn();
        assertEquals(0x01, unsupported.get(1) & 0x07);
        ByteBuffer timeouts = run("a3 0c 81 28 00 00 00 00 00 ff 00 00").dataIn();
        assertEquals(4 + 10 + 12, timeouts.remaining());
    }

    @Test
    void getLbaStatusReportsDeallocatedRanges() {
        byte[] cdb = HexFormat.of().parseHex("9e120000000000000000000000ff0000");
        ScsiResult r = lu.execute(new FakeTask(FakeTask.NEXUS, ByteBuffer.wrap(cdb), null, 255));
        assertTrue(r.isGood());
        assertEquals(0, r.dataIn().getLong(8), "starts at the requested LBA");
    }

    @Test
    void reserve6ConflictsForOtherNexuses() {
        assertTrue(run("16 00 00 00 00 00").isGood());
        ScsiResult other = lu.execute(FakeTask.of(FakeTask.OTHER, "1a 00 3f 00 ff 00", null));
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, other.status());
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "12 00 00 00 ff 00", null)).isGood());
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "17 00 00 00 00 00", null)).isGood(), "release by other: no-op");
        assertEquals(ScsiStatus.RESERVATION_CONFLICT,
                lu.execute(FakeTask.of(FakeTask.OTHER, "16 00 00 00 00 00", null)).status());
        lu.nexusLost(FakeTask.NEXUS);
        assertTrue(lu.execute(FakeTask.of(FakeTask.OTHER, "16 00 00 00 00 00", null)).isGood(), "released on nexus loss");
    }

    @Test
    void senseDescriptorFormat() {
        SenseData s = SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, 2, 5).withInformation(9);
        byte[] d = s.descriptor();
        assertEquals(0x72, d[0]);
        assertEquals(0x05, d[1]);
        assertEquals(0x24, d[2]);
        assertEquals(d.length - 8, d[7]);
        byte[] f = s.fixed();
        assertArrayEquals(new byte[]{(byte) 0xcd, 0, 2}, new byte[]{f[15], f[16], f[17]});
    }

    /** A memory device whose non-blocking path accepts or declines on demand. */
    static final class SwitchableDevice implements io.clonetarget.storage.device.BlockDevice {
        final MemoryBlockDevice inner;
        boolean fast = true;

        SwitchableDevice(MemoryBlockDevice inner) {
            this.inner = inner;
        }

        @Override
        public boolean tryRead(long offset, ByteBuffer dst) {
            if (fast) {
                inner.read(offset, dst);
            }
            return fast;
        }

        @Override
        public boolean tryWrite(long offset, ByteBuffer src) throws java.io.IOException {
            if (fast) {
                inner.write(offset, src, false);
            }
            return fast;
        }

        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return 512; }
        @Override public int physicalBlockSize() { return 4096; }
        @Override public boolean isReadOnly() { return false; }
        @Override public void read(long offset, ByteBuffer dst) { inner.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src, boolean fua) throws java.io.IOException {
            inner.write(offset, src, fua);
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) throws java.io.IOException {
            inner.discard(offset, length);
        }
        @Override public void writeZeroes(long offset, long length) throws java.io.IOException {
            inner.writeZeroes(offset, length);
        }
        @Override public String describe() { return "switchable"; }
        @Override public void close() { }
    }

    @Test
    void tryExecuteRunsPlainReadsAndWritesAndChangesNothingWhenItDeclines() {
        SwitchableDevice dev = new SwitchableDevice(device);
        BlockLogicalUnit fast = new BlockLogicalUnit("fast", dev, LunIdentity.fromSeed("f", "t"), false, new HeapBuffers());
        assertTrue(fast.tryExecute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 10 00 00 01 00", blocks(1, (byte) 8)))
                .isGood());
        ScsiResult read = fast.tryExecute(FakeTask.of("28 00 00 00 00 10 00 00 01 00"));
        assertEquals(blocks(1, (byte) 8), read.dataIn());
        assertNull(fast.tryExecute(FakeTask.of("12 00 00 00 ff 00")), "INQUIRY is not a fast-path command");
        assertNull(fast.tryExecute(FakeTask.of(FakeTask.NEXUS, "2a 08 00 00 00 10 00 00 01 00", blocks(1, (byte) 9))),
                "a FUA write must reach the disk: never on the fast path");
        assertSense(fast.tryExecute(FakeTask.of("28 00 00 00 08 00 00 00 01 00")), Asc.LBA_OUT_OF_RANGE);

        dev.fast = false;
        assertNull(fast.tryExecute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 10 00 00 01 00", blocks(1, (byte) 7))));
        assertEquals(blocks(1, (byte) 8), fast.execute(FakeTask.of("28 00 00 00 00 10 00 00 01 00")).dataIn(),
                "a declined write left the data alone");

        dev.fast = true;
        fast.reset(FakeTask.OTHER);
        assertNull(fast.tryExecute(FakeTask.of("28 00 00 00 00 10 00 00 01 00")), "a pending unit attention");
        assertSense(fast.execute(FakeTask.of("28 00 00 00 00 10 00 00 01 00")), Asc.BUS_DEVICE_RESET);
    }
}
