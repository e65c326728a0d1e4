package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** COMPARE AND WRITE against plain writes, and bounds on what one VERIFY may read. */
class AtomicityTest {
    static final int BLOCKS = 2048;
    /** Threads of their own: the common pool may have a single worker on a small machine. */
    final java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();

    @org.junit.jupiter.api.AfterEach
    void stop() {
        pool.shutdownNow();
    }

    static ByteBuffer blocks(int count, int fill) {
        ByteBuffer b = ByteBuffer.allocateDirect(count * 512);
        while (b.hasRemaining()) {
            b.put((byte) fill);
        }
        return b.flip();
    }

    /** A memory device whose reads of block 0 can be held open, to catch a write landing mid-command. */
    static final class HoldingDevice implements BlockDevice {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCKS * 512, 512);
        final CountDownLatch inRead = new CountDownLatch(1);
        volatile CountDownLatch writeDone;
        volatile boolean hold;

        @Override
        public long size() {
            return memory.size();
        }

        @Override
        public int logicalBlockSize() {
            return 512;
        }

        @Override
        public int physicalBlockSize() {
            return 512;
        }

        @Override
        public boolean isReadOnly() {
            return false;
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            memory.write(offset, src, fua);
        }

        @Override
        public void flush() {
        }

        @Override
        public void discard(long offset, long length) throws IOException {
            memory.discard(offset, length);
        }

        @Override
        public void writeZeroes(long offset, long length) throws IOException {
            memory.writeZeroes(offset, length);
        }

        @Override
        public String describe() {
            return "holding";
        }

        @Override
        public void close() {
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            memory.read(offset, dst);
            if (hold && offset == 0) {
                hold = false;
                inRead.countDown();
                try {
                    // a plain write to these blocks that could land now lands within milliseconds
                    writeDone.await(300, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    @Test
    void aWriteCannotLandBetweenTheCompareAndTheWriteOfACompareAndWrite() throws Exception {
        HoldingDevice device = new HoldingDevice();
        BlockLogicalUnit lu = new BlockLogicalUnit("t", device, LunIdentity.fromSeed("s", "t"), false,
                new HeapBuffers());
        assertTrue(lu.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00", blocks(1, 'X'))).isGood());
        device.writeDone = new CountDownLatch(1);
        device.hold = true;
        ByteBuffer caw = ByteBuffer.allocateDirect(1024);
        caw.put(blocks(1, 'X')).put(blocks(1, 'Y')).flip();
        CompletableFuture<ScsiResult> compareAndWrite = CompletableFuture.supplyAsync(() ->
                lu.execute(FakeTask.of(FakeTask.NEXUS, "89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00", caw)), pool);
        device.inRead.await();
        CompletableFuture<ScsiResult> write = CompletableFuture.supplyAsync(() -> {
            ScsiResult r = lu.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 00 00 00 01 00", blocks(1, 'Z')));
            device.writeDone.countDown();
            return r;
        }, pool);
        assertTrue(compareAndWrite.get(10, TimeUnit.SECONDS).isGood(), "the compare saw X");
        assertTrue(write.get(10, TimeUnit.SECONDS).isGood());
        // linearizable: the write came after the COMPARE AND WRITE (it had to wait), so Z is the last word;
        // a write that landed during the compare would have been overwritten by Y
        assertEquals(blocks(1, 'Z'), lu.execute(FakeTask.of("28 00 00 00 00 00 00 00 01 00")).dataIn());
    }

    @Test
    void aWriteWaitsForACompareAndWriteOnlyWhereTheyOverlap() throws Exception {
        HoldingDevice device = new HoldingDevice();
        BlockLogicalUnit lu = new BlockLogicalUnit("t", device, LunIdentity.fromSeed("s", "t"), false,
                new HeapBuffers());
        device.writeDone = new CountDownLatch(1);
        device.hold = true;
        ByteBuffer caw = ByteBuffer.allocateDirect(1024);
        caw.put(blocks(1, 0)).put(blocks(1, 'Y')).flip();
        CompletableFuture<ScsiResult> compareAndWrite = CompletableFuture.supplyAsync(() ->
                lu.execute(FakeTask.of(FakeTask.NEXUS, "89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00", caw)), pool);
        device.inRead.await();
        // block 1 is not held: this write completes while the COMPARE AND WRITE still holds block 0
        ScsiResult other = lu.execute(FakeTask.of(FakeTask.NEXUS, "2a 00 00 00 00 01 00 00 01 00", blocks(1, 'Q')));
        assertTrue(other.isGood());
        assertFalse(compareAndWrite.isDone(), "the compare is still held open");
        device.writeDone.countDown();
        assertTrue(compareAndWrite.get(10, TimeUnit.SECONDS).isGood());
    }

    @Test
    void aByteCheckVerifyOfMoreThanATransferIsRefusedAtOnce() {
        // a 2 TiB device of zeroes: VERIFY(16) BYTCHK=11b over 2^32 - 1 blocks would read all of it
        long[] read = {0};
        BlockDevice big = new BlockDevice() {
            @Override
            public long size() {
                return 1L << 41;
            }

            @Override
            public int logicalBlockSize() {
                return 512;
            }

            @Override
            public int physicalBlockSize() {
                return 4096;
            }

            @Override
            public boolean isReadOnly() {
                return false;
            }

            @Override
            public void read(long offset, ByteBuffer dst) {
                read[0] += dst.remaining();
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
            }

            @Override
            public void write(long offset, ByteBuffer src, boolean fua) {
                src.position(src.limit());
            }

            @Override
            public void flush() {
            }

            @Override
            public void discard(long offset, long length) {
            }

            @Override
            public void writeZeroes(long offset, long length) {
            }

            @Override
            public String describe() {
                return "zeroes";
            }

            @Override
            public void close() {
            }
        };
        BlockLogicalUnit lu = new BlockLogicalUnit("t", big, LunIdentity.fromSeed("s", "t"), false, new HeapBuffers());
        ScsiResult r = lu.execute(FakeTask.of(FakeTask.NEXUS, "8f 06 00 00 00 00 00 00 00 00 ff ff ff ff 00 00",
                blocks(1, 0)));
        BlockLogicalUnitTest.assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(10, BlockLogicalUnitTest.fieldPointer(r), "the VERIFICATION LENGTH field");
        assertEquals(0, read[0], "answered without reading the medium");
        // within the limit it compares every block, in chunks
        ScsiResult ok = lu.execute(FakeTask.of(FakeTask.NEXUS, "8f 06 00 00 00 00 00 00 00 00 00 00 40 00 00 00",
                blocks(1, 0)));
        assertTrue(ok.isGood(), "16384 zero blocks equal a zero block");
        assertEquals(16384 * 512, read[0]);
    }
}
