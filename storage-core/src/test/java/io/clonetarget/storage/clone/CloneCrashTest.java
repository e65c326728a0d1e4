package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.clonetarget.storage.clone.CrashModel.Flush;
import io.clonetarget.storage.clone.CrashModel.Version;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Crash consistency of clones (storage.md, "proving nothing lost"): a random workload runs
 * against a clone on recording devices; then, at every flush boundary and at random points, the
 * images a crash would leave are built (all flushed operations, plus any subset of the others,
 * torn at sector granularity) and the clone is reopened from them. Invariants: it opens (the
 * checksums validate; a torn superblock falls back to the previous commit); every sector reads
 * as its last durably acknowledged version or a later one, never older data and never garbage
 * (which also proves every hydrated bit is backed by durable data: an undurable copy would read
 * as a hole of zeroes); the source is untouched.
 */
class CloneCrashTest {
    static final long REGION = 16 * 1024;
    static final long SIZE = 64 * REGION;
    static final int SECTORS = (int) (SIZE / 512);

    @ParameterizedTest(name = "seed {0}, background hydration {1}")
    @CsvSource({"1, false", "2, false", "3, true", "4, true", "5, false"})
    void everyCrashImageReopensWithNothingAcknowledgedLost(long seed, boolean background) throws Exception {
        Random random = new Random(seed);
        HydrationSettings hydration = background ? CloneFixture.running() : CloneFixture.paused();
        CloneFixture f = new CloneFixture(SIZE, REGION, false, hydration);
        long created = f.journal.mark();
        List<List<Version>> versions = new ArrayList<>();
        for (int s = 0; s < SECTORS; s++) {
            versions.add(new ArrayList<>());
        }
        List<Flush> flushes = new ArrayList<>();
        int nextId = 1;
        for (int step = 0; step < 120; step++) {
            int kind = random.nextInt(100);
            long started = f.journal.mark();
            if (kind < 40 || (kind >= 65 && kind < 75)) {
                boolean fua = kind >= 65;
                int first = random.nextInt(SECTORS - 8);
                int count = 1 + random.nextInt(8);
                int id = nextId++;
                ByteBuffer data = ByteBuffer.allocateDirect(count * 512);
                CrashModel.fill(data, id, first, count);
                f.volume.write(first * 512L, data, fua);
                record(versions, first, count, new Version(id, started, f.journal.mark(), fua));
            } else if (kind < 55) {
                int region = random.nextInt((int) (SIZE / REGION) - 1);
                int regions = 1 + random.nextInt(2);
                int first = (int) (region * REGION / 512);
                int count = (int) (regions * REGION / 512);
                int id = nextId++;
                ByteBuffer data = ByteBuffer.allocateDirect(count * 512);
                CrashModel.fill(data, id, first, count);
                f.volume.write(first * 512L, data, false);
                record(versions, first, count, new Version(id, started, f.journal.mark(), false));
            } else if (kind < 65) {
                int first = random.nextInt(SECTORS - 64);
                int count = 1 + random.nextInt(64);
                f.volume.discard(first * 512L, count * 512L);
                record(versions, first, count, new Version(0, started, f.journal.mark(), false));
            } else if (kind < 90) {
                f.volume.flush();
                flushes.add(new Flush(started, f.journal.mark()));
            } else {
                int sector = random.nextInt(SECTORS);
                ByteBuffer got = f.read(sector * 512L, 512);
                assertTrue(CrashModel.matching(got, expectedNow(versions.get(sector)), sector, f.source) != null,
                        "live read of sector " + sector);
            }
        }
        f.volume.pause();
        io.clonetarget.storage.testing.Await.until(java.time.Duration.ofSeconds(10), () -> "copies to end",
                () -> f.volume.status().copiesInFlight() == 0);
        ByteBuffer sourceBefore = f.sourceBytes(0, (int) SIZE);

        List<Long> points = new ArrayList<>(f.journal.flushPoints());
        for (int i = 0; i < 40; i++) {
            points.add((long) random.nextInt((int) f.journal.now() + 1));
        }
        points.add(f.journal.now());
        int images = 0;
        for (long p : points) {
            for (int variant = 0; variant < 2; variant++) {
                Journal j = new Journal();
                Random r = new Random(seed * 1_000_003 + p * 7 + variant);
                RecordingBlockDevice dest = f.dest.crashImage(p, r, variant == 1, j);
                RecordingBlockDevice meta = f.meta.crashImage(p, r, variant == 1, j);
                CloneVolume reopened;
                if (p < created) {
                    // a crash while the metadata was being formatted: refused (never formatted again), or the
                    // complete new format with nothing hydrated
                    try (CloneVolume v = CloneVolume.open("crash", f.source, dest, meta, new CloneVolume.Settings(
                            REGION, 512, false, true, CloneFixture.paused()))) {
                        assertEquals(0, v.status().hydratedRegions(), "crash at " + p + " during the format");
                    } catch (io.clonetarget.storage.meta.MetadataException refused) {
                        assertTrue(refused.getMessage().contains("superblock"), refused.getMessage());
                    }
                    continue;
                }
                try {
                    reopened = CloneVolume.open("crash", f.source, dest, meta, new CloneVolume.Settings(REGION, 512,
                            false, true, CloneFixture.paused()));
                } catch (Exception e) {
                    throw new AssertionError("crash at " + p + " (variant " + variant + "): reopen failed", e);
                }
                try {
                    ByteBuffer all = ByteBuffer.allocateDirect((int) SIZE);
                    reopened.read(0, all);
                    all.flip();
                    for (int s = 0; s < SECTORS; s++) {
                        Set<Integer> allowed = CrashModel.allowed(versions.get(s), flushes, p);
                        ByteBuffer sector = all.slice(s * 512, 512);
                        if (CrashModel.matching(sector, allowed, s, f.source) == null) {
                            fail("crash at " + p + " (variant " + variant + "): sector " + s + " holds none of the "
                                    + "allowed versions " + allowed + " (0 = zeroes, -1 = source); first bytes "
                                    + sector.get(0) + "," + sector.get(1));
                        }
                    }
                } finally {
                    reopened.close();
                }
                images++;
            }
        }
        assertEquals(sourceBefore, f.sourceBytes(0, (int) SIZE), "the source is untouched");
        assertTrue(images >= 40, "checked " + images + " crash images");
        f.close();
    }

    private static void record(List<List<Version>> versions, int first, int count, Version v) {
        for (int s = first; s < first + count; s++) {
            versions.get(s).add(v);
        }
    }

    private static Set<Integer> expectedNow(List<Version> history) {
        return Set.of(history.isEmpty() ? -1 : history.getLast().id());
    }
}
