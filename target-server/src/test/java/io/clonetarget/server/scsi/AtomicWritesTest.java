package io.clonetarget.server.scsi;

import static io.clonetarget.server.scsi.BlockLogicalUnitTest.assertSense;
import static io.clonetarget.server.scsi.BlockLogicalUnitTest.blocks;
import static io.clonetarget.server.scsi.BlockLogicalUnitTest.fieldPointer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import io.clonetarget.storage.testing.Await;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AtomicWritesTest {
    static final int BLOCKS = 4096;
    MemoryBlockDevice device;
    BlockLogicalUnit lu;

    @BeforeEach
    void setUp() {
        device = new MemoryBlockDevice(BLOCKS * 512, 512);
        lu = new BlockLogicalUnit("test", device, LunIdentity.fromSeed("seed", "test"), false, new HeapBuffers());
    }

    /** A WRITE ATOMIC(16) CDB. */
    static String writeAtomic(long lba, int blocks, int boundary) {
        return String.format("9c00%016x%04x%04x0000", lba, boundary, blocks);
    }

    ScsiResult run(String cdb, ByteBuffer data) {
        return lu.execute(FakeTask.of(FakeTask.NEXUS, cdb, data));
    }

    @Test
    void blockLimitsReportOneMebibyteInWholeFourKibibytePages() {
        FakeTask t = FakeTask.of("12 01 b0 00 ff 00");
        ScsiResult r = lu.execute(t);
        assertTrue(r.isGood());
        ByteBuffer b = r.dataIn();
        assertEquals(2048, b.getInt(44), "MAXIMUM ATOMIC TRANSFER LENGTH: 1 MiB of 512-byte blocks");
        assertEquals(8, b.getInt(48), "ATOMIC ALIGNMENT: one 4 KiB page");
        assertEquals(8, b.getInt(52), "ATOMIC TRANSFER LENGTH GRANULARITY: one 4 KiB page");
        assertEquals(0, b.getInt(56), "no atomic boundary");
        assertEquals(0, b.getInt(60), "no atomic boundary");
        assertTrue(b.getInt(44) <= b.getInt(8), "within MAXIMUM TRANSFER LENGTH");
    }

    /** A unit over a device with no power-safe atomic writes offers none: zero limits, no opcode, not reported. */
    @Test
    void withoutPowerSafeAtomicWritesTheCommandIsNotOffered() {
        HalvingDevice plain = new HalvingDevice(device);
        plain.limit = 0;
        BlockLogicalUnit unit = new BlockLogicalUnit("plain", plain, LunIdentity.fromSeed("seed", "p"), false,
                new HeapBuffers());
        ByteBuffer b = unit.execute(FakeTask.of("12 01 b0 00 ff 00")).dataIn();
        assertEquals(0, b.getInt(44), "MAXIMUM ATOMIC TRANSFER LENGTH");
        assertEquals(0, b.getInt(48), "ATOMIC ALIGNMENT");
        assertEquals(0, b.getInt(52), "ATOMIC TRANSFER LENGTH GRANULARITY");
        ScsiResult r = unit.execute(FakeTask.of(FakeTask.NEXUS, writeAtomic(0, 8, 0), blocks(8, (byte) 1)));
        assertSense(r, Asc.INVALID_COMMAND_OPERATION_CODE);
        assertEquals(0, firstByte(0), "nothing written");
        // REPORT SUPPORTED OPERATION CODES, one command (option 1): "not supported" (SUPPORT = 001b)
        ByteBuffer one = unit.execute(FakeTask.of("a3 0c 01 9c 0000 00000100 00 00")).dataIn();
        assertEquals(1, one.get(1) & 0x07);
        assertEquals(3, lu.execute(FakeTask.of("a3 0c 01 9c 0000 00000100 00 00")).dataIn().get(1) & 0x07,
                "the memory device's unit supports it");
        // all commands (option 0): 9ch listed only where offered
        assertEquals(false, listsOpcode(unit, 0x9c));
        assertEquals(true, listsOpcode(lu, 0x9c));
        assertEquals(true, listsOpcode(unit, 0x8a), "WRITE(16) still listed");
    }

    private static boolean listsOpcode(BlockLogicalUnit unit, int opcode) {
        ByteBuffer all = unit.execute(FakeTask.of("a3 0c 00 00 0000 00010000 00 00")).dataIn();
        for (int at = 4; at + 8 <= all.limit(); at += 8) {
            if ((all.get(at) & 0xff) == opcode) {
                return true;
            }
        }
        return false;
    }

    @Test
    void writesAndReadsBack() {
        assertTrue(run(writeAtomic(16, 16, 0), blocks(16, (byte) 0x5a)).isGood());
        ScsiResult r = lu.execute(FakeTask.of("88 00 0000000000000010 00000010 00 00"));
        assertEquals(-1, r.dataIn().mismatch(blocks(16, (byte) 0x5a)));
    }

    @Test
    void fieldsOutsideTheLimitsAreInvalidAndRangeComesFirst() {
        ScsiResult r = run(writeAtomic(1, 8, 0), blocks(8, (byte) 1));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(2, fieldPointer(r), "misaligned LBA points at byte 2");
        r = run(writeAtomic(0, 4, 0), blocks(4, (byte) 1));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(12, fieldPointer(r), "granularity points at the transfer length");
        r = run(writeAtomic(0, 2056, 0), blocks(2056, (byte) 1));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(12, fieldPointer(r), "above the maximum");
        r = run(writeAtomic(0, 8, 8), blocks(8, (byte) 1));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(10, fieldPointer(r), "atomic boundary is not supported");
        assertSense(run(writeAtomic(BLOCKS - 8, 4096, 0), blocks(4096, (byte) 1)), Asc.LBA_OUT_OF_RANGE);
        assertSense(run(writeAtomic(-8, 0, 0), null), Asc.LBA_OUT_OF_RANGE);
        assertSense(run(writeAtomic(BLOCKS + 8, 0, 0), null), Asc.LBA_OUT_OF_RANGE);
        assertTrue(run(writeAtomic(0, 0, 0), null).isGood(), "zero blocks is no error");
        assertSense(run("9c 20 0000000000000000 0000 0008 00 00", blocks(8, (byte) 1)), Asc.INVALID_FIELD_IN_CDB);
        assertSense(run(writeAtomic(0, 8, 0), blocks(7, (byte) 1)), Asc.DATA_PHASE_ERROR);
        assertEquals(0, firstByte(0), "nothing of the refused writes landed");
    }

    private int firstByte(long lba) {
        ScsiResult r = lu.execute(FakeTask.of(String.format("88 00 %016x 00000001 00 00", lba)));
        return r.dataIn().get(0);
    }

    /**
     * Stops a write halfway: the first half of the blocks is in the device when {@link #half}
     * counts down, the rest after {@link #proceed}.
     */
    static final class HalvingDevice implements io.clonetarget.storage.device.BlockDevice {
        final MemoryBlockDevice inner;
        final CountDownLatch half = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        volatile boolean armed;
        /** -1: the memory device's limit; 0: a device without power-safe atomic writes. */
        int limit = -1;

        HalvingDevice(MemoryBlockDevice inner) {
            this.inner = inner;
        }

        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return 512; }
        @Override public int physicalBlockSize() { return 4096; }
        @Override public boolean isReadOnly() { return false; }
        @Override public void read(long offset, ByteBuffer dst) { inner.read(offset, dst); }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) throws IOException { inner.discard(offset, length); }
        @Override public void writeZeroes(long offset, long length) throws IOException { inner.writeZeroes(offset, length); }
        @Override public String describe() { return "halving"; }
        @Override public int atomicWriteLimit() { return limit < 0 ? inner.atomicWriteLimit() : limit; }
        @Override public void writeAtomic(long offset, ByteBuffer src, boolean fua) throws IOException {
            write(offset, src, fua);
        }
        @Override public void close() { }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            if (!armed) {
                inner.write(offset, src, fua);
                return;
            }
            armed = false;
            int n = src.remaining() / 2;
            inner.write(offset, src.slice(src.position(), n), fua);
            half.countDown();
            try {
                assertTrue(proceed.await(20, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            inner.write(offset + n, src.slice(src.position() + n, src.remaining() - n), fua);
        }
    }

    /** Reads 16 blocks at 0 while a 16-block write is stopped halfway; returns what the read saw. */
    private ByteBuffer readDuringHalfWrite(String writeCdb) throws Exception {
        HalvingDevice halving = new HalvingDevice(device);
        RangeLock ranges = new RangeLock();
        BlockLogicalUnit unit = new BlockLogicalUnit("halving", halving, LunIdentity.fromSeed("seed", "h"), false,
                new HeapBuffers(), ranges);
        assertTrue(unit.execute(FakeTask.of(FakeTask.NEXUS, writeAtomic(0, 16, 0), blocks(16, (byte) 0x11))).isGood());
        halving.armed = true;
        // own threads: the common pool may have a single worker, which the stopped writer occupies
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            return readDuringHalfWrite(unit, halving, ranges, writeCdb, threads);
        } finally {
            threads.shutdownNow();
        }
    }

    private static ByteBuffer readDuringHalfWrite(BlockLogicalUnit unit, HalvingDevice halving, RangeLock ranges,
                                                  String writeCdb, ExecutorService threads) throws Exception {
        CompletableFuture<ScsiResult> writer = CompletableFuture.supplyAsync(
                () -> unit.execute(FakeTask.of(FakeTask.NEXUS, writeCdb, blocks(16, (byte) 0x22))), threads);
        assertTrue(halving.half.await(20, TimeUnit.SECONDS));
        int before = ranges.size();
        CompletableFuture<ScsiResult> reader = CompletableFuture.supplyAsync(
                () -> unit.execute(FakeTask.of("88 00 0000000000000000 00000010 00 00")), threads);
        // the reader either finishes (it did not wait) or is queued behind the writer's range
        Await.until(Duration.ofSeconds(20), () -> "reader finished or queued",
                () -> reader.isDone() || ranges.size() > before);
        halving.proceed.countDown();
        assertTrue(writer.get(20, TimeUnit.SECONDS).isGood());
        return reader.get(20, TimeUnit.SECONDS).dataIn();
    }

    @Test
    void aReadNeverSeesHalfAnAtomicWrite() throws Exception {
        ByteBuffer seen = readDuringHalfWrite(writeAtomic(0, 16, 0));
        assertEquals(-1, seen.mismatch(blocks(16, (byte) 0x22)), "the read waits and sees the whole write");
    }

    @Test
    void aPlainWriteCanBeSeenHalfDoneSoTheTestAboveCanFail() throws Exception {
        ByteBuffer seen = readDuringHalfWrite("8a 00 0000000000000000 00000010 00 00");
        assertEquals(0x22, seen.get(0));
        assertEquals(0x11, seen.get(16 * 512 - 1), "a plain WRITE(16) is not atomic against reads");
    }
}
