package io.clonetarget.storage.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The layers of the metadata, from checksummed blocks up to the clone's store. */
class CloneStoreTest {
    static final long REGION = 64 * 1024;
    final Journal journal = new Journal();

    static CloneInfo info(long regions) {
        return CloneInfo.of(UUID.randomUUID(), REGION, regions * REGION, 512, 1, "kind=test\n");
    }

    RecordingBlockDevice device(long regions) {
        return new RecordingBlockDevice("meta", journal, CloneStore.bytesNeeded(regions), 4096);
    }

    /** Changes that set {@code bits} in {@code word}, in ascending order of words. */
    static PersistentBitset.Changes set(long... wordAndBits) {
        return v -> {
            for (int i = 0; i < wordAndBits.length; i += 2) {
                v.word((int) wordAndBits[i], wordAndBits[i + 1]);
            }
        };
    }

    @Test
    void formatCommitAndOpenAgain() throws IOException {
        long regions = 100_000;
        RecordingBlockDevice dev = device(regions);
        CloneInfo info = info(regions);
        CloneStore s = CloneStore.format(dev, info, null);
        assertEquals(1, s.generation());
        assertTrue(s.commit(set(0, 0b1011, 1562, 1L << 31)));
        assertEquals(2, s.generation());
        CloneStore again = CloneStore.open(dev);
        assertEquals(info, again.info());
        assertEquals(2, again.generation());
        assertTrue(again.durable(0) && again.durable(1) && again.durable(3) && !again.durable(2));
        assertTrue(again.durable(1562 * 64 + 31));
        assertArrayEquals(s.durableWords(), again.durableWords());
    }

    @Test
    void aCommitWithNothingNewWritesNothing() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore s = CloneStore.format(dev, info(64), null);
        long before = journal.now();
        assertFalse(s.commit(set()));
        assertEquals(before, journal.now(), "no writes, no flushes");
        assertTrue(s.commit(set(0, 1)));
        long after = journal.now();
        assertFalse(s.commit(set(0, 1)), "bits already durable are nothing new");
        assertEquals(after, journal.now());
        assertEquals(1, s.commits());
    }

    @Test
    void nothingTheDurableSuperblockReachesIsOverwrittenAndSlotsAlternate() throws IOException {
        long regions = 3 * PersistentBitset.BITS_PER_BLOCK; // three leaves and an index block
        RecordingBlockDevice dev = device(regions);
        CloneStore s = CloneStore.format(dev, info(regions), null);
        for (int round = 0; round < 12; round++) {
            Set<Long> durable = new HashSet<>(MetadataInspection.of(dev).used());
            long mark = journal.now();
            int word = (round % 3) * PersistentBitset.WORDS_PER_BLOCK + round;
            assertTrue(s.commit(set(word, 1L << round)));
            boolean superblock = false;
            for (Journal.Op op : journal.ops()) {
                if (op.seq() < mark || op.device() != dev || op.data() == null) {
                    continue;
                }
                long block = op.offset() / 4096;
                if (block < 2) {
                    assertEquals(s.generation() % 2, block, "generation " + s.generation() + " goes to its own slot");
                    superblock = true;
                } else {
                    assertFalse(durable.contains(block), "round " + round + ": block " + block
                            + " of the durable state was overwritten");
                    assertFalse(superblock, "a block was written after the superblock");
                }
            }
            assertTrue(superblock);
        }
        assertEquals(2 + 1 + 3 + 1, s.blocksInUse(), "superblocks, info, three leaves, one index block: no leak");
    }

    @Test
    void everyBlockCanChangeInEveryCommitWithoutRunningOutOfSpace() throws IOException {
        long regions = 600 * 64L; // a few leaves
        RecordingBlockDevice dev = device(regions);
        CloneStore s = CloneStore.format(dev, info(regions), null);
        for (int round = 0; round < 64; round++) {
            long bit = 1L << round;
            long[] changes = new long[2 * 600];
            for (int w = 0; w < 600; w++) {
                changes[2 * w] = w;
                changes[2 * w + 1] = bit;
            }
            assertTrue(s.commit(set(changes)));
        }
        CloneStore again = CloneStore.open(dev);
        for (long w : again.durableWords()) {
            assertEquals(-1L, w);
        }
    }

    @Test
    void theDurableViewChangesOnlyAfterTheSuperblockFlushReturns() throws Exception {
        RecordingBlockDevice dev = device(64);
        CloneStore s = CloneStore.format(dev, info(64), null);
        AtomicInteger flushes = new AtomicInteger();
        CountDownLatch inSuperblockFlush = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        dev.onFlush(() -> {
            if (flushes.incrementAndGet() == 2) { // a commit flushes its blocks, then its superblock
                inSuperblockFlush.countDown();
                try {
                    letGo.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        CompletableFuture<Boolean> commit = CompletableFuture.supplyAsync(() -> {
            try {
                return s.commit(set(0, 1L << 7));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        inSuperblockFlush.await();
        assertFalse(s.durable(7), "the superblock is written but not flushed: not durable yet");
        assertEquals(1, s.generation());
        letGo.countDown();
        assertTrue(commit.get());
        assertTrue(s.durable(7));
        assertEquals(2, s.generation());
    }

    @Test
    void aTornSuperblockFallsBackToThePreviousCommit() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore s = CloneStore.format(dev, info(64), null);
        s.commit(set(0, 1));
        dev.corrupt(1000, 8); // slot 0: generation 2
        MetadataInspection i = MetadataInspection.of(dev);
        assertEquals(MetadataInspection.Severity.NOTE, i.worst());
        CloneStore again = CloneStore.open(dev);
        assertEquals(1, again.generation());
        assertFalse(again.durable(0), "generation 1 had nothing");
    }

    @Test
    void damageNamesTheBlockAndTheCheck() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore.format(dev, info(64), null);
        BlockRef leaf = MetadataInspection.of(dev).array().leaf(0);
        dev.corrupt(leaf.location() * 4096 + 100, 4);
        MetadataException bad = assertThrows(MetadataException.class, () -> CloneStore.open(dev));
        assertTrue(bad.getMessage().contains("bitset block 0") && bad.getMessage().contains("bad checksum"),
                bad.getMessage());
        dev.corrupt(leaf.location() * 4096 + 100, 4);
        dev.corrupt(4096 + 8, 1);
        MetadataException none = assertThrows(MetadataException.class, () -> CloneStore.open(dev));
        assertTrue(none.getMessage().contains("no valid superblock"), none.getMessage());
    }

    @Test
    void eachValidatorSaysWhichCheckFailed() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore.format(dev, info(64), null);
        BlockManager bm = new BlockManager(dev);
        BlockRef leaf = MetadataInspection.of(dev).array().leaf(0);
        assertEquals(BlockCheck.GENERATION, assertThrows(MetadataException.class,
                () -> bm.read(new BlockRef(leaf.location(), leaf.generation() + 1), BlockKind.BITSET)).check());
        assertEquals(BlockCheck.MAGIC, assertThrows(MetadataException.class,
                () -> bm.read(leaf, BlockKind.INDEX)).check());
        ByteBuffer moved = bm.readRaw(leaf.location());
        dev.write((leaf.location() + 1) * 4096, moved, false);
        assertEquals(BlockCheck.LOCATION, assertThrows(MetadataException.class,
                () -> bm.read(new BlockRef(leaf.location() + 1, leaf.generation()), BlockKind.BITSET)).check());
        ByteBuffer old = bm.readRaw(leaf.location());
        old.putInt(24, 1);
        dev.write(leaf.location() * 4096, old.clear(), false);
        assertEquals(BlockCheck.VERSION, assertThrows(MetadataException.class,
                () -> bm.read(leaf, BlockKind.BITSET)).check());
        old.putInt(24, 2);
        old.put(500, (byte) 9);
        dev.write(leaf.location() * 4096, old.clear(), false);
        assertEquals(BlockCheck.CHECKSUM, assertThrows(MetadataException.class,
                () -> bm.read(leaf, BlockKind.BITSET)).check());
    }

    @Test
    void aLostWriteIsCaughtByTheGenerationInItsReference() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore s = CloneStore.format(dev, info(64), null);
        // let leaf writes vanish, as a device that acknowledges and loses them would
        Set<Long> leaves = new HashSet<>();
        for (int round = 0; round < 6; round++) {
            leaves.add(MetadataInspection.of(dev).array().leaf(0).location() * 4096);
            s.commit(set(0, 1L << round));
        }
        dev.dropWritesAt(leaves::contains);
        s.commit(set(0, 1L << 40));
        MetadataInspection i = MetadataInspection.of(dev);
        assertFalse(i.opens(), "an old leaf, valid in itself, must not pass for the new one");
        assertEquals(MetadataInspection.Severity.DAMAGED, i.worst());
        assertTrue(i.findings().getFirst().message().contains("lost or stale write")
                || i.findings().getFirst().message().contains("never written"), i.findings().toString());
    }

    @Test
    void bitsPastTheLastRegionAreDamage() throws IOException {
        RecordingBlockDevice dev = device(10);
        CloneStore s = CloneStore.format(dev, info(10), null);
        s.commit(set(0, 1L << 20));
        MetadataException e = assertThrows(MetadataException.class, () -> CloneStore.open(dev));
        assertTrue(e.getMessage().contains("past the last one"), e.getMessage());
    }

    @Test
    void aDeepArrayKeepsEveryLeafAndNamesTheLeavesADamagedIndexHides() throws IOException {
        long regions = 300L * PersistentBitset.BITS_PER_BLOCK; // 300 leaves: two index levels
        RecordingBlockDevice dev = device(regions);
        CloneStore s = CloneStore.format(dev, info(regions), null);
        int last = 299 * PersistentBitset.WORDS_PER_BLOCK;
        s.commit(set(0, 1, 150L * PersistentBitset.WORDS_PER_BLOCK, 2, last, 4));
        MetadataInspection i = MetadataInspection.of(dev);
        assertNull(i.worst(), i.findings().toString());
        assertEquals(2, i.array().depth());
        assertEquals(3, i.indexBlocks(), "two index blocks below the root, and the root");
        assertEquals(3, i.hydratedRegions());
        CloneStore again = CloneStore.open(dev);
        assertTrue(again.durable(0) && again.durable(150L * PersistentBitset.BITS_PER_BLOCK + 1)
                && again.durable(299L * PersistentBitset.BITS_PER_BLOCK + 2));
        BlockRef root = i.array().root();
        // the second index block of level 1 covers leaves 253..299
        ByteBuffer top = new BlockManager(dev).read(root, BlockKind.INDEX);
        long second = top.getLong(40 + BlockRef.BYTES);
        dev.corrupt(second * 4096 + 64, 4);
        MetadataInspection damaged = MetadataInspection.of(dev);
        assertFalse(damaged.opens());
        assertEquals(List.of(253L, 254L), damaged.damagedBlocks().subList(0, 2));
        assertEquals(47, damaged.damagedBlocks().size());
        assertTrue(damaged.findings().getFirst().message().contains("bitset blocks 253 to 299 unknown"),
                damaged.findings().toString());
    }

    @Test
    void geometryThatDoesNotFitIsRefusedWithAHint() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CloneInfo.of(UUID.randomUUID(), 4096, 1L << 50, 512, 0, ""));
        assertTrue(e.getMessage().contains("use a larger region size"), e.getMessage());
    }

    @Test
    void existingMetadataIsNeverFormattedOver() throws IOException {
        RecordingBlockDevice dev = device(64);
        CloneStore s = CloneStore.format(dev, info(64), null);
        s.commit(set(0, 5));
        MetadataException e = assertThrows(MetadataException.class, () -> CloneStore.format(dev, info(64), null));
        assertTrue(e.getMessage().contains("refusing to format over it"), e.getMessage());
        assertTrue(CloneStore.open(dev).durable(2));
    }
}
