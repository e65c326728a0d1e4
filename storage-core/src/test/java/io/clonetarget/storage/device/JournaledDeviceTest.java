package io.clonetarget.storage.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.JournalCrashModel.Kind;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link JournaledDevice}: round trips, crash images at every step of atomic writes, flushes and
 * FUA writes (single writer and concurrent writers, seeded), and torn, corrupt and foreign
 * journals. {@code -Dclonetarget.crashSeed=N} replays one seed ({@link #replay}).
 */
class JournaledDeviceTest {
    static final int SIZE = 256 << 10;
    /** Small: the journal fills after a few records, so retiring when full is exercised. */
    static final long CAPACITY = 128 << 10;
    static final long ID = 0x1234_5678_9abc_def0L;

    static LongStream seeds() {
        return LongStream.rangeClosed(1, 6);
    }

    private record Rig(Journal journal, RecordingBlockDevice inner, RecordingBlockDevice store, JournaledDevice device) {
        static Rig make() throws Exception {
            Journal j = new Journal();
            RecordingBlockDevice inner = new RecordingBlockDevice("inner", j, SIZE, 512);
            RecordingBlockDevice store = new RecordingBlockDevice("journal", j, CAPACITY, 512);
            JournaledDevice.format(store, 512, ID);
            return new Rig(j, inner, store, JournaledDevice.open(inner, store, "journal", ID));
        }

        /** The device a crash at {@code point} leaves, opened (replayed). */
        JournaledDevice crash(long point, Random r) throws Exception {
            Journal after = new Journal();
            return JournaledDevice.open(inner.crashImage(point, r, true, after), store.crashImage(point, r, true, after),
                    "journal", ID);
        }
    }

    @Test
    void atomicWritesReadBackAndSurviveAReopen() throws Exception {
        Rig rig = Rig.make();
        JournalCrashModel model = new JournalCrashModel(rig.journal());
        model.run(rig.device(), Kind.ATOMIC, 4096, 64 << 10);
        model.run(rig.device(), Kind.ATOMIC_FUA, 512, 1024);
        JournalCrashModel.assertWhole(rig.device(), 1, 4096 + 1024, (64 << 10) - 1024);
        JournalCrashModel.assertWhole(rig.device(), 2, 512, 1024);
        assertTrue(rig.device().atomicWriteLimit() >= 64 << 10);
        assertEquals(0, rig.device().atomicWriteLimit() % 512);
        // crash now: no flush ever happened, the inner device may have lost everything
        JournaledDevice reopened = rig.crash(rig.journal().now(), new Random(1));
        JournalCrashModel.assertWhole(reopened, 1, 4096 + 1024, (64 << 10) - 1024);
        JournalCrashModel.assertWhole(reopened, 2, 512, 1024);
        rig.device().close();
        rig.device().close(); // idempotent
    }

    @Test
    void refusesWhatIsNotAWholeAtomicWrite() throws Exception {
        Rig rig = Rig.make();
        JournaledDevice d = rig.device();
        assertThrows(IllegalArgumentException.class, () -> d.writeAtomic(100, ByteBuffer.allocate(512), false));
        assertThrows(IllegalArgumentException.class, () -> d.writeAtomic(0, ByteBuffer.allocate(700), false));
        assertThrows(IllegalArgumentException.class,
                () -> d.writeAtomic(0, ByteBuffer.allocate(d.atomicWriteLimit() + 512), false));
        assertThrows(IndexOutOfBoundsException.class, () -> d.writeAtomic(SIZE, ByteBuffer.allocate(512), false));
        BlockDevice plain = new RecordingBlockDevice("plain", new Journal(), SIZE, 512);
        assertEquals(0, plain.atomicWriteLimit(), "a device offers no atomic writes unless it says so");
        assertThrows(UnsupportedOperationException.class, () -> plain.writeAtomic(0, ByteBuffer.allocate(512), false));
    }

    /** One writer: every crash point of the whole run, each with a random subset of unflushed writes, torn. */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void everyCrashPointOfOneWriterKeepsAtomicWritesWholeAndLosesNothingAcknowledged(long seed) throws Exception {
        Rig rig = Rig.make();
        JournalCrashModel model = new JournalCrashModel(rig.journal());
        Random r = new Random(seed);
        long start = rig.journal().now(); // the journal was formatted and flushed before
        for (int i = 0; i < 60; i++) {
            step(rig.device(), model, r, 0, SIZE);
        }
        assertTrue(model.atomicsAcked() > 10, "the run made atomic writes");
        long end = rig.journal().now();
        for (long p = start; p <= end; p++) {
            Random fate = new Random(seed * 1_000_003 + p);
            model.check(rig.crash(p, fate), p, "seed " + seed + " crash at " + p);
        }
    }

    /** Writers on disjoint ranges, sharing flushes and the journal; crashes at flush points and at random. */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void concurrentWritersCrashedAnywhereKeepAtomicWritesWhole(long seed) throws Exception {
        run(seed);
    }

    @Test
    void replay() throws Exception {
        String seed = System.getProperty("clonetarget.crashSeed");
        if (seed == null) {
            return; // nothing asked for; the parameterized tests cover the seeds
        }
        for (int i = 0; i < 20; i++) {
            run(Long.parseLong(seed));
        }
    }

    private void run(long seed) throws Exception {
        Rig rig = Rig.make();
        rig.inner().delayFlushes(200);
        rig.store().delayFlushes(200);
        JournalCrashModel model = new JournalCrashModel(rig.journal());
        long start = rig.journal().now();
        int threads = 4;
        long share = SIZE / threads;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long from = t * share;
                Random r = new Random(seed * 31 + t);
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 40; i++) {
                        step(rig.device(), model, r, from, share);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertTrue(model.atomicsAcked() > 20, "the run made atomic writes");
        Random pick = new Random(seed);
        List<Long> points = new ArrayList<>(rig.journal().flushPoints());
        for (int i = 0; i < 150; i++) {
            points.add(start + pick.nextInt((int) (rig.journal().now() - start) + 1));
        }
        for (long p : points) {
            model.check(rig.crash(p, new Random(seed * 7_919 + p)), p, "seed " + seed + " crash at " + p);
        }
    }

    /** One random operation inside {@code [from, from + span)}: atomic (often FUA), plain, FUA, or a flush. */
    private static void step(JournaledDevice d, JournalCrashModel model, Random r, long from, long span)
            throws Exception {
        int k = r.nextInt(10);
        if (k == 0) {
            model.run(d, Kind.FLUSH, 0, 0);
            return;
        }
        int sectors = (int) (span / 512);
        int len = 1 + r.nextInt(k < 5 ? 64 : 16);
        len = Math.min(len, sectors);
        long off = from + 512L * r.nextInt(sectors - len + 1);
        Kind kind = k < 4 ? Kind.ATOMIC : k < 5 ? Kind.ATOMIC_FUA : k < 8 ? Kind.PLAIN : Kind.FUA;
        model.run(d, kind, off, len * 512);
    }

    // ---- torn, corrupt, foreign journals ------------------------------------------------------

    /** A rig with two atomic records left in the journal (no flush), and a copy of both devices as a crash leaves them. */
    private static Rig twoRecords() throws Exception {
        Rig rig = Rig.make();
        rig.device().writeAtomic(0, JournalCrashModel.stamp(1, 0, 4096), false);
        rig.device().writeAtomic(8192, JournalCrashModel.stamp(2, 8192, 4096), false);
        Journal j = new Journal();
        RecordingBlockDevice inner = new RecordingBlockDevice("inner", j, SIZE, 512); // lost every data write
        return new Rig(j, inner, rig.store().copy(j), null);
    }

    @Test
    void aTornLastRecordIsIgnoredAndTheOnesBeforeAreReplayed() throws Exception {
        Rig rig = twoRecords();
        long second = JournalFormat.RECORDS + JournalFormat.RECORD_HEADER + 4096;
        rig.store().corrupt(second + JournalFormat.RECORD_HEADER + 1000, 1); // its data, as a tear would
        JournaledDevice d = JournaledDevice.open(rig.inner(), rig.store(), "journal", ID);
        JournalCrashModel.assertWhole(d, 1, 0, 4096);
        ByteBuffer b = ByteBuffer.allocate(4096);
        d.read(8192, b);
        assertEquals(ByteBuffer.allocate(4096), b.clear(), "the torn record is not replayed");
        // replayed, flushed and retired: a second open replays nothing (the inner device is zeroed to tell)
        rig.inner().writeZeroes(0, SIZE);
        rig.inner().flush();
        JournaledDevice again = JournaledDevice.open(rig.inner(), rig.store(), "journal", ID);
        again.read(0, b.clear());
        assertEquals(ByteBuffer.allocate(4096), b.clear());
    }

    @Test
    void aDamagedRecordBeforeAnIntactOneIsReportedPrecisely() throws Exception {
        Rig rig = twoRecords();
        rig.store().corrupt(JournalFormat.RECORDS + JournalFormat.RECORD_HEADER + 10, 1);
        JournalCorruptException e = assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID));
        assertEquals("jfile", e.file());
        assertEquals(JournalFormat.RECORDS, e.offset());
        assertEquals("record CRC", e.check());
        assertTrue(e.getMessage().contains("record 1 at offset"), e.getMessage());
    }

    @Test
    void aDamagedRecordHeaderBeforeAnIntactOneIsReportedToo() throws Exception {
        Rig rig = twoRecords();
        rig.store().corrupt(JournalFormat.RECORDS + 20, 1);
        JournalCorruptException e = assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID));
        assertEquals("record header", e.check());
        assertEquals(JournalFormat.RECORDS, e.offset());
    }

    @Test
    void bothHeaderSlotsBadIsReportedWithEachReason() throws Exception {
        Rig rig = twoRecords();
        rig.store().corrupt(0, 1);
        JournalCorruptException e = assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID));
        assertEquals("header", e.check());
        assertTrue(e.getMessage().contains("slot 0 at offset 0: bad magic"), e.getMessage());
        assertTrue(e.getMessage().contains("slot 1 at offset 512: bad magic"), e.getMessage());
    }

    @Test
    void aJournalWithRecordsOfAnotherImageIsRefusedAndOneWithoutIsTakenOver() throws Exception {
        Rig rig = twoRecords();
        JournalCorruptException e = assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID + 1));
        assertEquals("image identity", e.check());
        RecordingBlockDevice big = new RecordingBlockDevice("inner4k", rig.journal(), SIZE, 4096);
        assertEquals("block size", assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(big, rig.store(), "jfile", ID)).check());
        // replayed and retired for its own image: then another image may take it over (nothing to lose)
        JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID).close();
        JournaledDevice other = JournaledDevice.open(rig.inner(), rig.store(), "jfile", ID + 1);
        other.writeAtomic(0, JournalCrashModel.stamp(3, 0, 512), false);
        assertEquals("image identity", assertThrows(JournalCorruptException.class,
                () -> JournaledDevice.open(rig.inner(), rig.store().copy(new Journal()), "jfile", ID)).check());
    }

    @Test
    void aJournalFileIsCreatedDurablyReopenedAndNeverFormattedOver(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("lun.img");
        Path journal = dir.resolve("lun.img.atomic");
        try (FileBlockDevice inner = FileBlockDevice.openOrCreate(image, SIZE, 512)) {
            JournaledDevice d = JournaledDevice.openFile(inner, journal, ID);
            assertEquals(JournaledDevice.DEFAULT_CAPACITY, Files.size(journal));
            assertEquals(JournaledDevice.MAX_ATOMIC_BYTES, d.atomicWriteLimit());
            d.writeAtomic(4096, JournalCrashModel.stamp(9, 4096, 8192), true);
            d.close();
            JournaledDevice again = JournaledDevice.openFile(inner, journal, ID);
            JournalCrashModel.assertWhole(again, 9, 4096, 8192);
            again.close();
        }
        Path garbage = dir.resolve("other.atomic");
        byte[] junk = new byte[(int) JournaledDevice.DEFAULT_CAPACITY];
        new Random(5).nextBytes(junk);
        Files.write(garbage, junk);
        try (FileBlockDevice inner = FileBlockDevice.open(image, false, 512)) {
            JournalCorruptException e = assertThrows(JournalCorruptException.class,
                    () -> JournaledDevice.openFile(inner, garbage, ID));
            assertEquals(garbage.toString(), e.file());
        }
        assertTrue(java.util.Arrays.equals(junk, Files.readAllBytes(garbage)), "left as it was");
    }
}
