package io.clonetarget.storage.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.UUID;

/**
 * The superblock of a clone's metadata: the commit point. Written last in every commit, to slot
 * {@code generation % 2} (blocks 0 and 1 alternate), so a torn superblock write loses only the
 * commit being made; opening picks the valid slot with the highest generation.
 *
 * <pre>
 * offset size  field (after the 32-byte block header, see MetaBlocks)
 *     32   16  volume UUID (most significant half first)
 *     48    8  region size, bytes (a power of two, 4 KiB to 1 GiB)
 *     56    8  target size, bytes (the clone's size)
 *     64    8  region count = ceil(target size / region size)
 *     72    4  logical block size (512 or 4096)
 *     76    4  bitset block count = ceil(region count / 32512)
 *     80    4  bits per bitset block (32512)
 *     84    4  reserved, zero
 *     88    8  creation time, milliseconds since the epoch
 *     96    2  source descriptor length L (at most 1024)
 *     98    L  source descriptor, UTF-8 (see SourceIdentity)
 *   1152    n  copy selectors: bit i (LSB first in each byte) says which of the two copies of
 *              bitset block i is current; n = ceil(bitset blocks / 8), at most 2944
 * </pre>
 */
public record Superblock(long generation, UUID uuid, long regionSize, long targetSize, long regionCount,
                         int logicalBlockSize, int bitsetBlocks, long createdMillis, String source,
                         BitSet selectors) {
    public static final int BITS_PER_BLOCK = MetaBlocks.PAYLOAD * 8;
    public static final int WORDS_PER_BLOCK = MetaBlocks.PAYLOAD / 8;
    static final int SOURCE_OFFSET = 98;
    static final int MAX_SOURCE = 1024;
    static final int SELECTORS_OFFSET = 1152;
    /** The most bitset blocks one superblock can select between. */
    public static final int MAX_BITSET_BLOCKS = (MetaBlocks.BLOCK_SIZE - SELECTORS_OFFSET) * 8;

    /** Region count for a size. */
    public static long regionCount(long targetSize, long regionSize) {
        return (targetSize + regionSize - 1) / regionSize;
    }

    public static int bitsetBlocks(long regionCount) {
        long blocks = (regionCount + BITS_PER_BLOCK - 1) / BITS_PER_BLOCK;
        return (int) Math.min(blocks, Integer.MAX_VALUE);
    }

    /** Where copy {@code copy} (0 or 1) of bitset block {@code index} lives. */
    public static long bitsetLocation(int index, int copy) {
        return 2 + 2L * index + copy;
    }

    /** Blocks the metadata file needs. */
    public long fileBlocks() {
        return 2 + 2L * bitsetBlocks;
    }

    public Superblock next(long nextGeneration, BitSet nextSelectors) {
        return new Superblock(nextGeneration, uuid, regionSize, targetSize, regionCount, logicalBlockSize,
                bitsetBlocks, createdMillis, source, nextSelectors);
    }

    /** The sealed block for this superblock, located at slot {@code generation % 2}. */
    public ByteBuffer encode() {
        byte[] src = source.getBytes(StandardCharsets.UTF_8);
        if (src.length > MAX_SOURCE) {
            throw new IllegalArgumentException("source descriptor longer than " + MAX_SOURCE + " bytes");
        }
        if (bitsetBlocks > MAX_BITSET_BLOCKS) {
            throw new IllegalArgumentException("too many bitset blocks: " + bitsetBlocks);
        }
        ByteBuffer b = MetaBlocks.allocate();
        b.putLong(32, uuid.getMostSignificantBits()).putLong(40, uuid.getLeastSignificantBits());
        b.putLong(48, regionSize).putLong(56, targetSize).putLong(64, regionCount);
        b.putInt(72, logicalBlockSize).putInt(76, bitsetBlocks).putInt(80, BITS_PER_BLOCK);
        b.putLong(88, createdMillis);
        b.putShort(96, (short) src.length);
        b.put(SOURCE_OFFSET, src);
        byte[] sel = selectors.toByteArray();
        b.put(SELECTORS_OFFSET, sel, 0, Math.min(sel.length, (bitsetBlocks + 7) / 8));
        MetaBlocks.seal(b, MetaBlocks.MAGIC_SUPERBLOCK, generation % 2, generation);
        return b;
    }

    /**
     * Decodes a superblock read from {@code slot}.
     *
     * @throws MetadataException naming the failed check
     */
    public static Superblock decode(ByteBuffer b, int slot) throws MetadataException {
        String problem = MetaBlocks.problem(b, MetaBlocks.MAGIC_SUPERBLOCK, slot);
        if (problem != null) {
            throw new MetadataException("superblock slot " + slot + ": " + problem);
        }
        long generation = MetaBlocks.generation(b);
        if (generation % 2 != slot) {
            throw new MetadataException("superblock slot " + slot + ": generation " + generation + " belongs in slot "
                    + generation % 2);
        }
        long regionSize = b.getLong(48);
        long targetSize = b.getLong(56);
        long regionCount = b.getLong(64);
        int blockSize = b.getInt(72);
        int bitsetBlocks = b.getInt(76);
        int bitsPerBlock = b.getInt(80);
        int sourceLength = b.getShort(96) & 0xffff;
        String where = "superblock slot " + slot + " (generation " + generation + "): ";
        if (Long.bitCount(regionSize) != 1 || regionSize < 4096 || regionSize > (1L << 30)) {
            throw new MetadataException(where + "invalid region size " + regionSize);
        }
        if (targetSize <= 0 || regionCount != regionCount(targetSize, regionSize)) {
            throw new MetadataException(where + "target size " + targetSize + " and region count " + regionCount
                    + " disagree");
        }
        if (bitsPerBlock != BITS_PER_BLOCK || bitsetBlocks != bitsetBlocks(regionCount)) {
            throw new MetadataException(where + "bitset geometry " + bitsetBlocks + "x" + bitsPerBlock + " is wrong");
        }
        if (blockSize != 512 && blockSize != 4096) {
            throw new MetadataException(where + "invalid logical block size " + blockSize);
        }
        if (sourceLength > MAX_SOURCE) {
            throw new MetadataException(where + "source descriptor length " + sourceLength);
        }
        byte[] src = new byte[sourceLength];
        b.get(SOURCE_OFFSET, src);
        byte[] sel = new byte[(bitsetBlocks + 7) / 8];
        b.get(SELECTORS_OFFSET, sel);
        return new Superblock(generation, new UUID(b.getLong(32), b.getLong(40)), regionSize, targetSize, regionCount,
                blockSize, bitsetBlocks, b.getLong(88), new String(src, StandardCharsets.UTF_8), BitSet.valueOf(sel));
    }
}
