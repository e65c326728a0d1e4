package io.clonetarget.storage.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The commit point of the metadata: written last in every commit, to slot
 * {@code generation % 2} (blocks 0 and 1 alternate), so a torn superblock write loses only the
 * commit being made; opening picks the valid slot with the highest generation. It holds a table
 * of typed {@link Root}s, not the fields of any one structure.
 *
 * <pre>
 * offset size  field (after the 32-byte block header, see BlockManager)
 *     32   16  UUID of the metadata (a clone's identity; most significant half first)
 *     48    8  space: blocks the allocator may use (0 and 1 are the superblock slots)
 *     56    4  root count, at most 63
 *     60    4  reserved, zero
 *     64   64  roots, one after the other
 * </pre>
 */
public record Superblock(long generation, UUID uuid, long spaceBlocks, List<Root> roots) {
    static final int ROOTS_OFFSET = 64;
    static final int MAX_ROOTS = (BlockManager.BLOCK_SIZE - ROOTS_OFFSET) / Root.BYTES;

    public Superblock {
        roots = List.copyOf(roots);
        if (roots.size() > MAX_ROOTS) {
            throw new IllegalArgumentException(roots.size() + " roots, at most " + MAX_ROOTS);
        }
    }

    /** The slot this superblock is written to. */
    public int slot() {
        return (int) (generation % 2);
    }

    /** The root of a type, or null. */
    public Root root(Root.Type type) {
        for (Root r : roots) {
            if (r.type() == type) {
                return r;
            }
        }
        return null;
    }

    /** The same superblock at another generation with another root of {@code root.type()}. */
    public Superblock with(long nextGeneration, Root root) {
        List<Root> next = new ArrayList<>();
        boolean replaced = false;
        for (Root r : roots) {
            if (r.type() == root.type()) {
                next.add(root);
                replaced = true;
            } else {
                next.add(r);
            }
        }
        if (!replaced) {
            next.add(root);
        }
        return new Superblock(nextGeneration, uuid, spaceBlocks, next);
    }

    /** The block, ready to be sealed at its slot. */
    ByteBuffer encode() {
        ByteBuffer b = BlockManager.allocate();
        b.putLong(32, uuid.getMostSignificantBits()).putLong(40, uuid.getLeastSignificantBits());
        b.putLong(48, spaceBlocks);
        b.putInt(56, roots.size());
        for (int i = 0; i < roots.size(); i++) {
            roots.get(i).encode(b, ROOTS_OFFSET + i * Root.BYTES);
        }
        return b;
    }

    /**
     * Decodes a version-2 superblock read from {@code slot}.
     *
     * @throws MetadataException naming the failed check
     */
    static Superblock decode(ByteBuffer b, int slot) throws MetadataException {
        BlockCheck failed = BlockManager.check(b, BlockKind.SUPERBLOCK, slot, BlockManager.VERSION);
        String where = "superblock slot " + slot;
        if (failed != null) {
            throw new MetadataException(where + ": " + BlockManager.describe(failed, b, BlockKind.SUPERBLOCK,
                    new BlockRef(slot, 0)), failed);
        }
        long generation = BlockManager.generation(b);
        if (generation < 1 || generation % 2 != slot) {
            throw new MetadataException(where + ": generation " + generation + " belongs in slot " + generation % 2,
                    BlockCheck.LOCATION);
        }
        long space = b.getLong(48);
        int count = b.getInt(56);
        where += " (generation " + generation + ")";
        if (space < 2) {
            throw new MetadataException(where + ": space of " + space + " blocks", BlockCheck.CONTENT);
        }
        if (count < 0 || count > MAX_ROOTS) {
            throw new MetadataException(where + ": " + count + " roots", BlockCheck.CONTENT);
        }
        List<Root> roots = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            try {
                Root r = Root.decode(b, ROOTS_OFFSET + i * Root.BYTES);
                for (Root other : roots) {
                    if (other.type() == r.type()) {
                        throw new MetadataException("two " + r.type() + " roots", BlockCheck.CONTENT);
                    }
                }
                roots.add(r);
            } catch (MetadataException e) {
                throw new MetadataException(where + ": root " + i + ": " + e.getMessage(), BlockCheck.CONTENT);
            }
        }
        return new Superblock(generation, new UUID(b.getLong(32), b.getLong(40)), space, roots);
    }
}
