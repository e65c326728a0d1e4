package io.clonetarget.storage.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * A persistent array of {@code leaves} data blocks of one kind, found through a radix tree of
 * index blocks: the building block of the metadata structures (the clone's bitset; snapshot
 * chunk maps and change tracking next). Changing a leaf in a transaction shadows it and the index
 * blocks above it; the new root goes into the superblock with the transaction.
 *
 * <pre>
 * index block payload (after the 32-byte header)
 *     32    2  level: 1 when the children are leaves, more above
 *     34    2  reserved, zero
 *     36    4  children in this block (1 to 253)
 *     40 16×n  children: location and generation, 8 bytes each
 * </pre>
 *
 * With {@code leaves == 1} the root is the leaf itself (depth 0); otherwise the depth is the
 * smallest {@code d} with {@code 253^d >= leaves}. Child {@code j} of index block {@code i} at
 * level {@code L} is block {@code i * 253 + j} of level {@code L - 1}.
 *
 * <p>In core: the reference of every block of the tree (16 bytes per leaf). Not thread-safe: its
 * owner runs the transactions.
 */
public final class BlockArray {
    static final int FANOUT = (BlockManager.BLOCK_SIZE - 40) / BlockRef.BYTES;
    private final BlockKind leafKind;
    private final long leaves;
    private final BlockRef[][] refs;
    private final BitSet[] dirty;

    private BlockArray(BlockKind leafKind, long leaves) {
        if (leaves < 1) {
            throw new IllegalArgumentException("an array of " + leaves + " leaves");
        }
        this.leafKind = leafKind;
        this.leaves = leaves;
        int depth = depth(leaves);
        this.refs = new BlockRef[depth + 1][];
        this.dirty = new BitSet[depth + 1];
        for (int level = 0; level <= depth; level++) {
            refs[level] = new BlockRef[Math.toIntExact(count(leaves, level))];
            dirty[level] = new BitSet();
        }
    }

    /** Levels of index blocks above the leaves. */
    static int depth(long leaves) {
        int d = 0;
        for (long span = 1; span < leaves; span = Math.multiplyExact(span, FANOUT)) {
            d++;
        }
        return d;
    }

    /** Blocks at {@code level} (0: the leaves). */
    static long count(long leaves, int level) {
        long n = leaves;
        for (int i = 0; i < level; i++) {
            n = (n + FANOUT - 1) / FANOUT;
        }
        return n;
    }

    /** Blocks of the whole tree: the leaves and every index block. */
    public static long blocks(long leaves) {
        long n = 0;
        for (int level = 0; level <= depth(leaves); level++) {
            n += count(leaves, level);
        }
        return n;
    }

    public long leaves() {
        return leaves;
    }

    public int depth() {
        return refs.length - 1;
    }

    public BlockRef root() {
        return refs[depth()][0];
    }

    public BlockRef leaf(long index) {
        return refs[0][Math.toIntExact(index)];
    }

    /** What fills the payload of a new leaf. */
    @FunctionalInterface
    public interface LeafFiller {
        void fill(long index, ByteBuffer block);
    }

    /** Writes a new array in {@code tx}: every leaf filled by {@code filler}, then the index blocks. */
    public static BlockArray create(Transaction tx, BlockKind leafKind, long leaves, LeafFiller filler)
            throws IOException {
        BlockArray a = new BlockArray(leafKind, leaves);
        ByteBuffer block = BlockManager.allocate();
        for (long i = 0; i < leaves; i++) {
            zero(block);
            filler.fill(i, block);
            a.writeLeaf(tx, i, block);
        }
        a.writeIndex(tx);
        return a;
    }

    /** Writes leaf {@code index} anew in {@code tx} (shadowing it); the index follows at {@link #writeIndex}. */
    public BlockRef writeLeaf(Transaction tx, long index, ByteBuffer block) throws IOException {
        int i = Math.toIntExact(index);
        BlockRef old = refs[0][i];
        long location = tx.shadow(old == null ? -1 : old.location());
        refs[0][i] = tx.write(location, leafKind, block);
        for (int level = 1; level <= depth(); level++) {
            i /= FANOUT;
            dirty[level].set(i);
        }
        return refs[0][Math.toIntExact(index)];
    }

    /** Rewrites the index blocks above leaves changed in {@code tx}, bottom up; returns the root. */
    public BlockRef writeIndex(Transaction tx) throws IOException {
        ByteBuffer block = BlockManager.allocate();
        for (int level = 1; level <= depth(); level++) {
            BitSet d = dirty[level];
            for (int i = d.nextSetBit(0); i >= 0; i = d.nextSetBit(i + 1)) {
                zero(block);
                int first = i * FANOUT;
                int n = Math.min(FANOUT, refs[level - 1].length - first);
                block.putShort(32, (short) level);
                block.putInt(36, n);
                for (int j = 0; j < n; j++) {
                    BlockRef child = refs[level - 1][first + j];
                    block.putLong(40 + j * BlockRef.BYTES, child.location());
                    block.putLong(48 + j * BlockRef.BYTES, child.generation());
                }
                BlockRef old = refs[level][i];
                long location = tx.shadow(old == null ? -1 : old.location());
                refs[level][i] = tx.write(location, BlockKind.INDEX, block);
            }
            d.clear();
        }
        return root();
    }

    /** Told about each block of an array as it is read. */
    public interface Visitor {
        /** A leaf that passed the block checks. */
        void leaf(long index, BlockRef ref, ByteBuffer block) throws MetadataException;

        /** Leaves {@code [first, last]} are unknown: the block at {@code ref} failed {@code e.check()}. */
        void damaged(String where, long first, long last, MetadataException e);

        /** Every block the array uses, as it is found. */
        void uses(long location);
    }

    /**
     * Reads the whole array from {@code root}, validating every block; damage is reported to the
     * visitor, which decides whether it is fatal. Returns the array with every reference that
     * could be read (damaged subtrees keep null references, which only an inspection sees).
     */
    public static BlockArray load(BlockManager blocks, BlockKind leafKind, BlockRef root, long leaves,
                                  Visitor visitor) throws IOException {
        BlockArray a = new BlockArray(leafKind, leaves);
        a.refs[a.depth()][0] = root;
        a.loadNode(blocks, a.depth(), 0, root, visitor);
        return a;
    }

    private void loadNode(BlockManager blocks, int level, int index, BlockRef ref, Visitor visitor)
            throws IOException {
        long first = (long) index;
        long last = (long) index;
        for (int l = 0; l < level; l++) {
            first *= FANOUT;
            last = last * FANOUT + FANOUT - 1;
        }
        last = Math.min(last, leaves - 1);
        String where = (level == 0 ? leafKind.label() + " " + index : "index block " + index + " of level " + level)
                + " at " + ref;
        visitor.uses(ref.location());
        ByteBuffer block;
        try {
            block = blocks.read(ref, level == 0 ? leafKind : BlockKind.INDEX);
        } catch (MetadataException e) {
            visitor.damaged(where, first, last, e);
            return;
        }
        if (level == 0) {
            visitor.leaf(index, ref, block);
            return;
        }
        int expected = Math.min(FANOUT, refs[level - 1].length - index * FANOUT);
        int n = block.getInt(36);
        if ((block.getShort(32) & 0xffff) != level || n != expected) {
            visitor.damaged(where, first, last, new MetadataException(where, "says level " + block.getShort(32)
                    + " with " + n + " children, expected level " + level + " with " + expected, BlockCheck.CONTENT));
            return;
        }
        for (int j = 0; j < n; j++) {
            long location = block.getLong(40 + j * BlockRef.BYTES);
            long generation = block.getLong(48 + j * BlockRef.BYTES);
            int child = index * FANOUT + j;
            if (location < 2 || location >= blocks.blocks() || generation < 1 || generation > ref.generation()) {
                long cFirst = child;
                long cLast = child;
                for (int l = 0; l < level - 1; l++) {
                    cFirst *= FANOUT;
                    cLast = cLast * FANOUT + FANOUT - 1;
                }
                visitor.damaged(where + ", child " + j, cFirst, Math.min(cLast, leaves - 1), new MetadataException(
                        where, "child " + j + " points to block " + location + " of generation " + generation,
                        BlockCheck.CONTENT));
                continue;
            }
            BlockRef c = new BlockRef(location, generation);
            refs[level - 1][child] = c;
            loadNode(blocks, level - 1, child, c, visitor);
        }
    }

    static void zero(ByteBuffer block) {
        block.clear();
        for (int p = 0; p < BlockManager.BLOCK_SIZE; p += 8) {
            block.putLong(p, 0);
        }
    }
}
