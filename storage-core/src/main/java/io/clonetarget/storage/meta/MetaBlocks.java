package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Reading and writing checksummed metadata blocks.
 *
 * <pre>
 * offset size  field
 *      0    4  magic: the block kind ("CTSB" superblock, "CTBS" bitset)
 *      4    4  CRC32C of the whole block, computed with these 4 bytes as zero
 *      8    8  location: the block's own index in the file
 *     16    8  generation: the commit that wrote it
 *     24    4  format version (1)
 *     28    4  reserved, zero
 *     32 4064  payload
 * </pre>
 *
 * All integers are big-endian. A block read back is checked for magic, location, version and
 * checksum, in that order, and a failure says which.
 */
public final class MetaBlocks {
    public static final int BLOCK_SIZE = 4096;
    public static final int HEADER = 32;
    public static final int PAYLOAD = BLOCK_SIZE - HEADER;
    public static final int VERSION = 1;
    public static final int MAGIC_SUPERBLOCK = 0x43545342;
    public static final int MAGIC_BITSET = 0x43544253;

    private MetaBlocks() {
    }

    /** A fresh direct block buffer. */
    public static ByteBuffer allocate() {
        return ByteBuffer.allocateDirect(BLOCK_SIZE);
    }

    /** Fills in the header (magic, location, generation, version) and the checksum. */
    public static void seal(ByteBuffer block, int magic, long location, long generation) {
        block.putInt(0, magic);
        block.putInt(4, 0);
        block.putLong(8, location);
        block.putLong(16, generation);
        block.putInt(24, VERSION);
        block.putInt(28, 0);
        block.putInt(4, checksum(block));
    }

    static int checksum(ByteBuffer block) {
        CRC32C crc = new CRC32C();
        ByteBuffer b = block.duplicate().clear();
        int stored = b.getInt(4);
        b.putInt(4, 0);
        crc.update(b.duplicate().clear());
        b.putInt(4, stored);
        return (int) crc.getValue();
    }

    /** Writes a sealed block at its location. */
    public static void write(BlockDevice device, ByteBuffer block) throws IOException {
        long location = block.getLong(8);
        device.write(location * BLOCK_SIZE, block.duplicate().clear(), false);
    }

    /** Reads the raw block at {@code location} (no validation). */
    public static ByteBuffer read(BlockDevice device, long location) throws IOException {
        ByteBuffer block = allocate();
        device.read(location * BLOCK_SIZE, block);
        return block.clear();
    }

    /**
     * Validates a block read from {@code location}.
     *
     * @return null when valid, else what is wrong ("bad checksum", ...)
     */
    public static String problem(ByteBuffer block, int magic, long location) {
        if (block.getInt(0) != magic) {
            return String.format("bad magic %08x (expected %08x)", block.getInt(0), magic);
        }
        if (block.getLong(8) != location) {
            return "block says it belongs at " + block.getLong(8);
        }
        if (block.getInt(24) != VERSION) {
            return "unknown format version " + block.getInt(24);
        }
        if (block.getInt(4) != checksum(block)) {
            return "bad checksum";
        }
        return null;
    }

    /** Whether every byte of the block is zero (never written). */
    public static boolean allZero(ByteBuffer block) {
        for (int i = 0; i < BLOCK_SIZE; i += 8) {
            if (block.getLong(i) != 0) {
                return false;
            }
        }
        return true;
    }

    public static long generation(ByteBuffer block) {
        return block.getLong(16);
    }
}
