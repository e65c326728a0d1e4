package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.meta.MetadataException;
import io.clonetarget.storage.meta.SnapshotStore;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Snapshots on recording devices: images equal the origin at creation while writers run, many
 * snapshots and deletions, the cost of a first write, overflow, change lists, writable images,
 * persistence and corrupt metadata. Writers stamp every 512-byte sector with its own offset, a
 * sequence number, the writer and a checksum, so a wrong sector says where it came from.
 */
class SnapshotVolumeTest {
    static final int CHUNK = 16 * 1024;
    static final long SIZE = 4L << 20;

    /** An origin, a metadata device and a difference storage on one journal. */
    static final class Fixture {
        final Journal journal = new Journal();
        final RecordingBlockDevice origin;
        final RecordingBlockDevice meta;
        final RecordingBlockDevice diff;
        final SnapshotVolume.Settings settings;
        SnapshotVolume volume;

        Fixture(long diffLimit, int tableCapacity) throws IOException {
            settings = new SnapshotVolume.Settings(CHUNK, diffLimit, CHUNK * 16L, 10, tableCapacity, 8);
            origin = new RecordingBlockDevice("origin", journal, SIZE, 512);
            meta = new RecordingBlockDevice("meta", journal,
                    SnapshotStore.bytesNeeded(tableCapacity, diffLimit / CHUNK), 4096);
            diff = new RecordingBlockDevice("diff", journal, diffLimit, 4096);
            volume = SnapshotVolume.format("vol", origin, meta, diff, settings, (id, why) -> true);
        }

        /** Reopens from what the devices hold now (a clean restart). */
        SnapshotVolume reopen() throws IOException {
            volume.close();
            volume = SnapshotVolume.open("vol", origin, meta, diff, settings, (id, why) -> true, 0, null);
            return volume;
        }
    }

    static void stamp(ByteBuffer b, long offset, long seq, int writer) {
        for (int s = 0; s < b.remaining(); s += 512) {
            int at = b.position() + s;
            b.putLong(at, offset + s);
            b.putLong(at + 8, seq);
            b.putInt(at + 16, writer);
            for (int i = 24; i < 512; i += 8) {
                b.putLong(at + i, (offset + s) * 31 + seq * 17 + i);
            }
            CRC32C crc = new CRC32C();
            crc.update(b.duplicate().position(at).limit(at + 20));
            crc.update(b.duplicate().position(at + 24).limit(at + 512));
            b.putInt(at + 20, (int) crc.getValue());
        }
    }

    /** Null when the sector at {@code offset} is zero or a valid stamp of its own offset, else why not. */
    static String checkSector(byte[] all, int at, long offset) {
        ByteBuffer b = ByteBuffer.wrap(all, at, 512).slice();
        boolean zero = true;
        for (int i = 0; i < 512 && zero; i++) {
            zero = b.get(i) == 0;
        }
        if (zero) {
            return null;
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(20));
        crc.update(b.duplicate().position(24).limit(512));
        if ((int) crc.getValue() != b.getInt(20)) {
            return "bad checksum";
        }
        if (b.getLong(0) != offset) {
            return "stamped for offset " + b.getLong(0);
        }
        return null;
    }

    static byte[] read(io.clonetarget.storage.device.BlockDevice d) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) d.size());
        d.read(0, b);
        return b.array();
    }

    static void write(io.clonetarget.storage.device.BlockDevice d, long offset, int length, long seq, int writer)
            throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        stamp(b, offset, seq, writer);
        d.write(offset, b, false);
    }

    /** Copies of the origin taken while a creation holds writes: each image must equal its copy. */
    static final class Copies {
        final Map<String, byte[]> at = new ConcurrentHashMap<>();
        private volatile String next;

        Copies(Fixture f) {
            f.volume.whileHeld(() -> {
                try {
                    at.put(next, read(f.origin));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }

        void create(Fixture f, String name) throws IOException {
            next = name;
            f.volume.create(name);
        }

        byte[] get(String name) {
            return at.get(name);
        }
    }

    private static void assertImage(Fixture f, String name, byte[] expected) throws IOException {
        byte[] got = read(f.volume.image(name, false));
        if (!java.util.Arrays.equals(expected, got)) {
            int at = java.util.Arrays.mismatch(expected, got);
            throw new AssertionError("snapshot " + name + " differs from the origin at its creation at byte " + at
                    + " (chunk " + at / CHUNK + ")");
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void imagesEqualTheOriginAtCreationWhileWritersAndReadersRun(long seed) throws Exception {
        Fixture f = new Fixture(SIZE * 12, 64);
        f.origin.delayFlushes(200);
        f.diff.delayFlushes(100);
        Copies copies = new Copies(f);
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        List<String> taken = new java.util.concurrent.CopyOnWriteArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int me = t;
            done.add(pool.submit(() -> {
                Random r = new Random(seed * 31 + me);
                long seq = 0;
                while (!stop.get()) {
                    long offset = r.nextInt((int) (SIZE / 512)) * 512L;
                    int len = (int) Math.min(SIZE - offset, 512L * (1 + r.nextInt(80)));
                    write(f.volume.origin(), offset, len, ++seq, me);
                }
                return null;
            }));
        }
        for (int t = 0; t < 2; t++) {
            int me = t;
            done.add(pool.submit(() -> {
                Random r = new Random(seed * 77 + me);
                while (!stop.get()) {
                    if (taken.isEmpty()) {
                        Thread.onSpinWait();
                        continue;
                    }
                    String name = taken.get(r.nextInt(taken.size()));
                    long offset = r.nextInt((int) (SIZE / 512)) * 512L;
                    int len = (int) Math.min(SIZE - offset, 512L * (1 + r.nextInt(100)));
                    ByteBuffer b = ByteBuffer.allocate(len);
                    f.volume.image(name, false).read(offset, b);
                    byte[] want = java.util.Arrays.copyOfRange(copies.get(name), (int) offset, (int) offset + len);
                    if (!java.util.Arrays.equals(want, b.array())) {
                        problems.add(name + " at " + offset + "+" + len);
                    }
                }
                return null;
            }));
        }
        Random r = new Random(seed);
        for (int i = 0; i < 10; i++) {
            Thread.sleep(5 + r.nextInt(20)); // lets the writers run between snapshots; no condition is awaited
            String name = "s" + i;
            copies.create(f, name);
            taken.add(name);
        }
        stop.set(true);
        for (Future<?> d : done) {
            d.get();
        }
        pool.shutdown();
        assertTrue(problems.isEmpty(), "reads of images during the run differed: " + problems);
        for (String name : taken) {
            assertImage(f, name, copies.get(name));
        }
        assertTrue(f.volume.status().copies() > 0, "the writers caused copies");
        assertTrue(f.volume.lastHoldNanos() > 0);
    }

    @Test
    void twoHundredFiftySixSnapshotsStayExactThroughDeletionsAndARestart() throws Exception {
        Fixture f = new Fixture(SIZE * 8, 300);
        Copies copies = new Copies(f);
        Random r = new Random(256);
        long seq = 0;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 256; i++) {
            for (int w = 0; w < 4; w++) {
                long offset = r.nextInt((int) (SIZE / 512)) * 512L;
                write(f.volume.origin(), offset, (int) Math.min(SIZE - offset, 512L * (1 + r.nextInt(64))), ++seq, 0);
            }
            String name = "snap-" + i;
            copies.create(f, name);
            names.add(name);
        }
        assertEquals(256, f.volume.list().size());
        for (String n : names) {
            assertImage(f, n, copies.get(n));
        }
        java.util.Collections.shuffle(names, r);
        long usedBefore = f.volume.status().diffUsedBytes();
        for (String n : names.subList(0, 128)) {
            f.volume.delete(n);
        }
        assertTrue(f.volume.status().diffUsedBytes() < usedBefore, "deleting frees difference storage");
        List<String> kept = names.subList(128, 256);
        for (String n : kept) {
            assertImage(f, n, copies.get(n));
        }
        f.reopen();
        assertEquals(128, f.volume.list().size());
        for (String n : kept) {
            assertImage(f, n, copies.get(n));
        }
        assertThrows(IllegalArgumentException.class, () -> f.volume.image(names.getFirst(), false));
        // list's one pass over the slots says for each snapshot what describing it alone says
        long exclusive = 0;
        for (SnapshotVolume.SnapshotInfo s : f.volume.list()) {
            assertEquals(f.volume.get(s.name()), s);
            exclusive += s.exclusiveBytes();
        }
        assertTrue(exclusive > 0 && f.volume.list().stream().anyMatch(s -> s.storedBytes() > s.exclusiveBytes()),
                "shared and exclusive data both counted");
    }

    @Test
    void aFirstWriteCostsTheSameWithOneOrWith256Snapshots() throws Exception {
        long[] one = firstWriteCost(1);
        long[] many = firstWriteCost(256);
        assertEquals(1, one[0], "one chunk stored for one snapshot");
        assertArrayEquals(one, many, "diff writes, metadata commits for one snapshot and for 256");
    }

    /** Diff-storage writes and metadata commits caused by one first write to a chunk. */
    private static long[] firstWriteCost(int snapshots) throws IOException {
        Fixture f = new Fixture(SIZE * 2, 300);
        write(f.volume.origin(), 5 * CHUNK, CHUNK, 0, 0); // data to preserve (a hole is kept as a hole)
        for (int i = 0; i < snapshots; i++) {
            f.volume.create("s" + i);
        }
        long commits = f.volume.status().metadataCommits();
        long before = f.journal.ops().stream().filter(o -> o.device() == f.diff
                && o.kind() == Journal.Kind.WRITE).count();
        write(f.volume.origin(), 5 * CHUNK + 512, 4096, 1, 0);
        long diffWrites = f.journal.ops().stream().filter(o -> o.device() == f.diff
                && o.kind() == Journal.Kind.WRITE).count() - before;
        write(f.volume.origin(), 5 * CHUNK + 8192, 4096, 2, 0); // a later write: straight through
        long after = f.journal.ops().stream().filter(o -> o.device() == f.diff
                && o.kind() == Journal.Kind.WRITE).count() - before;
        assertEquals(diffWrites, after, "a later write to the chunk copies nothing");
        return new long[]{diffWrites, f.volume.status().metadataCommits() - commits};
    }

    @Test
    void overflowFailsTheSnapshotsThatLoseDataNeverTheOrigin() throws Exception {
        Fixture f = new Fixture(8L * CHUNK, 16);
        Copies copies = new Copies(f);
        write(f.volume.origin(), 0, 2 * CHUNK, 1, 0);
        copies.create(f, "small");
        write(f.volume.origin(), 0, 4096, 2, 0); // one chunk stored for "small"
        copies.create(f, "big");
        List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        f.volume.addListener(new SnapshotVolume.Listener() {
            @Override
            public void lowSpace(SnapshotVolume v, long free, long limit) {
                events.add("low " + free);
            }

            @Override
            public void failed(SnapshotVolume v, String snapshot, String reason) {
                events.add("failed " + snapshot);
            }
        });
        for (int c = 1; c < 20; c++) {
            write(f.volume.origin(), (long) c * CHUNK, CHUNK, 10 + c, 0);
        }
        byte[] origin = read(f.volume.origin());
        for (int c = 1; c < 20; c++) {
            assertEquals((long) c * CHUNK, ByteBuffer.wrap(origin).getLong(c * CHUNK), "origin chunk " + c);
        }
        assertTrue(f.volume.get("big").failed(), "big lost data: failed");
        assertTrue(f.volume.get("big").failure().contains("full"), f.volume.get("big").failure());
        assertTrue(events.contains("failed big"), events.toString());
        assertTrue(events.stream().anyMatch(e -> e.startsWith("low")), events.toString());
        MediumErrorException e = assertThrows(MediumErrorException.class,
                () -> f.volume.image("big", false).read(0, ByteBuffer.allocate(512)));
        assertTrue(e.getMessage().contains("vol@big"), e.getMessage());
        // "small" kept what it needed before the storage filled: chunk 0 is stored, chunk 1 was for both
        assertTrue(f.volume.get("small").failed(), "small needed chunk 1 too");
        f.volume.delete("big");
        f.volume.delete("small");
        assertEquals(0, f.volume.status().diffUsedBytes());
        copies.create(f, "after");
        write(f.volume.origin(), 3 * CHUNK, 4096, 99, 0);
        assertImage(f, "after", copies.get("after"));
        assertFalse(f.volume.get("after").failed());
        f.reopen();
        assertEquals(List.of("after"), f.volume.list().stream().map(SnapshotVolume.SnapshotInfo::name).toList());
    }

    @Test
    void changesListTheChunksWrittenBetweenTwoSnapshotsWhateverWasDeletedBetween() throws Exception {
        Fixture f = new Fixture(SIZE * 2, 16);
        write(f.volume.origin(), 0, 4096, 1, 0);
        f.volume.create("a");
        write(f.volume.origin(), 3 * CHUNK + 10 * 512, 512, 2, 0);
        f.volume.create("mid");
        write(f.volume.origin(), 4 * CHUNK, CHUNK + 512, 3, 0);
        write(f.volume.origin(), 10 * CHUNK, 512, 4, 0);
        f.volume.create("b");
        write(f.volume.origin(), 20 * CHUNK, 512, 5, 0); // after b: not in a..b
        f.volume.delete("mid");
        List<SnapshotVolume.Extent> changes = f.volume.changes("a", "b");
        assertEquals(List.of(new SnapshotVolume.Extent(3L * CHUNK, 3L * CHUNK),
                new SnapshotVolume.Extent(10L * CHUNK, CHUNK)), changes);
        assertEquals(List.of(), f.volume.changes("b", "b"));
        assertEquals(List.of(new SnapshotVolume.Extent(0, SIZE)), f.volume.changes(null, "a"),
                "a device that cannot tell holes is allocated everywhere");
        f.reopen();
        assertEquals(changes, f.volume.changes("a", "b"), "change tracking survives a restart");
    }

    @Test
    void filesInADirectoryReportAllocatedExtentsAndSurviveARestart(@org.junit.jupiter.api.io.TempDir
                                                                   java.nio.file.Path dir) throws Exception {
        java.nio.file.Path image = dir.resolve("vol.img");
        var settings = new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 4L, 10, 16, 4);
        try (var origin = io.clonetarget.storage.device.FileBlockDevice.openOrCreate(image, SIZE, 512)) {
            SnapshotVolume v = SnapshotFiles.open("vol", origin, dir.resolve("snaps"), settings);
            write(v.origin(), 2 * CHUNK + 512, 512, 1, 0);
            write(v.origin(), 9 * CHUNK, 2 * CHUNK, 2, 0);
            v.create("a");
            write(v.origin(), 2 * CHUNK, 512, 3, 0);
            write(v.origin(), 30 * CHUNK, 512, 4, 0);
            v.create("b");
            assertEquals(List.of(new SnapshotVolume.Extent(2L * CHUNK, CHUNK),
                    new SnapshotVolume.Extent(9L * CHUNK, 2L * CHUNK)), v.changes(null, "a"), "allocated extents of a");
            assertEquals(List.of(new SnapshotVolume.Extent(2L * CHUNK, CHUNK),
                    new SnapshotVolume.Extent(30L * CHUNK, CHUNK)), v.changes("a", "b"));
            assertEquals(CHUNK * 4L, v.status().diffAllocatedBytes(), "the difference file grew by one step");
            v.close();
            assertTrue(SnapshotFiles.exists(dir.resolve("snaps")));
            v = SnapshotFiles.open("vol", origin, dir.resolve("snaps"), settings);
            assertEquals(List.of("a", "b"), v.list().stream().map(SnapshotVolume.SnapshotInfo::name).toList());
            assertEquals(List.of(new SnapshotVolume.Extent(2L * CHUNK, CHUNK),
                    new SnapshotVolume.Extent(30L * CHUNK, CHUNK)), v.changes("a", "b"));
            v.close();
        }
    }

    @Test
    void aWritableImageKeepsItsWritesApartFromTheOriginAndTheOtherSnapshots() throws Exception {
        Fixture f = new Fixture(SIZE * 2, 16);
        Copies copies = new Copies(f);
        write(f.volume.origin(), 0, 3 * CHUNK, 1, 0);
        copies.create(f, "ro");
        copies.create(f, "rw");
        byte[] originBefore = read(f.volume.origin());
        var rw = f.volume.image("rw", true);
        write(rw, CHUNK + 1024, 2048, 50, 7);
        rw.flush();
        assertThrows(ReadOnlyException.class, () -> write(f.volume.image("ro", false), 0, 512, 1, 1));
        byte[] expected = copies.get("rw").clone();
        ByteBuffer w = ByteBuffer.allocate(2048);
        stamp(w, CHUNK + 1024, 50, 7);
        System.arraycopy(w.array(), 0, expected, CHUNK + 1024, 2048);
        assertArrayEquals(expected, read(rw));
        assertArrayEquals(originBefore, read(f.volume.origin()), "the origin is untouched");
        assertImage(f, "ro", copies.get("ro"));
        // the origin changes the chunk afterwards: neither snapshot sees it
        write(f.volume.origin(), CHUNK, CHUNK, 60, 0);
        assertArrayEquals(expected, read(f.volume.image("rw", false)));
        assertImage(f, "ro", copies.get("ro"));
        assertEquals(List.of(new SnapshotVolume.Extent(CHUNK, CHUNK)), f.volume.changes("ro", "rw"));
        f.reopen();
        assertArrayEquals(expected, read(f.volume.image("rw", false)));
    }

    @Test
    void aGroupIsOnePointInTimeForAllItsVolumes() throws Exception {
        Fixture a = new Fixture(SIZE, 8);
        Fixture b = new Fixture(SIZE, 8);
        write(a.volume.origin(), 0, 512, 1, 0);
        write(b.volume.origin(), 0, 512, 1, 0);
        List<SnapshotVolume.SnapshotInfo> made = SnapshotVolume.createGroup(List.of(a.volume, b.volume), "g1", "nightly");
        assertEquals(2, made.size());
        assertEquals("nightly", a.volume.get("g1").group());
        assertEquals(2, b.volume.get("g1").groupSize());
        assertThrows(IllegalArgumentException.class,
                () -> SnapshotVolume.createGroup(List.of(a.volume, b.volume), "g1", "nightly"), "name taken");
        assertThrows(IllegalArgumentException.class, () -> a.volume.create("bad name"));
    }

    @Test
    void aCreationHoldsWritesOnlyWhileInFlightOnesDrainNotWhileACopyCommits() throws Exception {
        Fixture f = new Fixture(SIZE, 8);
        Copies copies = new Copies(f);
        write(f.volume.origin(), 0, CHUNK, 1, 0);
        copies.create(f, "s1");
        java.util.concurrent.CountDownLatch inCopy = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch goOn = new java.util.concurrent.CountDownLatch(1);
        f.volume.beforeCopyCommit(c -> {
            if (c == 0 && inCopy.getCount() > 0) {
                inCopy.countDown();
                try {
                    goOn.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> writer = pool.submit(() -> {
                write(f.volume.origin(), 0, 512, 2, 1); // the first write to chunk 0 after s1: a copy
                return null;
            });
            assertTrue(inCopy.await(30, java.util.concurrent.TimeUnit.SECONDS), "the writer reached its copy");
            // the copy is queued, its commit not begun: the creation neither waits for it nor for the write
            Future<?> creation = pool.submit(() -> {
                copies.create(f, "s2");
                return null;
            });
            creation.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertFalse(writer.isDone(), "the write still waits for its copy");
            goOn.countDown();
            writer.get(30, java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            goOn.countDown();
            pool.shutdownNow();
        }
        // s2 was taken before the write landed: both snapshots read the first stamp, the origin the second
        assertImage(f, "s1", copies.get("s1"));
        assertImage(f, "s2", copies.get("s2"));
        assertArrayEquals(copies.get("s1"), copies.get("s2"));
        assertEquals(2, ByteBuffer.wrap(read(f.volume.origin())).getLong(8), "the origin holds the write");
        f.reopen();
        assertImage(f, "s1", copies.get("s1"));
        assertImage(f, "s2", copies.get("s2"));
    }

    @Test
    void creationsOfOneVolumeRunOneAtATimeThroughTheirCommitsAndGetDistinctIds() throws Exception {
        Fixture f = new Fixture(SIZE, 8);
        write(f.volume.origin(), 0, CHUNK, 1, 0);
        java.util.concurrent.atomic.AtomicInteger flushes = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch inCommit = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch goOn = new java.util.concurrent.CountDownLatch(1);
        f.origin.onFlush(() -> {
            if (flushes.incrementAndGet() == 2) { // a's pre-flush passes; the flush in a's commit waits
                inCommit.countDown();
                try {
                    goOn.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch secondHeld = new java.util.concurrent.CountDownLatch(1);
        f.volume.whileHeld(() -> {
            if (held.incrementAndGet() == 2) {
                secondHeld.countDown();
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<SnapshotVolume.SnapshotInfo> a = pool.submit(() -> f.volume.create("a"));
            assertTrue(inCommit.await(30, java.util.concurrent.TimeUnit.SECONDS), "a is in its commit");
            Future<SnapshotVolume.SnapshotInfo> b = pool.submit(() -> f.volume.create("b"));
            // before: b took its point in time (and a's id) while a's commit had not advanced the store
            assertFalse(secondHeld.await(2, java.util.concurrent.TimeUnit.SECONDS),
                    "b must not take its point in time while a commits");
            goOn.countDown();
            long ia = a.get(30, java.util.concurrent.TimeUnit.SECONDS).id();
            long ib = b.get(30, java.util.concurrent.TimeUnit.SECONDS).id();
            assertTrue(ia < ib, "ids " + ia + ", " + ib);
            assertEquals(java.util.Map.of(ia, "a", ib, "b"), f.volume.ids());
        } finally {
            goOn.countDown();
            pool.shutdownNow();
        }
        f.reopen();
        assertEquals(2, f.volume.list().size());
    }

    @Test
    void anOriginThatCannotBeFlushedFailsOnlyTheSnapshotBeingTaken() throws Exception {
        Fixture f = new Fixture(SIZE, 8);
        Copies copies = new Copies(f);
        write(f.volume.origin(), 0, CHUNK, 1, 0);
        copies.create(f, "s1");
        write(f.volume.origin(), 0, 512, 2, 0);
        java.util.concurrent.atomic.AtomicInteger flushes = new java.util.concurrent.atomic.AtomicInteger();
        f.origin.onFlush(() -> {
            if (flushes.incrementAndGet() == 2) { // the pre-flush passes, the commit's flush fails
                throw new java.io.UncheckedIOException(new IOException("injected flush error"));
            }
        });
        IOException e = assertThrows(IOException.class, () -> copies.create(f, "s2"));
        assertTrue(e.getMessage().contains("could not be flushed"), e.getMessage());
        assertTrue(f.volume.get("s2").failed(), "shown, failed");
        assertFalse(f.volume.get("s1").failed());
        assertImage(f, "s1", copies.get("s1"));
        write(f.volume.origin(), 0, CHUNK, 3, 0);
        copies.create(f, "s3"); // the metadata goes on
        write(f.volume.origin(), 0, CHUNK, 4, 0);
        assertImage(f, "s3", copies.get("s3"));
        f.reopen();
        assertTrue(f.volume.get("s2").failed());
        assertImage(f, "s1", copies.get("s1"));
        assertImage(f, "s3", copies.get("s3"));
        assertThrows(MediumErrorException.class, () -> read(f.volume.image("s2", false)));
    }

    @Test
    void aGroupWhoseCreationWasCutShortIsAllOrNothingAtTheNextStart() throws Exception {
        Fixture a = new Fixture(SIZE, 8);
        Fixture b = new Fixture(SIZE, 8);
        write(a.volume.origin(), 0, CHUNK, 1, 0);
        write(b.volume.origin(), 0, CHUNK, 1, 0);
        byte[] atA = read(a.origin);
        byte[] atB = read(b.origin);
        // stopped (as by a crash) after both members were durable as pending, before either was marked complete
        a.volume.beforeGroupComplete(() -> {
            throw new IllegalStateException("stopped here");
        });
        assertThrows(IllegalStateException.class,
                () -> SnapshotVolume.createGroup(List.of(a.volume, b.volume), "g1", "nightly"));
        assertNull(a.volume.get("g1"), "a pending member is not shown");
        assertNull(b.volume.get("g1"));
        a.reopen();
        b.reopen();
        List<String> settled = SnapshotVolume.resolveGroups(List.of(a.volume, b.volume), List.of());
        assertEquals(2, settled.size(), settled.toString());
        assertTrue(settled.getFirst().endsWith("deleted"), settled.toString());
        assertNull(a.volume.get("g1"));
        assertNull(b.volume.get("g1"));
        // stopped after a's member was marked complete, before b's: the group was durable everywhere, so it stays
        b.volume.beforeGroupComplete(() -> {
            throw new IllegalStateException("stopped here");
        });
        write(a.volume.origin(), 0, 512, 2, 0);
        assertThrows(IllegalStateException.class,
                () -> SnapshotVolume.createGroup(List.of(a.volume, b.volume), "g2", "nightly"));
        write(a.volume.origin(), 0, CHUNK, 3, 0); // after the point in time: not in g2
        write(b.volume.origin(), 0, CHUNK, 3, 0);
        byte[] g2a = atA.clone();
        ByteBuffer.wrap(g2a).put(ByteBuffer.wrap(stamped(0, 512, 2)));
        a.reopen();
        b.reopen();
        settled = SnapshotVolume.resolveGroups(List.of(a.volume, b.volume), List.of());
        assertEquals(1, settled.size(), settled.toString());
        assertTrue(settled.getFirst().startsWith("group snapshot vol@g2") && settled.getFirst().endsWith("completed"),
                settled.toString());
        a.reopen();
        b.reopen();
        assertEquals(List.of(), SnapshotVolume.resolveGroups(List.of(a.volume, b.volume), List.of()), "settled durably");
        assertEquals(2, a.volume.get("g2").groupSize());
        assertImage(a, "g2", g2a);
        assertImage(b, "g2", atB);
        assertNull(a.volume.get("g1"));
        // a later creation of the same names, cut short before any member was complete: with only one of
        // its volumes open nothing is decided; with both, it is deleted
        a.volume.delete("g2");
        b.volume.delete("g2");
        a.volume.beforeGroupComplete(() -> {
            throw new IllegalStateException("stopped here");
        });
        assertThrows(IllegalStateException.class,
                () -> SnapshotVolume.createGroup(List.of(a.volume, b.volume), "g2", "nightly"));
        a.reopen();
        b.reopen();
        settled = SnapshotVolume.resolveGroups(List.of(a.volume), List.of());
        assertTrue(settled.size() == 1 && settled.getFirst().contains("only 1 of its 2 members are open"),
                settled.toString());
        assertNull(a.volume.get("g2"));
        settled = SnapshotVolume.resolveGroups(List.of(a.volume, b.volume), List.of());
        assertTrue(settled.size() == 2 && settled.getFirst().endsWith("deleted"), settled.toString());
    }

    private static byte[] stamped(long offset, int length, long seq) {
        ByteBuffer b = ByteBuffer.allocate(length);
        stamp(b, offset, seq, 0);
        return b.array();
    }

    @Test
    void aSnapshotOfAWritableSnapshotKeepsItsImageWhileBothGoOnThroughDeletionsAndRestarts() throws Exception {
        Fixture f = new Fixture(SIZE * 4, 16);
        write(f.volume.origin(), 0, 4 * CHUNK, 1, 0);
        f.volume.create("w");
        io.clonetarget.storage.device.BlockDevice w = f.volume.image("w", true);
        write(w, 0, CHUNK, 2, 1);             // w's own copies of chunks 0 and 2
        write(w, 2 * CHUNK, 512, 3, 1);
        byte[] atS1 = read(w);
        SnapshotVolume.SnapshotInfo s1 = f.volume.createOf("s1", "w");
        assertEquals("w", s1.of());
        assertArrayEquals(atS1, read(f.volume.image("s1", false)));
        write(w, 0, 512, 4, 1);               // chunk 0 again: w copies it from s1's
        write(w, CHUNK, 512, 5, 1);           // chunk 1: from the volume as of w
        write(f.volume.origin(), 0, 4 * CHUNK, 6, 0);
        byte[] atS2 = read(w);
        assertEquals(4, ByteBuffer.wrap(atS2).getLong(8), "w reads its latest write");
        assertEquals(3, ByteBuffer.wrap(atS2).getLong(2 * CHUNK + 8), "w reads chunk 2 through s1");
        assertEquals(1, ByteBuffer.wrap(atS2).getLong(3 * CHUNK + 8), "w reads chunk 3 as of its point in time");
        f.volume.createOf("s2", "w");
        write(w, 3 * CHUNK, 4096, 7, 1);
        byte[] wNow = read(w);
        assertArrayEquals(atS1, read(f.volume.image("s1", false)));
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        assertThrows(IllegalArgumentException.class, () -> f.volume.image("s1", true), "read-only");
        assertThrows(IllegalArgumentException.class, () -> f.volume.createOf("s3", "s1"), "not of a snapshot of one");
        assertEquals(List.of(), f.volume.changes("s2", "s2"));
        assertEquals(List.of(new SnapshotVolume.Extent(0, 2 * CHUNK)),
                f.volume.changes("s1", "s2"), "s2 differs from s1 where w was written in between");

        f.reopen();
        w = f.volume.image("w", true);
        assertArrayEquals(wNow, read(w));
        assertArrayEquals(atS1, read(f.volume.image("s1", false)));
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        f.volume.delete("s1");                // chunk 2 is still read through it by s2 and w: handed on
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        assertArrayEquals(wNow, read(w));
        f.reopen();
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        assertArrayEquals(wNow, read(f.volume.image("w", false)));
        f.volume.delete("w");                 // s2 keeps what it reads of the volume as of w
        write(f.volume.origin(), 0, 4 * CHUNK, 8, 0);
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        f.reopen();
        assertArrayEquals(atS2, read(f.volume.image("s2", false)));
        assertEquals("(deleted, id 1)", f.volume.get("s2").of());
        f.volume.delete("s2");
        assertEquals(0, f.volume.status().diffUsedBytes(), "every copy freed with the last snapshot");
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {21, 22})
    void snapshotsOfAWritableSnapshotTakenWhileItAndTheVolumeAreWrittenAreItsImageThen(long seed) throws Exception {
        Fixture f = new Fixture(SIZE * 12, 64);
        f.origin.delayFlushes(200);
        f.diff.delayFlushes(100);
        write(f.volume.origin(), 0, (int) SIZE, 1, 0);
        f.volume.create("w");
        io.clonetarget.storage.device.BlockDevice w = f.volume.image("w", true);
        Map<String, byte[]> at = new ConcurrentHashMap<>();
        String[] next = new String[1];
        f.volume.whileHeld(() -> {
            try {
                at.put(next[0], read(w)); // under the copy gate: no write to w in flight
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int writer = t;
            io.clonetarget.storage.device.BlockDevice target = t < 2 ? w : f.volume.origin();
            writers.add(pool.submit(() -> {
                Random r = new Random(seed * 31 + writer);
                long seq = 0;
                while (!stop.get()) {
                    long offset = r.nextInt((int) (SIZE / 512)) * 512L;
                    int len = (int) Math.min(SIZE - offset, 512L * (1 + r.nextInt(48)));
                    write(target, offset, len, ++seq, writer);
                }
                return null;
            }));
        }
        Random r = new Random(seed);
        List<String> alive = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                String name = "of-" + i;
                next[0] = name;
                f.volume.createOf(name, "w");
                alive.add(name);
                if (alive.size() > 2 && r.nextBoolean()) {
                    f.volume.delete(alive.remove(r.nextInt(alive.size() - 1)));
                }
                for (String n : alive) {
                    assertArrayEquals(at.get(n), read(f.volume.image(n, false)), n + " while writes go on");
                }
            }
        } finally {
            stop.set(true);
            for (Future<?> fu : writers) {
                fu.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
            pool.shutdownNow();
        }
        byte[] wAtEnd = read(w);
        f.reopen();
        for (String n : alive) {
            assertArrayEquals(at.get(n), read(f.volume.image(n, false)), n + " after a restart");
        }
        assertArrayEquals(wAtEnd, read(f.volume.image("w", false)));
    }

    @Test
    void writebackOfTheVolumeIsStartedOnceEnoughHasBeenWritten() throws Exception {
        Fixture f = new Fixture(SIZE, 8);
        java.util.concurrent.atomic.AtomicInteger started = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CountDownLatch first = new java.util.concurrent.CountDownLatch(1);
        f.origin.onStartWriteback(() -> {
            started.incrementAndGet();
            first.countDown();
        });
        long seq = 0;
        for (long written = 0; written + SIZE < SnapshotVolume.WRITEBACK_BYTES; written += SIZE) {
            write(f.volume.origin(), 0, (int) SIZE, ++seq, 0);
        }
        assertEquals(0, started.get(), "not before " + SnapshotVolume.WRITEBACK_BYTES + " bytes");
        write(f.volume.origin(), 0, (int) SIZE, 99, 0);
        write(f.volume.origin(), 0, (int) SIZE, 100, 0);
        assertTrue(first.await(30, java.util.concurrent.TimeUnit.SECONDS), "started once enough was written");
        f.volume.close();
    }

    @Test
    void corruptSnapshotMetadataIsRefusedNamingTheBlock() throws Exception {
        Fixture f = new Fixture(SIZE, 8);
        f.volume.create("a");
        write(f.volume.origin(), 0, 512, 1, 0);
        f.volume.close();
        SnapshotStore.Inspection ok = SnapshotStore.inspect(f.meta);
        assertTrue(ok.opens(), ok.problems().toString());
        assertEquals(1, ok.slotsInUse());
        // flip a byte in every block the exceptions could be in except the superblocks: the first that
        // is read must be named
        for (long block = 2; block < f.meta.size() / 4096; block++) {
            f.meta.corrupt(block * 4096 + 40, 1);
        }
        MetadataException e = assertThrows(MetadataException.class, () -> SnapshotStore.open(f.meta));
        assertTrue(e.getMessage().contains("snapshot info"), e.getMessage());
        assertNotNull(SnapshotStore.inspect(f.meta).problems().getFirst());
    }
}
