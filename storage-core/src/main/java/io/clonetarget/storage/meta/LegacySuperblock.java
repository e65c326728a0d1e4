package io.clonetarget.storage.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.UUID;

/**
 * The superblock of format version 1 (clonetarget 0.1), read so that such clones keep opening
 * and are upgraded in place ({@link CloneStore#open}). Version 1 had clone fields in the
 * superblock and a fixed layout: block {@code 2 + 2i + c} is copy {@code c} of bitset block
 * {@code i}, and a selector bit per block says which copy is current.
 *
 * <pre>
 * offset size  field (after the 32-byte header, block version 1)
 *     32   16  volume UUID
 *     48    8  region size
 *     56    8  target size
 *     64    8  region count
 *     72    4  logical block size
 *     76    4  bitset block count
 *     80    4  bits per bitset block (32512)
 *     88    8  creation time, ms
 *     96    2  source descriptor length L
 *     98    L  source descriptor
 *   1152    n  copy selectors, bit i LSB first
 * </pre>
 */
record LegacySuperblock(long generation, CloneInfo info, int bitsetBlocks, BitSet selectors) {
    static final int VERSION = 1;
    private static final int SOURCE_OFFSET = 98;
    private static final int SELECTORS_OFFSET = 1152;
    private static final int MAX_BLOCKS = (BlockManager.BLOCK_SIZE - SELECTORS_OFFSET) * 8;

    /** Where copy {@code copy} of bitset block {@code index} lives. */
    static long bitsetLocation(int index, int copy) {
        return 2 + 2L * index + copy;
    }

    long fileBlocks() {
        return 2 + 2L * bitsetBlocks;
    }

    /** The location of the current copy of bitset block {@code i}. */
    long selected(int i) {
        return bitsetLocation(i, selectors.get(i) ? 1 : 0);
    }

    static LegacySuperblock decode(ByteBuffer b, int slot) throws MetadataException {
        String where = "superblock slot " + slot;
        BlockCheck failed = BlockManager.check(b, BlockKind.SUPERBLOCK, slot, VERSION);
        if (failed != null) {
            throw new MetadataException(where + ": " + BlockManager.describe(failed, b, BlockKind.SUPERBLOCK,
                    new BlockRef(slot, 0)), failed);
        }
        long generation = BlockManager.generation(b);
        if (generation % 2 != slot) {
            throw new MetadataException(where + ": generation " + generation + " belongs in slot " + generation % 2,
                    BlockCheck.LOCATION);
        }
        where += " (generation " + generation + ")";
        int bitsetBlocks = b.getInt(76);
        int bitsPerBlock = b.getInt(80);
        int sourceLength = b.getShort(96) & 0xffff;
        if (sourceLength > CloneInfo.MAX_SOURCE) {
            throw new MetadataException(where + ": source descriptor length " + sourceLength, BlockCheck.CONTENT);
        }
        byte[] src = new byte[sourceLength];
        b.get(SOURCE_OFFSET, src);
        CloneInfo info;
        try {
            info = new CloneInfo(new UUID(b.getLong(32), b.getLong(40)), b.getLong(48), b.getLong(56), b.getLong(64),
                    b.getInt(72), b.getLong(88), new String(src, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new MetadataException(where + ": " + e.getMessage(), BlockCheck.CONTENT);
        }
        if (bitsPerBlock != PersistentBitset.BITS_PER_BLOCK || bitsetBlocks != info.bitsetBlocks()
                || bitsetBlocks > MAX_BLOCKS) {
            throw new MetadataException(where + ": bitset geometry " + bitsetBlocks + "x" + bitsPerBlock + " is wrong",
                    BlockCheck.CONTENT);
        }
        byte[] sel = new byte[(bitsetBlocks + 7) / 8];
        b.get(SELECTORS_OFFSET, sel);
        return new LegacySuperblock(generation, info, bitsetBlocks, BitSet.valueOf(sel));
    }
}
