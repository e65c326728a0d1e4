package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bitset on a metadata device, changed only by transactional commits.
 *
 * <p>Bitset block {@code i} has two copies; the superblock's selector says which is current. A
 * commit writes each changed block to its other copy, flushes, writes the superblock (next
 * generation, updated selectors) to the other superblock slot, and flushes again. Nothing
 * committed is ever overwritten in place, so a crash at any point leaves the previous commit
 * intact, and the superblock decides which commit is current.
 *
 * <p>The caller flushes the data the bits stand for before {@link #commit} (data, then metadata
 * blocks, then superblock). Not thread-safe: one committer at a time.
 */
public final class PersistentBitset {
    private static final Logger LOG = LoggerFactory.getLogger(PersistentBitset.class);
    private final BlockDevice device;
    private Superblock superblock;
    private final long[] committed;
    private final BitSet dirtyBlocks = new BitSet();
    private long superblockWrites;

    private PersistentBitset(BlockDevice device, Superblock superblock, long[] committed) {
        this.device = device;
        this.superblock = superblock;
        this.committed = committed;
    }

    /** Words (64 bits each) in the bitset. */
    static int words(long regionCount) {
        return (int) ((regionCount + 63) / 64);
    }

    /**
     * Writes a new, all-clear bitset: every block's copy 0, then the superblock of generation 1.
     *
     * @throws IllegalArgumentException when the geometry does not fit the format
     */
    public static PersistentBitset format(BlockDevice device, UUID uuid, long regionSize, long targetSize,
                                          int logicalBlockSize, String source) throws IOException {
        long regions = Superblock.regionCount(targetSize, regionSize);
        int blocks = Superblock.bitsetBlocks(regions);
        if (blocks > Superblock.MAX_BITSET_BLOCKS) {
            throw new IllegalArgumentException(String.format(
                    "a clone of %d bytes at region size %d has %d regions, more than the %d the metadata format holds;"
                            + " use a larger region size", targetSize, regionSize, regions,
                    (long) Superblock.MAX_BITSET_BLOCKS * Superblock.BITS_PER_BLOCK));
        }
        Superblock sb = new Superblock(1, uuid, regionSize, targetSize, regions, logicalBlockSize, blocks,
                System.currentTimeMillis(), source, new BitSet());
        if (device.size() < sb.fileBlocks() * MetaBlocks.BLOCK_SIZE) {
            throw new IOException("metadata device of " + device.size() + " bytes is too small; it needs "
                    + sb.fileBlocks() * MetaBlocks.BLOCK_SIZE);
        }
        ByteBuffer block = MetaBlocks.allocate();
        for (int i = 0; i < blocks; i++) {
            block.clear();
            for (int p = 0; p < MetaBlocks.BLOCK_SIZE; p += 8) {
                block.putLong(p, 0);
            }
            MetaBlocks.seal(block, MetaBlocks.MAGIC_BITSET, Superblock.bitsetLocation(i, 0), 1);
            MetaBlocks.write(device, block);
        }
        device.flush();
        MetaBlocks.write(device, sb.encode());
        device.flush();
        return new PersistentBitset(device, sb, new long[words(regions)]);
    }

    /**
     * Opens a bitset: the newest valid superblock, then every bitset block it selects. Accepts
     * exactly what {@link MetadataInspection} finds at most notes in, so {@code metadata check}
     * and opening never disagree.
     *
     * @throws MetadataException naming the block and check that failed; never silently fixes
     */
    public static PersistentBitset open(BlockDevice device) throws IOException {
        MetadataInspection inspection = MetadataInspection.of(device);
        for (MetadataInspection.Finding f : inspection.findings()) {
            if (f.severity() == MetadataInspection.Severity.NOTE) {
                LOG.warn("metadata: {}", f);
            } else {
                throw new MetadataException(f.toString());
            }
        }
        return new PersistentBitset(device, inspection.current(), inspection.words());
    }

    /** Decodes bitset block {@code index} into {@code words}; bits past the region count must be clear. */
    static void decodeInto(ByteBuffer block, int index, long[] words, long regionCount) throws MetadataException {
        int first = index * Superblock.WORDS_PER_BLOCK;
        for (int w = 0; w < Superblock.WORDS_PER_BLOCK; w++) {
            long value = block.getLong(MetaBlocks.HEADER + 8 * w);
            int word = first + w;
            if (word >= words.length) {
                if (value != 0) {
                    throw new MetadataException("bitset block " + index + " has bits set past the last region");
                }
                continue;
            }
            if (word == words.length - 1 && regionCount % 64 != 0) {
                long valid = (1L << (regionCount % 64)) - 1;
                if ((value & ~valid) != 0) {
                    throw new MetadataException("bitset block " + index + " has bits set past the last region");
                }
            }
            words[word] = value;
        }
    }

    public Superblock superblock() {
        return superblock;
    }

    /** A copy of the committed bits (64 regions per word). */
    public long[] committedWords() {
        return committed.clone();
    }

    /** Whether region {@code r} is set in the last commit. */
    public boolean committed(long region) {
        return (committed[(int) (region >>> 6)] & (1L << region)) != 0;
    }

    /** Adds bits to word {@code word} for the next commit. */
    public void stage(int word, long bits) {
        long merged = committed[word] | bits;
        if (merged != committed[word]) {
            committed[word] = merged;
            dirtyBlocks.set(word / Superblock.WORDS_PER_BLOCK);
        }
    }

    public boolean hasStaged() {
        return !dirtyBlocks.isEmpty();
    }

    /** How many superblocks this object has written (commits), for tests and status. */
    public long superblockWrites() {
        return superblockWrites;
    }

    /**
     * Makes the staged bits the committed state: changed blocks to their other copies, flush,
     * superblock, flush. Does nothing, and writes no superblock, when nothing was staged.
     */
    public void commit() throws IOException {
        if (dirtyBlocks.isEmpty()) {
            return;
        }
        long generation = superblock.generation() + 1;
        BitSet selectors = (BitSet) superblock.selectors().clone();
        ByteBuffer block = MetaBlocks.allocate();
        for (int i = dirtyBlocks.nextSetBit(0); i >= 0; i = dirtyBlocks.nextSetBit(i + 1)) {
            int copy = selectors.get(i) ? 0 : 1;
            block.clear();
            for (int p = 0; p < MetaBlocks.BLOCK_SIZE; p += 8) {
                block.putLong(p, 0);
            }
            int first = i * Superblock.WORDS_PER_BLOCK;
            for (int w = 0; w < Superblock.WORDS_PER_BLOCK && first + w < committed.length; w++) {
                block.putLong(MetaBlocks.HEADER + 8 * w, committed[first + w]);
            }
            MetaBlocks.seal(block, MetaBlocks.MAGIC_BITSET, Superblock.bitsetLocation(i, copy), generation);
            MetaBlocks.write(device, block);
            selectors.set(i, copy == 1);
        }
        device.flush();
        Superblock next = superblock.next(generation, selectors);
        MetaBlocks.write(device, next.encode());
        device.flush();
        superblock = next;
        superblockWrites++;
        dirtyBlocks.clear();
    }
}
