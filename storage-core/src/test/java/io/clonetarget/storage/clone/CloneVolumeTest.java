package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.PatternSource;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class CloneVolumeTest {
    static final long REGION = 16 * 1024;
    static final long SIZE = 64 * REGION;

    @Test
    void readsComeFromTheSourceUntilHydrated() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            assertEquals(f.sourceBytes(5000, 40_000), f.read(5000, 40_000));
            assertEquals(0, f.volume.status().hydratedRegions(), "dm-clone semantics: reads do not hydrate");
            assertTrue(f.source.reads() > 0);
        }
    }

    @Test
    void aPartialWriteHydratesItsRegionFirst() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long offset = 3 * REGION + 1024;
            f.volume.write(offset, CloneFixture.filled(512, 0xab), false);
            assertTrue(f.volume.metadata().isHydrated(3));
            ByteBuffer back = f.read(3 * REGION, (int) REGION);
            ByteBuffer expected = f.sourceBytes(3 * REGION, (int) REGION);
            for (int i = 0; i < 512; i++) {
                expected.put(1024 + i, (byte) 0xab);
            }
            assertEquals(expected, back);
            assertEquals(1, f.volume.status().hydratedRegions());
        }
    }

    @Test
    void aWholeRegionWriteSkipsTheCopy() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long readsBefore = f.source.reads();
            f.volume.write(2 * REGION, CloneFixture.filled((int) (2 * REGION), 0x11), false);
            assertEquals(readsBefore, f.source.reads(), "no source read");
            assertEquals(CloneFixture.filled((int) (2 * REGION), 0x11), f.read(2 * REGION, (int) (2 * REGION)));
            assertEquals(2, f.volume.status().hydratedRegions());
        }
    }

    @Test
    void hydrateOnReadCopiesWhatReadsTouch() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, true, CloneFixture.paused())) {
            assertEquals(f.sourceBytes(REGION + 100, 1000), f.read(REGION + 100, 1000));
            assertTrue(f.volume.metadata().isHydrated(1));
            ByteBuffer inDest = ByteBuffer.allocateDirect((int) REGION);
            f.dest.read(REGION, inDest);
            assertEquals(f.sourceBytes(REGION, (int) REGION), inDest.flip());
        }
    }

    @Test
    void discardMarksWithoutCopyingAndReadsZero() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long before = f.source.reads();
            f.volume.discard(4 * REGION, 3 * REGION);
            assertEquals(before, f.source.reads(), "whole regions: nothing copied");
            assertEquals(3, f.volume.status().hydratedRegions());
            assertEquals(CloneFixture.filled((int) (3 * REGION), 0), f.read(4 * REGION, (int) (3 * REGION)));
            f.volume.discard(10 * REGION + 512, 1024);
            ByteBuffer partial = f.read(10 * REGION, (int) REGION);
            ByteBuffer expected = f.sourceBytes(10 * REGION, (int) REGION);
            for (int i = 512; i < 1536; i++) {
                expected.put(i, (byte) 0);
            }
            assertEquals(expected, partial, "a partly discarded region keeps its other blocks and zeroes the rest");
            assertTrue(f.volume.discardZeroesData());
        }
    }

    @Test
    void writeZeroesOfWholeRegionsCopiesNothing() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long before = f.source.reads();
            f.volume.writeZeroes(8 * REGION, REGION);
            assertEquals(before, f.source.reads());
            assertEquals(CloneFixture.filled((int) REGION, 0), f.read(8 * REGION, (int) REGION));
        }
    }

    @Test
    void commitOnlyWhenSomethingChanged() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long formatWrites = f.superblockWrites();
            f.volume.flush();
            f.volume.flush();
            assertEquals(formatWrites, f.superblockWrites(), "nothing marked: no superblock write");
            f.volume.write(0, CloneFixture.filled(512, 1), false);
            f.volume.flush();
            assertEquals(formatWrites + 1, f.superblockWrites());
            f.volume.write(0, CloneFixture.filled(512, 2), false);
            f.volume.flush();
            assertEquals(formatWrites + 1, f.superblockWrites(), "a hydrated region needs no metadata");
        }
    }

    @Test
    void aFuaWriteIntoANewRegionIsCommittedBeforeItReturns() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            long before = f.superblockWrites();
            f.volume.write(5 * REGION, CloneFixture.filled(4096, 3), true);
            assertEquals(before + 1, f.superblockWrites());
            assertTrue(f.volume.metadata().isDurable(5));
            List<Journal.Op> ops = f.journal.ops();
            int destFlush = -1;
            int superblock = -1;
            for (Journal.Op op : ops) {
                if (op.device() == f.dest && op.kind() == Journal.Kind.FLUSH) {
                    destFlush = (int) op.seq();
                }
                if (op.device() == f.meta && op.offset() < 8192 && op.data() != null) {
                    superblock = (int) op.seq();
                }
            }
            assertTrue(destFlush >= 0 && destFlush < superblock, "data flushed before the superblock is written");
        }
    }

    @Test
    void concurrentWritesToOneRegionShareOneCopy() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            f.source.setDelay(100);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CyclicBarrier start = new CyclicBarrier(4);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int n = i;
                done.add(pool.submit(() -> {
                    start.await();
                    f.volume.write(7 * REGION + n * 1024, CloneFixture.filled(512, 0x40 + n), false);
                    return null;
                }));
            }
            for (Future<?> d : done) {
                d.get();
            }
            pool.shutdown();
            assertEquals(1, f.source.reads(), "one copy of region 7, the others waited for it");
            ByteBuffer region = f.read(7 * REGION, (int) REGION);
            for (int n = 0; n < 4; n++) {
                assertEquals((byte) (0x40 + n), region.get(n * 1024));
            }
            assertEquals(f.source.at(7 * REGION + 600), region.get(600));
        }
    }

    @Test
    void backgroundHydrationCompletesAndKeepsWhatWasWrittenMeanwhile() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.running())) {
            List<long[]> written = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                long offset = (i * 7919L * 512) % (SIZE - 4096);
                f.volume.write(offset, CloneFixture.filled(4096, i + 1), false);
                written.add(new long[]{offset, i + 1});
            }
            f.awaitHydrated(Duration.ofSeconds(20));
            CloneStatus s = f.volume.status();
            assertTrue(s.complete(), "hydration completes: " + s);
            assertTrue(f.volume.sourceDetached(), "the source is let go");
            ByteBuffer expected = f.sourceBytes(0, (int) SIZE);
            for (long[] w : written) {
                for (int i = 0; i < 4096; i++) {
                    expected.put((int) w[0] + i, (byte) w[1]);
                }
            }
            assertEquals(expected, f.read(0, (int) SIZE), "dm-clone's test: the pattern survives hydration");
            ByteBuffer rawDest = ByteBuffer.allocateDirect((int) SIZE);
            f.dest.read(0, rawDest);
            assertEquals(expected, rawDest.flip(), "and it is all in the destination");
        }
    }

    @Test
    void aFailingSourceGivesMediumErrorsAndIsRetriedUntilItRecovers() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.running())) {
            f.source.failRange(10 * REGION, 12 * REGION);
            long start = System.nanoTime();
            assertThrows(MediumErrorException.class, () -> f.read(10 * REGION, 512));
            assertTrue(System.nanoTime() - start < 1_000_000_000L, "no hang");
            io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(10), () -> "retrying: " + f.volume.status(),
                    () -> f.volume.status().errors() >= 2 && f.volume.status().retrying() == 2);
            CloneStatus s = f.volume.status();
            assertFalse(s.complete());
            assertTrue(s.errors() >= 2, "retried: " + s);
            assertTrue(s.errors() < 30, "with backoff, not in a loop: " + s.errors());
            assertTrue(s.lastError().contains("injected source error"), s.lastError());
            assertEquals("retrying", s.state());
            assertEquals(2, s.retrying(), "the two failing regions wait for their retry: " + s);
            f.source.failNothing();
            f.awaitHydrated(Duration.ofSeconds(10));
            assertTrue(f.volume.status().complete(), "recovers when the source does");
            assertEquals("complete", f.volume.status().state());
            assertEquals(f.sourceBytes(10 * REGION, (int) REGION), f.read(10 * REGION, (int) REGION));
        }
    }

    @Test
    void aChangedSourceStopsHydration() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            f.source.setChanged(true);
            f.volume.resume();
            io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(10), () -> "stopped: " + f.volume.status(),
                    () -> f.volume.status().state().equals("stopped"));
            CloneStatus s = f.volume.status();
            assertEquals(0, s.hydratedRegions());
            assertTrue(s.lastError().contains("changed"), s.lastError());
            assertEquals("stopped", s.state());
            assertThrows(SourceChangedException.class, () -> f.read(0, 512));
        }
    }

    @Test
    void pauseMeansPaused() throws Exception {
        HydrationSettings slow = new HydrationSettings(1, 1, 256 * 1024, false, Duration.ofMillis(50),
                Duration.ofSeconds(1));
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, slow)) {
            io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(10), () -> "some hydration",
                    () -> f.volume.status().hydratedRegions() > 0);
            f.volume.pause();
            io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(10), () -> "running copies to end",
                    () -> f.volume.status().copiesInFlight() == 0);
            long paused = f.volume.status().hydratedBytes();
            f.awaitSchedulerRounds(5); // the scheduler has looked five times and copied nothing
            assertEquals(paused, f.volume.status().hydratedBytes(), "paused means paused");
            assertTrue(f.volume.status().paused());
            assertEquals("paused", f.volume.status().state());
            f.volume.setRate(0);
            f.volume.resume();
            f.awaitHydrated(Duration.ofSeconds(10));
            assertTrue(f.volume.status().complete());
        }
    }

    @Test
    void aMetadataErrorMakesTheCloneReadOnly() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            f.volume.write(0, CloneFixture.filled(512, 9), false);
            f.meta.failWritesAfter(0);
            assertThrows(IOException.class, f.volume::flush);
            assertEquals("read-only", f.volume.status().mode());
            assertTrue(f.volume.isReadOnly());
            assertThrows(ReadOnlyException.class, () -> f.volume.write(REGION, CloneFixture.filled(512, 1), false));
            assertEquals(f.sourceBytes(REGION, 512), f.read(REGION, 512), "reads go on");
            f.meta.failWritesAfter(-1);
        }
    }

    @Test
    void aFailedDestinationFlushFailsTheCloneLoudly() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            f.volume.write(0, CloneFixture.filled(4096, 3), false);
            f.dest.failFlush(true);
            IOException flush = assertThrows(IOException.class, f.volume::flush);
            assertTrue(flush.getMessage().contains("destination flush failed"), flush.getMessage());
            assertEquals("failed", f.volume.status().mode());
            assertTrue(f.volume.isReadOnly());
            IOException read = assertThrows(IOException.class, () -> f.read(0, 512));
            assertFalse(read instanceof MediumErrorException, "not a medium error: the target failed");
            assertTrue(read.getMessage().contains("has failed"), read.getMessage());
            assertThrows(IOException.class, () -> f.volume.write(0, CloneFixture.filled(512, 1), false));
            assertFalse(f.volume.tryRead(0, ByteBuffer.allocateDirect(512)));
            f.dest.failFlush(false);
        }
    }

    @Test
    void reopeningChecksGeometryAndSourceNeverReformats() throws Exception {
        Journal j = new Journal();
        PatternSource source = new PatternSource(SIZE, 7);
        RecordingBlockDevice dest = new RecordingBlockDevice("d", j, SIZE, 512);
        RecordingBlockDevice meta = new RecordingBlockDevice("m", j, CloneVolume.metadataBytes(SIZE, REGION), 4096);
        CloneVolume.Settings s = new CloneVolume.Settings(REGION, 512, false, true, CloneFixture.paused());
        CloneVolume v = CloneVolume.create("a", source, dest, meta, s);
        v.write(0, CloneFixture.filled(512, 5), false);
        v.close();

        IOException region = assertThrows(IOException.class, () -> CloneVolume.open("a", source, dest, meta,
                new CloneVolume.Settings(REGION * 2, 512, false, true, CloneFixture.paused())));
        assertTrue(region.getMessage().contains("region size"), region.getMessage());
        IOException block = assertThrows(IOException.class, () -> CloneVolume.open("a", source, dest, meta,
                new CloneVolume.Settings(REGION, 4096, false, true, CloneFixture.paused())));
        assertTrue(block.getMessage().contains("block size") || block.getMessage().contains("bytes"), block.getMessage());
        assertThrows(SourceChangedException.class, () -> CloneVolume.open("a", new PatternSource(SIZE, 8), dest, meta, s));
        IOException sized = assertThrows(IOException.class, () -> CloneVolume.open("a", new PatternSource(SIZE / 2, 7),
                new RecordingBlockDevice("d2", j, SIZE / 2, 512), meta, s));
        assertTrue(sized.getMessage().contains("describes"), sized.getMessage());

        CloneVolume again = CloneVolume.open("a", source, dest, meta, s);
        assertTrue(again.metadata().isHydrated(0), "the committed state survived the refusals");
        ByteBuffer b = ByteBuffer.allocateDirect(512);
        again.read(0, b);
        assertEquals(CloneFixture.filled(512, 5), b.flip());
        again.close();
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new CloneVolume.Settings(3000, 512, false, true,
                CloneFixture.paused()));
        assertThrows(IllegalArgumentException.class, () -> new CloneVolume.Settings(2048, 512, false, true,
                CloneFixture.paused()));
        assertThrows(IllegalArgumentException.class, () -> new CloneVolume.Settings(1L << 31, 512, false, true,
                CloneFixture.paused()));
        assertThrows(IllegalArgumentException.class, () -> new CloneVolume.Settings(REGION, 1024, false, true,
                CloneFixture.paused()));
        assertThrows(IllegalArgumentException.class, () -> new HydrationSettings(0, 1, 0, false,
                Duration.ofMillis(1), Duration.ofMillis(2)));
        assertThrows(IllegalArgumentException.class, () -> new HydrationSettings(1, 1, -1, false,
                Duration.ofMillis(1), Duration.ofMillis(2)));
    }

    @Test
    void extentsReportUnhydratedRegionsAsMappedAndDiscardedOnesAsHoles() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            assertTrue(f.volume.extentAt(0).allocated());
            assertEquals(SIZE, f.volume.extentAt(0).length());
            f.volume.discard(REGION, REGION);
            assertEquals(REGION, f.volume.extentAt(0).length());
        }
    }
}
