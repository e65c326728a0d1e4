package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The bottom layer of the metadata: 4 KiB blocks on a {@link BlockDevice}, each carrying its
 * kind, its own location, the generation that wrote it, the format version and a CRC32C.
 *
 * <pre>
 * offset size  field
 *      0    4  magic: the block kind ({@link BlockKind})
 *      4    4  CRC32C of the whole block, computed with these 4 bytes as zero
 *      8    8  location: the block's own index in the device
 *     16    8  generation: the commit (transaction) that wrote it
 *     24    4  format version (1: the first clone format, 2: the current one)
 *     28    4  reserved, zero
 *     32 4064  payload
 * </pre>
 *
 * All integers are big-endian. {@link #read} validates magic, location, version, checksum and
 * generation, in that order, and a failure names the block and the check ({@link BlockCheck}).
 * Writes are positional and not durable until {@link #flush}. Thread-safe as the device is.
 */
public final class BlockManager {
    public static final int BLOCK_SIZE = 4096;
    public static final int HEADER = 32;
    public static final int PAYLOAD = BLOCK_SIZE - HEADER;
    /** The format version of blocks written now. */
    public static final int VERSION = 2;

    private final BlockDevice device;

    public BlockManager(BlockDevice device) {
        this.device = device;
    }

    public BlockDevice device() {
        return device;
    }

    /** Whole blocks the device holds. */
    public long blocks() {
        return device.size() / BLOCK_SIZE;
    }

    /** A fresh, zeroed direct block buffer. */
    public static ByteBuffer allocate() {
        return ByteBuffer.allocateDirect(BLOCK_SIZE);
    }

    /** Reads the raw block at {@code location}, without validation. */
    public ByteBuffer readRaw(long location) throws IOException {
        if (location < 0 || location >= blocks()) {
            throw new MetadataException("block " + location + " is beyond the end of the " + blocks()
                    + "-block metadata device", BlockCheck.LOCATION);
        }
        ByteBuffer block = allocate();
        device.read(Math.multiplyExact(location, BLOCK_SIZE), block);
        return block.clear();
    }

    /**
     * Reads and validates the block {@code ref} points to.
     *
     * @throws MetadataException naming the block and the first check that failed
     */
    public ByteBuffer read(BlockRef ref, BlockKind kind) throws IOException {
        ByteBuffer block = readRaw(ref.location());
        BlockCheck failed = check(block, kind, ref.location(), VERSION);
        if (failed == null && generation(block) != ref.generation()) {
            failed = BlockCheck.GENERATION;
        }
        if (failed != null) {
            throw new MetadataException(kind.label() + " at " + ref, describe(failed, block, kind, ref), failed);
        }
        return block;
    }

    /** Seals {@code block} (header and checksum) as {@code kind} at {@code location} and writes it there. */
    public void write(long location, BlockKind kind, long generation, ByteBuffer block) throws IOException {
        seal(block, kind, location, generation, VERSION);
        device.write(Math.multiplyExact(location, BLOCK_SIZE), block.duplicate().clear(), false);
    }

    /** Makes every block written so far durable. */
    public void flush() throws IOException {
        device.flush();
    }

    /** Fills in the header and the checksum. */
    static void seal(ByteBuffer block, BlockKind kind, long location, long generation, int version) {
        block.putInt(0, kind.magic());
        block.putInt(4, 0);
        block.putLong(8, location);
        block.putLong(16, generation);
        block.putInt(24, version);
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

    /** The first of magic, location, version and checksum that fails, or null. */
    static BlockCheck check(ByteBuffer block, BlockKind kind, long location, int version) {
        if (block.getInt(0) != kind.magic()) {
            return BlockCheck.MAGIC;
        }
        if (block.getLong(8) != location) {
            return BlockCheck.LOCATION;
        }
        if (block.getInt(24) != version) {
            return BlockCheck.VERSION;
        }
        if (block.getInt(4) != checksum(block)) {
            return BlockCheck.CHECKSUM;
        }
        return null;
    }

    /** What a failed check found, in words. */
    static String describe(BlockCheck check, ByteBuffer block, BlockKind kind, BlockRef ref) {
        return switch (check) {
            case MAGIC -> allZero(block) ? "never written (all zero)"
                    : String.format("bad magic %08x (expected %08x)", block.getInt(0), kind.magic());
            case LOCATION -> "block says it belongs at " + block.getLong(8);
            case VERSION -> "format version " + block.getInt(24) + " (expected " + VERSION + ")";
            case CHECKSUM -> "bad checksum";
            case GENERATION -> "written in generation " + generation(block) + ", the reference expects "
                    + ref.generation() + " (a lost or stale write)";
            case CONTENT -> "inconsistent content";
        };
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

    public static int version(ByteBuffer block) {
        return block.getInt(24);
    }
}
