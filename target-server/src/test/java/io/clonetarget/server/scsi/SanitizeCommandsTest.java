package io.clonetarget.server.scsi;

import static io.clonetarget.server.scsi.BlockLogicalUnitTest.assertSense;
import static io.clonetarget.server.scsi.BlockLogicalUnitTest.blocks;
import static io.clonetarget.server.scsi.BlockLogicalUnitTest.fieldPointer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MemoryBlockDevice;
import io.clonetarget.storage.testing.Await;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SanitizeCommandsTest {
    static final int BLOCKS = 4096;
    static final Duration WAIT = Duration.ofSeconds(20);
    final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCKS * 512, 512);
    final GatedDevice device = new GatedDevice(memory);
    final BlockLogicalUnit lu = new BlockLogicalUnit("test", device, LunIdentity.fromSeed("seed", "test"), false,
            new HeapBuffers());

    @AfterEach
    void tearDown() {
        device.open();
        lu.close();
    }

    /**
     * A memory device whose writes and discards wait while {@link #gate} is closed (so a test
     * holds a sanitize in progress as long as it likes) and fail while {@link #failing} is set.
     */
    static final class GatedDevice implements BlockDevice {
        final MemoryBlockDevice inner;
        volatile CountDownLatch gate = new CountDownLatch(0);
        volatile boolean failing;
        final AtomicInteger waiting = new AtomicInteger();
        /** For each write, in the order they began: whether the sanitize's thread made it. */
        final java.util.Queue<Boolean> writers = new java.util.concurrent.ConcurrentLinkedQueue<>();

        GatedDevice(MemoryBlockDevice inner) {
            this.inner = inner;
        }

        void close(boolean closed) {
            gate = closed ? new CountDownLatch(1) : new CountDownLatch(0);
        }

        void open() {
            gate.countDown();
        }

        private void pass() throws IOException {
            waiting.incrementAndGet();
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new IOException("gate not opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            } finally {
                waiting.decrementAndGet();
            }
            if (failing) {
                throw new IOException("injected failure");
            }
        }

        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return 512; }
        @Override public int physicalBlockSize() { return 4096; }
        @Override public boolean isReadOnly() { return false; }
        @Override public boolean discardZeroesData() { return true; }
        @Override public void read(long offset, ByteBuffer dst) { inner.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            writers.add(Thread.currentThread().getName().startsWith("sanitize"));
            pass();
            inner.write(offset, src, fua);
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) throws IOException {
            pass();
            inner.discard(offset, length);
        }
        @Override public void writeZeroes(long offset, long length) throws IOException {
            pass();
            inner.writeZeroes(offset, length);
        }
        @Override public String describe() { return "gated"; }
        @Override public void close() { }
    }

    ScsiResult run(String cdb) {
        return lu.execute(FakeTask.of(cdb));
    }

    ScsiResult run(String cdb, ByteBuffer data) {
        return lu.execute(FakeTask.of(FakeTask.NEXUS, cdb, data));
    }

    static String sanitize(int flags, int listLength) {
        return String.format("48 %02x 00 00 00 00 00 %04x 00", flags, listLength);
    }

    static ByteBuffer overwriteList(int first, byte[] pattern) {
        ByteBuffer b = ByteBuffer.allocate(4 + pattern.length);
        b.put(0, (byte) first).putShort(2, (short) pattern.length).put(4, pattern);
        return b;
    }

    private ByteBuffer readAll() {
        ByteBuffer all = ByteBuffer.allocate(BLOCKS * 512);
        memory.read(0, all);
        return all.flip();
    }

    private void fillWith(byte value) {
        for (int lba = 0; lba < BLOCKS; lba += 2048) {
            assertTrue(run(String.format("8a 00 %016x 00000800 00 00", lba), blocks(2048, value)).isGood());
        }
    }

    @Test
    void overwriteRepeatsThePatternFromTheStartOfEveryBlock() {
        fillWith((byte) 'a');
        byte[] pattern = {1, 2, 3};
        ScsiResult r = run(sanitize(0x01, 7), overwriteList(0x01, pattern));
        assertTrue(r.isGood(), "IMMED=0 returns when done");
        ByteBuffer all = readAll();
        for (int i = 0; i < all.limit(); i++) {
            assertEquals(pattern[(i % 512) % 3], all.get(i), "byte " + i);
        }
    }

    @Test
    void invertedPassesEndWithThePatternItself() {
        SanitizeCommands.Overwrite even = new SanitizeCommands.Overwrite(true, 2, new byte[] {1});
        assertTrue(even.inverted(0));
        assertTrue(!even.inverted(1));
        SanitizeCommands.Overwrite odd = new SanitizeCommands.Overwrite(true, 3, new byte[] {1});
        assertTrue(!odd.inverted(0) && odd.inverted(1) && !odd.inverted(2));
        assertTrue(run(sanitize(0x01, 5), overwriteList(0x82, new byte[] {0x0f})).isGood());
        assertEquals(0x0f, readAll().get(12345));
    }

    @Test
    void blockAndCryptoEraseLeaveEveryBlockReadingZeroes() {
        for (int action : new int[] {0x02, 0x03}) {
            fillWith((byte) 'a');
            assertTrue(run(sanitize(action, 0)).isGood());
            ByteBuffer all = readAll();
            assertEquals(-1, all.mismatch(ByteBuffer.allocate(all.limit())), "service action " + action);
        }
    }

    @Test
    void badFieldsArePointedAt() {
        ScsiResult r = run(sanitize(0x00, 0));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertEquals(1, fieldPointer(r), "service action 0");
        for (int b = 2; b <= 6; b++) {
            ByteBuffer cdb = ByteBuffer.allocate(16).put(0, (byte) 0x48).put(1, (byte) 0x02).put(b, (byte) 1);
            r = lu.execute(new FakeTask(FakeTask.NEXUS, cdb, ByteBuffer.allocate(0), 1 << 20));
            assertSense(r, Asc.INVALID_FIELD_IN_CDB);
            assertEquals(b, fieldPointer(r), "reserved byte " + b);
        }
        assertEquals(1, fieldPointer(run(sanitize(0x42, 0))), "ZNR");
        for (int action : new int[] {0x02, 0x03, 0x1f}) {
            r = run(sanitize(action, 8), ByteBuffer.allocate(8));
            assertSense(r, Asc.INVALID_FIELD_IN_CDB);
            assertEquals(7, fieldPointer(r), "list length must be 0 for " + action);
        }
        for (int length : new int[] {0, 4, 517}) {
            r = run(sanitize(0x01, length), ByteBuffer.allocate(length));
            assertSense(r, Asc.INVALID_FIELD_IN_CDB);
            assertEquals(7, fieldPointer(r), "overwrite list length " + length);
        }
        r = run(sanitize(0x01, 8), overwriteList(0x00, new byte[4]));
        assertSense(r, Asc.INVALID_FIELD_IN_PARAMETER_LIST);
        assertEquals(0, fieldPointer(r), "OVERWRITE COUNT 0");
        r = run(sanitize(0x01, 8), overwriteList(0x21, new byte[4]));
        assertSense(r, Asc.INVALID_FIELD_IN_PARAMETER_LIST);
        ByteBuffer list = overwriteList(0x01, new byte[4]).putShort(2, (short) 5);
        r = run(sanitize(0x01, 8), list);
        assertSense(r, Asc.INVALID_FIELD_IN_PARAMETER_LIST);
        assertEquals(2, fieldPointer(r), "pattern length must match the list");
        assertTrue(run("00 00 00 00 00 00").isGood(), "no refused sanitize started anything");
    }

    @Test
    void whileInProgressOnlyInquiryAndRequestSenseRunAndSenseShowsProgress() throws Exception {
        device.close(true);
        assertTrue(run(sanitize(0x81, 5), overwriteList(0x01, new byte[] {7})).isGood(), "IMMED=1 returns at once");
        Await.until(WAIT, () -> "sanitize writing", () -> device.waiting.get() > 0);
        for (String cdb : new String[] {"00 00 00 00 00 00", "88 00 0000000000000000 00000001 00 00",
            "25 00 00 00 00 00 00 00 00 00", "48 02 00 00 00 00 00 00 00 00", "1b 01 00 00 00 00"}) {
            ScsiResult r = run(cdb);
            assertSense(r, Asc.SANITIZE_IN_PROGRESS);
            assertTrue((r.sense()[15] & 0x80) != 0, "progress indication for " + cdb);
        }
        assertTrue(run("12 00 00 00 ff 00").isGood(), "INQUIRY is allowed");
        ScsiResult sense = run("03 00 00 00 12 00");
        assertTrue(sense.isGood());
        assertEquals(0x02, sense.dataIn().get(2) & 0x0f);
        assertEquals(0x04, sense.dataIn().get(12));
        assertEquals(0x1b, sense.dataIn().get(13));
        assertEquals(0, lu.tryExecute(FakeTask.of("88 00 0000000000000000 00000001 00 00")) == null ? 0 : 1,
                "the fast path declines during a sanitize");
        lu.reset(FakeTask.NEXUS);
        lu.nexusLost(FakeTask.OTHER);
        assertTrue(senseIs(run("00 00 00 00 00 00"), 0x29), "the reset's unit attention comes first");
        assertSense(run("00 00 00 00 00 00"), Asc.SANITIZE_IN_PROGRESS);
        device.open();
        Await.until(WAIT, () -> "sanitize done", () -> run("00 00 00 00 00 00").isGood());
        assertEquals(7, readAll().get(BLOCKS * 512 - 1), "a reset and a lost nexus did not stop it");
    }

    private static boolean senseIs(ScsiResult r, int asc) {
        return r.sense() != null && (r.sense()[12] & 0xff) == asc;
    }

    @Test
    void progressGrowsWhileTheOperationAdvances() throws Exception {
        device.close(true);
        assertTrue(run(sanitize(0x81, 5), overwriteList(0x01, new byte[] {7})).isGood());
        Await.until(WAIT, () -> "first step waiting", () -> device.waiting.get() > 0);
        int first = progress(run("03 00 00 00 12 00").dataIn());
        device.open();
        device.close(true); // later steps wait again
        Await.until(WAIT, () -> "progress moved", () -> {
            ScsiResult r = run("03 00 00 00 12 00");
            return r.dataIn().get(12) != 0x04 || progress(r.dataIn()) > first;
        });
        device.open();
    }

    private static int progress(ByteBuffer fixed) {
        return ((fixed.get(16) & 0xff) << 8) | (fixed.get(17) & 0xff);
    }

    @Test
    void aFailedSanitizeLeavesFailureModeUntilExitOrASuccessfulOne() {
        device.failing = true;
        ScsiResult r = run(sanitize(0x02, 0));
        assertSense(r, Asc.SANITIZE_COMMAND_FAILED);
        assertSense(run("28 00 00 00 00 00 00 00 01 00"), Asc.SANITIZE_COMMAND_FAILED);
        assertTrue(run("00 00 00 00 00 00").isGood(), "TEST UNIT READY does not access the medium");
        r = run(sanitize(0x1f, 0));
        assertSense(r, Asc.INVALID_FIELD_IN_CDB);
        assertSense(run(sanitize(0x22, 0)), Asc.INVALID_FIELD_IN_CDB); // AUSE=1 after a restricted failure
        device.failing = false;
        assertTrue(run(sanitize(0x02, 0)).isGood(), "a successful sanitize ends failure mode");
        assertTrue(run("28 00 00 00 00 00 00 00 01 00").isGood());

        device.failing = true;
        assertSense(run(sanitize(0x22, 0)), Asc.SANITIZE_COMMAND_FAILED);
        device.failing = false;
        assertTrue(run(sanitize(0x1f, 0)).isGood(), "AUSE=1: EXIT FAILURE MODE ends it");
        assertTrue(run("28 00 00 00 00 00 00 00 01 00").isGood());
        assertTrue(run(sanitize(0x1f, 0)).isGood(), "nothing to exit is no error");
    }

    @Test
    void writeProtectAndReservationsComeBeforeStarting() {
        assertTrue(run("16 00 00 00 00 00").isGood());
        ScsiResult r = lu.execute(FakeTask.of(FakeTask.OTHER, sanitize(0x02, 0), null));
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, r.status());
        assertTrue(run("17 00 00 00 00 00").isGood());
        BlockLogicalUnit readOnly = new BlockLogicalUnit("ro", memory, LunIdentity.fromSeed("seed", "ro"), true,
                new HeapBuffers());
        assertSense(readOnly.execute(FakeTask.of(sanitize(0x03, 0))), Asc.WRITE_PROTECTED);
    }

    @Test
    void writesRacingASanitizeNeverLandInsideIt() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            CountDownLatch go = new CountDownLatch(1);
            java.util.List<Future<?>> writers = new java.util.ArrayList<>();
            for (int w = 0; w < 3; w++) {
                long writerSeed = random.nextLong();
                writers.add(pool.submit(() -> {
                    Random r = new Random(writerSeed);
                    go.await();
                    for (int i = 0; i < 300; i++) {
                        int lba = r.nextInt(BLOCKS - 8);
                        ScsiResult res = run(String.format("8a 00 %016x 00000008 00 00", lba), blocks(8, (byte) 'w'));
                        assertTrue(res.isGood() || senseIs(res, 0x04), "seed " + seed + ": " + res);
                    }
                    return null;
                }));
            }
            go.countDown();
            assertTrue(run(sanitize(0x01, 5), overwriteList(0x02, new byte[] {0x33})).isGood(), "seed " + seed);
            for (Future<?> f : writers) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        // the sanitize's writes form one run: no other write began between its first and its last
        java.util.List<Boolean> order = new java.util.ArrayList<>(device.writers);
        int first = order.indexOf(true);
        int last = order.lastIndexOf(true);
        assertTrue(first >= 0, "the sanitize wrote");
        assertEquals(2 * BLOCKS * 512 / SanitizeCommands.STEP, last - first + 1, "seed " + seed + ": foreign writes inside");
    }
}
