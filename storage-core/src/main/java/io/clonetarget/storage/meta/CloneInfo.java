package io.clonetarget.storage.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * What a clone is, as its metadata records it: identity, geometry and the source it was made
 * from. Written once, in the clone info block, when the clone is created.
 *
 * <pre>
 * clone info block payload (after the 32-byte header)
 *     32   16  UUID (most significant half first); the LUN's identity derives from it
 *     48    8  region size, bytes (a power of two, 4 KiB to 1 GiB)
 *     56    8  target size, bytes (the clone's size)
 *     64    8  region count = ceil(target size / region size)
 *     72    4  logical block size (512 or 4096)
 *     76    4  reserved, zero
 *     80    8  creation time, milliseconds since the epoch
 *     88    2  source descriptor length L (at most 1024)
 *     90    L  source descriptor, UTF-8 ({@code key=value} lines)
 * </pre>
 */
public record CloneInfo(UUID uuid, long regionSize, long targetSize, long regionCount, int logicalBlockSize,
                        long createdMillis, String source) {
    /** The most source descriptor bytes a clone records. */
    public static final int MAX_SOURCE = 1024;
    /** The most regions a clone may have: its in-core maps cost about 4 bits per region. */
    public static final long MAX_REGIONS = 1L << 30;

    /** Checks the geometry; the message says what is wrong. */
    public CloneInfo {
        String problem = problem(regionSize, targetSize, regionCount, logicalBlockSize, source);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /** A new clone's info. */
    public static CloneInfo of(UUID uuid, long regionSize, long targetSize, int logicalBlockSize, long createdMillis,
                               String source) {
        return new CloneInfo(uuid, regionSize, targetSize, regionCount(targetSize, regionSize), logicalBlockSize,
                createdMillis, source);
    }

    /** Regions of a clone: ceil(size / region size). */
    public static long regionCount(long targetSize, long regionSize) {
        return targetSize / regionSize + (targetSize % regionSize == 0 ? 0 : 1);
    }

    static String problem(long regionSize, long targetSize, long regionCount, int logicalBlockSize, String source) {
        if (Long.bitCount(regionSize) != 1 || regionSize < 4096 || regionSize > (1L << 30)) {
            return "invalid region size " + regionSize + " (a power of two from 4K to 1G)";
        }
        if (targetSize <= 0 || regionCount != regionCount(targetSize, regionSize)) {
            return "target size " + targetSize + " and region count " + regionCount + " disagree";
        }
        if (regionCount > MAX_REGIONS) {
            return String.format("a clone of %d bytes at region size %d has %d regions, more than the %d a clone may "
                    + "have; use a larger region size", targetSize, regionSize, regionCount, MAX_REGIONS);
        }
        if (logicalBlockSize != 512 && logicalBlockSize != 4096) {
            return "invalid logical block size " + logicalBlockSize;
        }
        if (targetSize % logicalBlockSize != 0) {
            return "target size " + targetSize + " is not a multiple of the block size " + logicalBlockSize;
        }
        if (source.getBytes(StandardCharsets.UTF_8).length > MAX_SOURCE) {
            return "source descriptor longer than " + MAX_SOURCE + " bytes";
        }
        return null;
    }

    /** Leaf blocks of the hydrated-region bitset. */
    public long bitsetBlocks() {
        return (regionCount + PersistentBitset.BITS_PER_BLOCK - 1) / PersistentBitset.BITS_PER_BLOCK;
    }

    void encode(ByteBuffer b) {
        byte[] src = source.getBytes(StandardCharsets.UTF_8);
        b.putLong(32, uuid.getMostSignificantBits()).putLong(40, uuid.getLeastSignificantBits());
        b.putLong(48, regionSize).putLong(56, targetSize).putLong(64, regionCount);
        b.putInt(72, logicalBlockSize).putInt(76, 0);
        b.putLong(80, createdMillis);
        b.putShort(88, (short) src.length);
        b.put(90, src);
    }

    static CloneInfo decode(ByteBuffer b, String where) throws MetadataException {
        int length = b.getShort(88) & 0xffff;
        if (length > MAX_SOURCE) {
            throw new MetadataException(where + ": source descriptor length " + length, BlockCheck.CONTENT);
        }
        byte[] src = new byte[length];
        b.get(90, src);
        long regionSize = b.getLong(48);
        long targetSize = b.getLong(56);
        long regionCount = b.getLong(64);
        int blockSize = b.getInt(72);
        String text = new String(src, StandardCharsets.UTF_8);
        String problem = problem(regionSize, targetSize, regionCount, blockSize, text);
        if (problem != null) {
            throw new MetadataException(where + ": " + problem, BlockCheck.CONTENT);
        }
        return new CloneInfo(new UUID(b.getLong(32), b.getLong(40)), regionSize, targetSize, regionCount, blockSize,
                b.getLong(80), text);
    }
}
