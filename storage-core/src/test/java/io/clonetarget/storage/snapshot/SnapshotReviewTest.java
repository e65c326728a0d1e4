package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.meta.SnapshotStore;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Defects found by the review of the snapshot engine, one test each. */
class SnapshotReviewTest {
    static final int CHUNK = SnapshotVolumeTest.CHUNK;
    static final long SIZE = 1L << 20;

    /**
     * Copy-on-write of chunk 1 queues its exception; before it calls the committer, another copy
     * (chunk 0) runs a commit that carries both and fails. The copy of chunk 1 then shares the next,
     * empty commit: it must hear of the failure (and, since the failure cannot be recorded either,
     * its origin write must fail), never that its exception is durable. Before the fix its write went
     * to the origin with no exception anywhere, and the snapshot, valid after a restart, read it.
     */
    @Test
    void aCopyWhoseExceptionWasInAFailedCommitNeverWritesTheOrigin() throws Exception {
        Journal journal = new Journal();
        var settings = new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 8L, 10, 8, 4);
        RecordingBlockDevice origin = new RecordingBlockDevice("origin", journal, SIZE, 512);
        RecordingBlockDevice meta = new RecordingBlockDevice("meta", journal,
                SnapshotStore.bytesNeeded(8, SIZE / CHUNK), 4096);
        RecordingBlockDevice diff = new RecordingBlockDevice("diff", journal, SIZE, 4096);
        SnapshotVolume.FailureRecord cannotRecord = (id, why) -> false;
        SnapshotVolume v = SnapshotVolume.format("vol", origin, meta, diff, settings, cannotRecord);
        SnapshotVolumeTest.write(v.origin(), 0, 2 * CHUNK, 1, 0);
        v.create("a");
        byte[] atA = SnapshotVolumeTest.read(origin);

        CountDownLatch queued = new CountDownLatch(1);
        CountDownLatch go = new CountDownLatch(1);
        v.beforeCopyCommit(c -> {
            if (c == 1) {
                queued.countDown();
                awaitQuietly(go);
            }
        });
        CompletableFuture<Void> b = new CompletableFuture<>();
        Thread tb = new Thread(() -> writeInto(v, CHUNK, 2, b), "copy-of-chunk-1");
        tb.start();
        assertTrue(queued.await(30, TimeUnit.SECONDS), "the copy of chunk 1 queued its exception");
        // the copy of chunk 0 leads a commit carrying both exceptions; it is held in its first step
        // (the difference storage's flush) while the copy of chunk 1 joins the committer, then fails
        meta.failWritesAfter(0);
        CountDownLatch inCommit = new CountDownLatch(1);
        CountDownLatch go2 = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean(true);
        diff.onFlush(() -> {
            if (armed.compareAndSet(true, false)) {
                inCommit.countDown();
                awaitQuietly(go2);
            }
        });
        CompletableFuture<Void> a = new CompletableFuture<>();
        new Thread(() -> writeInto(v, 0, 3, a), "copy-of-chunk-0").start();
        assertTrue(inCommit.await(30, TimeUnit.SECONDS), "the copy of chunk 0 runs the commit");
        go.countDown();
        while (!(java.util.concurrent.locks.LockSupport.getBlocker(tb) != null
                && java.util.concurrent.locks.LockSupport.getBlocker(tb).getClass().getName()
                .contains("CompletableFuture"))) {
            assertTrue(tb.isAlive(), "the copy of chunk 1 ended before it waited for a commit");
            Thread.onSpinWait(); // the condition: chunk 1's copy parked in the committer, waiting for the next commit
        }
        go2.countDown();
        ExecutionException ea = assertThrows(ExecutionException.class, () -> a.get(30, TimeUnit.SECONDS),
                "the commit failed and the failure cannot be recorded: the write of chunk 0 fails");
        assertTrue(ea.getCause() instanceof MediumErrorException, String.valueOf(ea.getCause()));
        ExecutionException e = assertThrows(ExecutionException.class, () -> b.get(30, TimeUnit.SECONDS),
                "the write of chunk 1, whose exception was in the failed commit, must fail too");
        assertTrue(e.getCause() instanceof MediumErrorException, String.valueOf(e.getCause()));
        // what a restart finds: snapshot a, valid (nothing recorded its failure), must still read its point in time
        meta.failWritesAfter(-1);
        SnapshotVolume reopened = SnapshotVolume.open("vol", origin, meta, diff, settings, cannotRecord, 0, null);
        assertArrayEquals(atA, SnapshotVolumeTest.read(reopened.image("a", false)));
    }

    private static void awaitQuietly(CountDownLatch l) {
        try {
            l.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void writeInto(SnapshotVolume v, long offset, long seq, CompletableFuture<Void> done) {
        try {
            SnapshotVolumeTest.write(v.origin(), offset, 512, seq, (int) seq);
            done.complete(null);
        } catch (Throwable t) {
            done.completeExceptionally(t);
        }
    }

    /**
     * A FAILED file from an earlier metadata failure (snapshots up to 5) exists when the metadata
     * fails again with snapshot 9 the newest: the record must then cover 9, or snapshots 6 to 9
     * come back valid after a restart though they lost data. Before the fix the old file was kept
     * and the record reported success.
     */
    @Test
    void aSecondFailureRecordCoversTheNewerSnapshots(@TempDir Path dir) throws Exception {
        SnapshotFiles.FailureFile f = new SnapshotFiles.FailureFile(dir.resolve(SnapshotFiles.FAILED));
        assertTrue(f.record(5, "first"));
        long[] upTo = {0};
        f.read(upTo);
        assertTrue(upTo[0] == 5, "first record: " + upTo[0]);
        assertTrue(f.record(9, "second"));
        String why = new SnapshotFiles.FailureFile(dir.resolve(SnapshotFiles.FAILED)).read(upTo);
        assertTrue(upTo[0] >= 9, "snapshots up to " + upTo[0] + " recorded failed; 9 failed (" + why + ")");
        assertTrue(f.record(7, "older"));
        f.read(upTo);
        assertTrue(upTo[0] >= 9, "a record never lowers what failed: " + upTo[0]);
    }

    /**
     * A difference file shorter than the exceptions need (truncated, or restored from a copy) is
     * refused on open with an IOException naming the file, which the server reports for the
     * volume; before, an IllegalStateException escaped (the server catches IOException).
     */
    @Test
    void aDifferenceFileShorterThanItsExceptionsIsRefusedWithAnIoError(@TempDir Path dir) throws Exception {
        var settings = new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 4L, 10, 8, 4);
        Path image = dir.resolve("vol.img");
        try (var origin = FileBlockDevice.openOrCreate(image, SIZE, 512)) {
            SnapshotVolume v = SnapshotFiles.open("vol", origin, dir.resolve("snaps"), settings);
            SnapshotVolumeTest.write(v.origin(), 0, CHUNK, 1, 0);
            v.create("a");
            SnapshotVolumeTest.write(v.origin(), 0, 512, 2, 0);
            v.close();
            try (var ch = java.nio.channels.FileChannel.open(dir.resolve("snaps").resolve(SnapshotFiles.DIFF),
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            IOException e = assertThrows(IOException.class,
                    () -> SnapshotFiles.open("vol", origin, dir.resolve("snaps"), settings).close());
            assertTrue(e.getMessage().contains(SnapshotFiles.DIFF), e.getMessage());
            assertTrue(Files.exists(dir.resolve("snaps").resolve(SnapshotFiles.META)), "nothing is removed");
        }
    }

    /**
     * The commit of a new snapshot fails in its last step, the flush after the superblock write:
     * the entry may be on disk. Creation reports the failure, writes go on; after a restart the
     * snapshot must not come back valid with the origin changed under it: the failure record
     * must cover its id. Before the fix nothing was recorded (no snapshot was known in core, so
     * no write copied or failed anything) and the snapshot came back valid, reading new data.
     */
    @Test
    void aCreationWhoseCommitFailedAfterItsSuperblockNeverComesBackValidAndChanged() throws Exception {
        Journal journal = new Journal();
        var settings = new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 8L, 10, 8, 4);
        RecordingBlockDevice origin = new RecordingBlockDevice("origin", journal, SIZE, 512);
        RecordingBlockDevice meta = new RecordingBlockDevice("meta", journal,
                SnapshotStore.bytesNeeded(8, SIZE / CHUNK), 4096);
        RecordingBlockDevice diff = new RecordingBlockDevice("diff", journal, SIZE, 4096);
        FlushFailsAfterSuperblock m = new FlushFailsAfterSuperblock(meta);
        long[] recorded = {0};
        SnapshotVolume.FailureRecord record = (id, why) -> {
            recorded[0] = Math.max(recorded[0], id);
            return true;
        };
        SnapshotVolume v = SnapshotVolume.format("vol", origin, m, diff, settings, record);
        SnapshotVolumeTest.write(v.origin(), 0, 2 * CHUNK, 1, 0);
        byte[] atB = SnapshotVolumeTest.read(origin);
        m.armed = true;
        assertThrows(IOException.class, () -> v.create("b"));
        SnapshotVolumeTest.write(v.origin(), 0, 512, 2, 0); // the volume never fails a write for a snapshot
        SnapshotVolume reopened = SnapshotVolume.open("vol", origin, meta, diff, settings, record, recorded[0],
                "failed before the last restart");
        SnapshotVolume.SnapshotInfo b = reopened.get("b");
        assertTrue(b != null, "the superblock with b reached the disk (what this test is about)");
        assertTrue(b.failed() || java.util.Arrays.equals(atB, SnapshotVolumeTest.read(reopened.image("b", false))),
                "snapshot b came back valid but reads data written after it; failures recorded up to "
                        + recorded[0] + ", b is " + b.id());
    }

    /** A device whose flush fails once a superblock slot (block 0 or 1) was written while armed. */
    static final class FlushFailsAfterSuperblock implements io.clonetarget.storage.device.BlockDevice {
        final io.clonetarget.storage.device.BlockDevice d;
        volatile boolean armed;
        volatile boolean failNext;

        FlushFailsAfterSuperblock(io.clonetarget.storage.device.BlockDevice d) {
            this.d = d;
        }

        @Override public long size() { return d.size(); }
        @Override public int logicalBlockSize() { return d.logicalBlockSize(); }
        @Override public int physicalBlockSize() { return d.physicalBlockSize(); }
        @Override public boolean isReadOnly() { return false; }
        @Override public void read(long offset, java.nio.ByteBuffer dst) throws IOException { d.read(offset, dst); }
        @Override public void discard(long offset, long length) throws IOException { d.discard(offset, length); }
        @Override public void writeZeroes(long offset, long length) throws IOException { d.writeZeroes(offset, length); }
        @Override public String describe() { return d.describe(); }
        @Override public void close() { }

        @Override
        public void write(long offset, java.nio.ByteBuffer src, boolean fua) throws IOException {
            d.write(offset, src, fua);
            if (armed && offset < 8192) {
                failNext = true;
            }
        }

        @Override
        public void flush() throws IOException {
            if (failNext) {
                throw new MediumErrorException("meta: injected flush error after the superblock", true);
            }
            d.flush();
        }
    }

    private static long seq(byte[] image, long offset) {
        return java.nio.ByteBuffer.wrap(image).getLong((int) offset + 8);
    }

    /**
     * (Second review, snapshots of a snapshot.) While the deletion of s1, a snapshot of the
     * writable w, commits, w reads chunk 0 through s1's copy. Before the fix s1 left the maps
     * before that commit and w read the volume's old data in the meantime.
     */
    @Test
    void aWritableSnapshotReadsItsWritesWhileASnapshotOfItIsDeleted() throws Exception {
        SnapshotVolumeTest.Fixture f = new SnapshotVolumeTest.Fixture(SnapshotVolumeTest.SIZE, 16);
        SnapshotVolumeTest.write(f.volume.origin(), 0, 4 * CHUNK, 1, 0);
        f.volume.create("w");
        io.clonetarget.storage.device.BlockDevice w = f.volume.image("w", true);
        SnapshotVolumeTest.write(w, 0, 512, 2, 1);
        f.volume.createOf("s1", "w");
        CountDownLatch inCommit = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        f.diff.onFlush(() -> {
            inCommit.countDown();
            try {
                goOn.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        CompletableFuture<Void> deletion = CompletableFuture.runAsync(() -> {
            try {
                f.volume.delete("s1");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try {
            assertTrue(inCommit.await(30, TimeUnit.SECONDS), "the deletion is in its commit");
            org.junit.jupiter.api.Assertions.assertEquals(2, seq(SnapshotVolumeTest.read(w), 0),
                    "w during the deletion of s1");
        } finally {
            goOn.countDown();
        }
        deletion.get(30, TimeUnit.SECONDS);
        f.diff.onFlush(() -> { });
        org.junit.jupiter.api.Assertions.assertEquals(2, seq(SnapshotVolumeTest.read(w), 0), "w after it");
    }

    /**
     * (Second review.) When the metadata cannot be committed, the failure record must cover the
     * snapshots of a snapshot too, whose ids are above the volume's newest point in time. Before
     * the fix it said "up to" that point, and s came back valid after a restart, reading a
     * change of the volume made after the failure.
     */
    @Test
    void theFailureRecordCoversSnapshotsOfASnapshot() throws Exception {
        SnapshotVolumeTest.Fixture f = new SnapshotVolumeTest.Fixture(SnapshotVolumeTest.SIZE, 16);
        SnapshotVolumeTest.write(f.volume.origin(), 0, 4 * CHUNK, 1, 0);
        f.volume.create("w");
        f.volume.createOf("s", "w");
        long[] recorded = {-1};
        f.volume.close();
        f.volume = SnapshotVolume.open("vol", f.origin, f.meta, f.diff, f.settings, (id, why) -> {
            recorded[0] = id;
            return true;
        }, 0, null);
        f.meta.failFlush(true);
        SnapshotVolumeTest.write(f.volume.origin(), CHUNK, 512, 3, 0); // its copy's commit fails
        f.meta.failFlush(false);
        assertTrue(recorded[0] >= 2, "recorded up to " + recorded[0]);
        f.volume.close();
        f.volume = SnapshotVolume.open("vol", f.origin, f.meta, f.diff, f.settings, (id, why) -> true, recorded[0],
                "metadata failed");
        assertTrue(f.volume.get("s").failed(), "s failed after the restart");
    }
}
