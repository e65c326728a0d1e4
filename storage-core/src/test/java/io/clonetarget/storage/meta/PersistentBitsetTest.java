package io.clonetarget.storage.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class PersistentBitsetTest {
    static final long REGION = 64 * 1024;
    final Journal journal = new Journal();

    RecordingBlockDevice device(long targetSize) {
        long regions = Superblock.regionCount(targetSize, REGION);
        return new RecordingBlockDevice("meta", journal, (2 + 2L * Superblock.bitsetBlocks(regions)) * 4096L, 4096);
    }

    @Test
    void formatStageCommitAndOpenAgain() throws IOException {
        long size = 100_000L * REGION;
        RecordingBlockDevice dev = device(size);
        UUID uuid = UUID.randomUUID();
        PersistentBitset b = PersistentBitset.format(dev, uuid, REGION, size, 512, "kind=test\n");
        assertEquals(4, b.superblock().bitsetBlocks(), "100000 regions need 4 blocks of 32512 bits");
        b.stage(0, 0b1011);
        b.stage(1562, 1L << 31);
        b.commit();
        PersistentBitset again = PersistentBitset.open(dev);
        assertEquals(uuid, again.superblock().uuid());
        assertEquals("kind=test\n", again.superblock().source());
        assertEquals(2, again.superblock().generation());
        assertTrue(again.committed(0) && again.committed(1) && again.committed(3) && !again.committed(2));
        assertTrue(again.committed(1562 * 64 + 31));
        assertArrayEquals(b.committedWords(), again.committedWords());
    }

    @Test
    void commitWritesNothingWhenNothingChanged() throws IOException {
        RecordingBlockDevice dev = device(64 * REGION);
        PersistentBitset b = PersistentBitset.format(dev, UUID.randomUUID(), REGION, 64 * REGION, 512, "");
        long before = journal.now();
        b.commit();
        assertEquals(before, journal.now(), "no writes, no flushes");
        b.stage(0, 1);
        b.commit();
        assertEquals(1, b.superblockWrites());
        b.stage(0, 1);
        assertFalse(b.hasStaged(), "staging committed bits changes nothing");
        long after = journal.now();
        b.commit();
        assertEquals(after, journal.now());
        assertEquals(1, b.superblockWrites());
    }

    @Test
    void commitsShadowBlocksAndAlternateSuperblockSlots() throws IOException {
        RecordingBlockDevice dev = device(64 * REGION);
        PersistentBitset b = PersistentBitset.format(dev, UUID.randomUUID(), REGION, 64 * REGION, 512, "");
        long copy0 = Superblock.bitsetLocation(0, 0) * 4096;
        long copy1 = Superblock.bitsetLocation(0, 1) * 4096;
        assertEquals(1, dev.writesAt(copy0));
        assertEquals(0, dev.writesAt(copy1));
        b.stage(0, 1);
        b.commit();
        assertEquals(1, dev.writesAt(copy0), "the committed copy is never overwritten");
        assertEquals(1, dev.writesAt(copy1));
        b.stage(0, 2);
        b.commit();
        assertEquals(2, dev.writesAt(copy0), "back to the other copy");
        assertEquals(1, dev.writesAt(0), "generation 2 in slot 0");
        assertEquals(2, dev.writesAt(4096), "generations 1 and 3 in slot 1");
        assertEquals(3, PersistentBitset.open(dev).superblock().generation());
    }

    @Test
    void aTornSuperblockFallsBackToThePreviousCommit() throws IOException {
        RecordingBlockDevice dev = device(64 * REGION);
        PersistentBitset b = PersistentBitset.format(dev, UUID.randomUUID(), REGION, 64 * REGION, 512, "");
        b.stage(0, 1);
        b.commit();
        dev.corrupt(1000, 8);
        PersistentBitset again = PersistentBitset.open(dev);
        assertEquals(1, again.superblock().generation());
        assertFalse(again.committed(0), "generation 1 had nothing");
    }

    @Test
    void damageIsReportedWithBlockAndCheck() throws IOException {
        RecordingBlockDevice dev = device(64 * REGION);
        PersistentBitset.format(dev, UUID.randomUUID(), REGION, 64 * REGION, 512, "");
        dev.corrupt(Superblock.bitsetLocation(0, 0) * 4096 + 100, 4);
        MetadataException bad = assertThrows(MetadataException.class, () -> PersistentBitset.open(dev));
        assertTrue(bad.getMessage().contains("bitset block 0") && bad.getMessage().contains("bad checksum"),
                bad.getMessage());
        dev.corrupt(Superblock.bitsetLocation(0, 0) * 4096 + 100, 4);
        dev.corrupt(4096 + 8, 1);
        dev.corrupt(8, 1);
        MetadataException none = assertThrows(MetadataException.class, () -> PersistentBitset.open(dev));
        assertTrue(none.getMessage().contains("no valid superblock"), none.getMessage());
    }

    @Test
    void aBlockFoundAtTheWrongPlaceIsRefused() throws IOException {
        RecordingBlockDevice dev = device(64 * REGION);
        PersistentBitset.format(dev, UUID.randomUUID(), REGION, 64 * REGION, 512, "");
        ByteBuffer block = MetaBlocks.read(dev, Superblock.bitsetLocation(0, 0));
        ByteBuffer moved = MetaBlocks.allocate();
        moved.put(block).flip();
        dev.write(Superblock.bitsetLocation(0, 1) * 4096, moved, false);
        assertEquals("block says it belongs at 2", MetaBlocks.problem(MetaBlocks.read(dev, 3), MetaBlocks.MAGIC_BITSET, 3));
    }

    @Test
    void bitsPastTheLastRegionAreCorruption() throws IOException {
        RecordingBlockDevice dev = device(10 * REGION);
        PersistentBitset b = PersistentBitset.format(dev, UUID.randomUUID(), REGION, 10 * REGION, 512, "");
        b.stage(0, 1L << 20);
        b.commit();
        MetadataException e = assertThrows(MetadataException.class, () -> PersistentBitset.open(dev));
        assertTrue(e.getMessage().contains("past the last region"), e.getMessage());
    }

    @Test
    void geometryThatDoesNotFitIsRefusedWithAHint() {
        long huge = 1L << 50;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PersistentBitset.format(
                new RecordingBlockDevice("m", journal, 4096 * 4, 4096), UUID.randomUUID(), 4096, huge, 512, ""));
        assertTrue(e.getMessage().contains("use a larger region size"), e.getMessage());
    }
}
