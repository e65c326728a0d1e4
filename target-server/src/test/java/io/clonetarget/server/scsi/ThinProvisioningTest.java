package io.clonetarget.server.scsi;

import static io.clonetarget.server.scsi.BlockLogicalUnitTest.assertSense;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.device.MemoryBlockDevice;
import io.clonetarget.storage.device.NoSpaceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What Windows reads and is told about space: LOG SENSE page 0Ch, the soft threshold, ENOSPC. */
class ThinProvisioningTest {
    @TempDir
    Path dir;

    /** A memory device that reports a pool of a given size and can be made full. */
    static final class PoolDevice implements BlockDevice {
        final MemoryBlockDevice inner = new MemoryBlockDevice(1 << 20, 512);
        volatile long available = 1L << 30;
        volatile boolean full;

        @Override public Space space() { return new Space(available, 4L << 30); }
        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return 512; }
        @Override public int physicalBlockSize() { return 4096; }
        @Override public boolean isReadOnly() { return false; }
        @Override public void read(long offset, ByteBuffer dst) { inner.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            if (full) {
                throw new NoSpaceException("no space left on device (test)");
            }
            inner.write(offset, src, fua);
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) throws IOException { inner.discard(offset, length); }
        @Override public void writeZeroes(long offset, long length) throws IOException { inner.writeZeroes(offset, length); }
        @Override public String describe() { return "pool device"; }
        @Override public void close() { }
    }

    static ScsiResult run(LogicalUnit u, Nexus n, String cdb, ByteBuffer data) {
        return u.execute(FakeTask.of(n, cdb, data));
    }

    static BlockLogicalUnit unit(BlockDevice d) {
        BlockLogicalUnit u = new BlockLogicalUnit("t", d, LunIdentity.fromSeed("t", "disk"), false, new HeapBuffers());
        run(u, FakeTask.NEXUS, "00 00 00 00 00 00", null);
        run(u, FakeTask.OTHER, "00 00 00 00 00 00", null);
        return u;
    }

    @Test
    void theProvisioningLogPageReportsTheFileSystemOfTheVolume() throws Exception {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("lun.img"), 8 << 20, 512)) {
            BlockLogicalUnit u = unit(d);
            ByteBuffer pages = run(u, FakeTask.NEXUS, "4d 00 40 00 00 00 00 00 ff 00", null).dataIn();
            assertEquals(2, pages.getShort(2));
            assertEquals(0x0c, pages.get(5), "the Logical Block Provisioning page is listed");
            java.nio.file.FileStore store = Files.getFileStore(dir);
            long before = store.getUsableSpace();
            ByteBuffer lbp = run(u, FakeTask.NEXUS, "4d 00 4c 00 00 00 00 00 ff 00", null).dataIn();
            long after = store.getUsableSpace();
            assertEquals(0x0c, lbp.get(0));
            assertEquals(24, lbp.getShort(2));
            assertEquals(0x0001, lbp.getShort(4), "AVAILABLE LBA MAPPING RESOURCE COUNT");
            assertEquals(0x08, lbp.get(7));
            long available = (lbp.getInt(8) & 0xffff_ffffL) << 20; // threshold sets of 2^11 blocks: 1 MiB
            assertTrue(available <= Math.max(before, after) && available > Math.min(before, after) - (2 << 20),
                    available + " bytes, file system says " + before + ".." + after);
            assertEquals(0x02, lbp.get(12) & 0x03, "SCOPE: not dedicated to this unit");
            assertEquals(0x0002, lbp.getShort(16), "USED LBA MAPPING RESOURCE COUNT");
            long used = (lbp.getInt(20) & 0xffff_ffffL) << 20;
            assertTrue(used > 0 && used <= store.getTotalSpace());
            ByteBuffer b2 = run(u, FakeTask.NEXUS, "12 01 b2 00 40 00", null).dataIn();
            assertEquals(11, b2.get(4), "THRESHOLD EXPONENT: 2^11 blocks of 512 bytes");
            assertSense(run(u, FakeTask.NEXUS, "4d 01 4c 00 00 00 00 00 ff 00", null), Asc.INVALID_FIELD_IN_CDB);
            assertSense(run(u, FakeTask.NEXUS, "4d 00 0c 00 00 00 00 00 ff 00", null), Asc.INVALID_FIELD_IN_CDB);
            assertSense(run(u, FakeTask.NEXUS, "4d 00 4d 00 00 00 00 00 ff 00", null), Asc.INVALID_FIELD_IN_CDB);
        }
    }

    @Test
    void aDeviceWithoutAPoolHasNoProvisioningPage() {
        BlockLogicalUnit u = unit(new MemoryBlockDevice(1 << 20, 512));
        assertEquals(1, run(u, FakeTask.NEXUS, "4d 00 40 00 00 00 00 00 ff 00", null).dataIn().getShort(2));
        assertSense(run(u, FakeTask.NEXUS, "4d 00 4c 00 00 00 00 00 ff 00", null), Asc.INVALID_FIELD_IN_CDB);
        assertEquals(0, run(u, FakeTask.NEXUS, "12 01 b2 00 40 00", null).dataIn().get(4));
    }

    @Test
    void fallingBelowTheWarningLevelRaisesTheSoftThresholdForEveryNexusOnce() {
        PoolDevice d = new PoolDevice();
        BlockLogicalUnit u = unit(d);
        u.warnBelow(256L << 20);
        d.available = 100L << 20;
        ByteBuffer block = ByteBuffer.allocate(512);
        assertTrue(run(u, FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00", block.duplicate()).isGood());
        assertSense(run(u, FakeTask.NEXUS, "00 00 00 00 00 00", null), Asc.THIN_PROVISIONING_SOFT_THRESHOLD);
        assertSense(run(u, FakeTask.OTHER, "00 00 00 00 00 00", null), Asc.THIN_PROVISIONING_SOFT_THRESHOLD);
        assertTrue(run(u, FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00", block.duplicate()).isGood());
        assertTrue(run(u, FakeTask.NEXUS, "00 00 00 00 00 00", null).isGood(), "reported once");
    }

    @Test
    void theWatchLooksOnceASecondAndArmsAgainAboveTheLevel() {
        PoolDevice d = new PoolDevice();
        AtomicLong now = new AtomicLong(5_000_000_000L);
        SpaceWatch w = new SpaceWatch(d, now::get);
        w.warnBelow(1000L << 20);
        d.available = 2000L << 20;
        assertFalse(w.crossed());
        d.available = 500L << 20;
        assertFalse(w.crossed(), "not a second later yet: not looked at");
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertTrue(w.crossed());
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertFalse(w.crossed(), "still below: already reported");
        d.available = 1050L << 20;
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertFalse(w.crossed());
        d.available = 900L << 20;
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertFalse(w.crossed(), "below again, but free space never rose 10% above the level: not armed again");
        d.available = 1200L << 20;
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertFalse(w.crossed());
        d.available = 900L << 20;
        now.addAndGet(SpaceWatch.INTERVAL_NANOS);
        assertTrue(w.crossed(), "armed again after rising 10% above");
    }

    @Test
    void aWriteThatFindsNoSpaceIsSpaceAllocationFailedNotAGenericError() {
        PoolDevice d = new PoolDevice();
        BlockLogicalUnit u = unit(d);
        d.full = true;
        ScsiResult r = run(u, FakeTask.NEXUS, "2a 08 00 00 00 00 00 00 01 00", ByteBuffer.allocate(512));
        assertSense(r, Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT);
        assertEquals(0x27, r.sense()[12]);
        assertEquals(0x07, r.sense()[13]);
    }
}
