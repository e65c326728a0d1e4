package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.meta.MetadataException;
import io.clonetarget.storage.meta.MetadataInspection;
import io.clonetarget.storage.meta.MetadataInspection.Severity;
import io.clonetarget.storage.meta.CloneInfo;
import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code metadata check} and {@code repair} on damaged files: each problem named, only proven regions kept. */
class CloneRepairTest {
    static final long REGION = 16 * 1024;
    static final long SIZE = 64 * REGION;

    /** A clone with regions 0-9 hydrated by copy, region 20 written whole with 0x5a, region 30 discarded. */
    private static CloneFixture prepared() throws Exception {
        CloneFixture f = new CloneFixture(SIZE, REGION, true, CloneFixture.paused());
        f.read(0, (int) (10 * REGION));
        f.volume.write(20 * REGION, CloneFixture.filled((int) REGION, 0x5a), false);
        f.volume.discard(30 * REGION, REGION);
        f.volume.flush();
        return f;
    }

    @Test
    void aCleanFileHasNothingToSayAndCountsWhatIsHydrated() throws Exception {
        try (CloneFixture f = prepared()) {
            MetadataInspection i = MetadataInspection.of(f.meta);
            assertNull(i.worst(), i.findings().toString());
            assertTrue(i.opens());
            assertEquals(12, i.hydratedRegions());
            List<String> runs = new ArrayList<>();
            i.hydratedRuns().forEach(r -> runs.add(r[0] + "-" + r[1]));
            assertEquals(List.of("0-9", "20-20", "30-30"), runs);
            assertEquals(2, i.generation(), "format, then one commit");
        }
    }

    @Test
    void aTornSuperblockIsANoteAndTheCloneStillOpens() throws Exception {
        try (CloneFixture f = prepared()) {
            f.meta.corrupt(0, 64);
            MetadataInspection i = MetadataInspection.of(f.meta);
            assertEquals(Severity.NOTE, i.worst());
            assertTrue(i.findings().getFirst().where().equals("superblock slot 0"), i.findings().toString());
            assertTrue(i.opens());
        }
    }

    @Test
    void aDamagedBitsetBlockIsNamedAndRepairKeepsOnlyProvenRegions() throws Exception {
        try (CloneFixture f = prepared()) {
            MetadataInspection before = MetadataInspection.of(f.meta);
            CloneInfo sb = before.clone();
            long location = before.blocks().getFirst().location();
            f.meta.corrupt(location * 4096 + 40, 8);
            MetadataInspection i = MetadataInspection.of(f.meta);
            assertEquals(Severity.DAMAGED, i.worst());
            assertTrue(i.findings().getFirst().where().startsWith("bitset block 0 at block " + location),
                    i.findings().getFirst().where());
            assertEquals("bad checksum", i.findings().getFirst().message());
            assertFalse(i.opens());
            MetadataException refused = assertThrows(MetadataException.class,
                    () -> CloneVolume.open("again", f.source, f.dest, f.meta, f.settings));
            assertTrue(refused.getMessage().contains("bad checksum"), refused.getMessage());

            RecordingBlockDevice fresh = new RecordingBlockDevice("new", new Journal(),
                    CloneVolume.metadataBytes(SIZE, REGION), 4096);
            assertEquals(SIZE, CloneRepair.bytesToCompare(i, SIZE, REGION));
            long[] progress = {0};
            CloneRepair.Result r = CloneRepair.repair(f.meta, f.source, f.dest, fresh,
                    new CloneRepair.Defaults(65536, 512), done -> progress[0] = done);
            assertEquals(SIZE, progress[0]);
            assertEquals(sb.uuid(), r.uuid());
            assertFalse(r.newIdentity());
            assertEquals(64, r.compared());
            assertEquals(10, r.proven(), "the copied regions equal the source");
            assertEquals(54, r.differing(), "the written region, the discarded one and the never copied ones");
            MetadataInspection after = MetadataInspection.of(fresh);
            assertNull(after.worst());
            assertEquals(10, after.hydratedRegions());
            assertEquals(sb.uuid(), after.clone().uuid());
            assertEquals(sb.source(), after.clone().source());
            // the repaired clone serves source data where nothing was proven
            try (CloneVolume v = CloneVolume.open("repaired", f.source, f.dest, fresh, f.settings)) {
                ByteBuffer got = ByteBuffer.allocateDirect((int) REGION);
                v.read(20 * REGION, got);
                assertEquals(f.sourceBytes(20 * REGION, (int) REGION), got.flip());
                got.clear();
                v.read(5 * REGION, got);
                assertEquals(f.sourceBytes(5 * REGION, (int) REGION), got.flip());
            }
        }
    }

    @Test
    void withoutASuperblockEverythingIsComparedAndTheIdentityIsNew() throws Exception {
        try (CloneFixture f = prepared()) {
            var old = MetadataInspection.of(f.meta).clone();
            f.meta.corrupt(0, 16);
            f.meta.corrupt(4096, 16);
            MetadataInspection i = MetadataInspection.of(f.meta);
            assertEquals(Severity.UNUSABLE, i.worst());
            assertTrue(i.findings().getFirst().message().startsWith("no valid superblock"), i.findings().toString());
            RecordingBlockDevice fresh = new RecordingBlockDevice("new", new Journal(),
                    CloneVolume.metadataBytes(SIZE, REGION), 4096);
            CloneRepair.Result r = CloneRepair.repair(f.meta, f.source, f.dest, fresh,
                    new CloneRepair.Defaults(REGION, 512), done -> { });
            assertTrue(r.newIdentity());
            assertFalse(old.uuid().equals(r.uuid()));
            assertEquals(10, r.proven());
            assertEquals(1, r.differingRuns().size());
            assertArrayEquals(new long[]{10, 63}, r.differingRuns().getFirst());
            assertEquals(f.source.descriptor(), MetadataInspection.of(fresh).clone().source());
        }
    }

    @Test
    void repairRefusesAnotherSource() throws Exception {
        try (CloneFixture f = prepared()) {
            RecordingBlockDevice fresh = new RecordingBlockDevice("new", new Journal(),
                    CloneVolume.metadataBytes(SIZE, REGION), 4096);
            var other = new io.clonetarget.storage.testing.PatternSource(SIZE, 8);
            assertThrows(SourceChangedException.class, () -> CloneRepair.repair(f.meta, other, f.dest, fresh,
                    new CloneRepair.Defaults(REGION, 512), done -> { }));
        }
    }
}
