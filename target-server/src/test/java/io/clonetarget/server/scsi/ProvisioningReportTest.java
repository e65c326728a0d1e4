package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.FileBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What GET LBA STATUS reports after UNMAP matches what the file under the LUN holds, at the
 * granularity READ CAPACITY(16) claims (one logical block per physical block), on a real file
 * system: whole 4 KiB pages become holes, a partial page is zeroed and stays mapped.
 */
class ProvisioningReportTest {
    @TempDir
    Path dir;
    FileBlockDevice device;
    BlockLogicalUnit lu;

    @BeforeEach
    void setUp() throws Exception {
        device = FileBlockDevice.openOrCreate(dir.resolve("lun.img"), 4 << 20, 512);
        lu = new BlockLogicalUnit("test", device, LunIdentity.fromSeed("p", "disk"), false, new HeapBuffers());
        lu.execute(FakeTask.of("00 00 00 00 00 00")); // the power-on unit attention
        byte[] a = new byte[264 * 512];
        java.util.Arrays.fill(a, (byte) 'A');
        assertTrue(lu.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 00 00 01 08 00", ByteBuffer.wrap(a))).isGood());
    }

    @AfterEach
    void tearDown() throws Exception {
        device.close();
    }

    private void unmap(long lba, int blocks) {
        ByteBuffer list = ByteBuffer.allocate(24).putShort(0, (short) 22).putShort(2, (short) 16)
                .putLong(8, lba).putInt(16, blocks);
        assertTrue(lu.execute(FakeTask.of(FakeTask.NEXUS, "42 00 00 00 00 00 00 00 18 00", list)).isGood());
    }

    /** The first descriptor for {@code lba}: {start, count, provisioning status}. */
    private long[] status(long lba) {
        String cdb = String.format("9e 12 %016x 00 00 00 18 00 00", lba).replace(" ", "");
        ScsiResult r = lu.execute(new FakeTask(FakeTask.NEXUS, ByteBuffer.wrap(HexFormat.of().parseHex(cdb)), null, 24));
        assertTrue(r.isGood());
        ByteBuffer d = r.dataIn();
        return new long[]{d.getLong(8), d.getInt(16) & 0xffff_ffffL, d.get(20) & 0x0f};
    }

    @Test
    void oneLogicalBlockPerPhysicalBlockIsClaimedAndTheAllocationUnitIsAHint() {
        ByteBuffer rc = lu.execute(FakeTask.of("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00")).dataIn();
        assertEquals(0, rc.get(13) & 0x0f, "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT");
        ByteBuffer b0 = lu.execute(FakeTask.of("12 01 b0 00 40 00")).dataIn();
        assertEquals(8, b0.getShort(6), "OPTIMAL TRANSFER LENGTH GRANULARITY: 4 KiB");
        assertEquals(8, b0.getInt(28), "OPTIMAL UNMAP GRANULARITY: 4 KiB");
    }

    @Test
    void anUnmappedPageIsReportedDeallocatedAndItsNeighbourMappedFromTheRequestedBlock() {
        unmap(8, 8);
        assertEquals(java.util.List.of(8L, 8L, 1L), java.util.Arrays.stream(status(8)).boxed().toList());
        long[] next = status(16);
        assertEquals(16, next[0]);
        assertEquals(0, next[2], "mapped");
        long[] inside = status(9);
        assertEquals(9, inside[0], "the first descriptor starts at the requested LBA");
        assertEquals(7, inside[1]);
        assertEquals(1, inside[2]);
        long[] before = status(1);
        assertEquals(java.util.List.of(1L, 7L, 0L), java.util.Arrays.stream(before).boxed().toList());
    }

    @Test
    void aPartialPageIsZeroedAndStaysMappedAsReported() throws Exception {
        unmap(0, 1);
        long[] first = status(0);
        assertEquals(0, first[0]);
        assertEquals(0, first[2], "the file still holds the page: the block is mapped, and reads zero");
        ByteBuffer zero = ByteBuffer.allocate(512);
        device.read(0, zero);
        assertEquals(-1, zero.flip().mismatch(ByteBuffer.allocate(512)));
        for (int i = 0; i + 8 <= 256; i += 8) {
            unmap(0, i + 8);
            long[] s = status(i + 9);
            assertEquals(i + 9, s[0]);
            assertEquals(0, s[2], "block " + (i + 9) + " was written and not unmapped");
        }
    }
}
