package io.clonetarget.storage.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A bitset in the metadata whose bits are only ever set, changed only by transactions, with a
 * durable view in core.
 *
 * <p>On disk: a {@link BlockArray} of bitset blocks, each holding 508 words of 64 bits (32,512
 * bits); bit {@code j} of word {@code w} of block {@code i} is bit {@code (i * 508 + w) * 64 + j}.
 * Bits past the last one must be zero.
 *
 * <p>In core: the durable words, i.e. the bits as of the last durable commit. {@link #write}
 * puts new bits into a transaction (each changed block shadowed: its durable bits plus the new
 * ones); {@link #published} adds them to the durable view once that transaction's superblock is
 * durable, never before. Reads of the durable view are lock-free from any thread; writes come
 * from the single committer.
 */
public final class PersistentBitset {
    public static final int WORDS_PER_BLOCK = BlockManager.PAYLOAD / 8;
    public static final int BITS_PER_BLOCK = WORDS_PER_BLOCK * 64;

    private final long bits;
    private final AtomicLongArray durable;
    private final BlockArray array;

    private PersistentBitset(long bits, AtomicLongArray durable, BlockArray array) {
        this.bits = bits;
        this.durable = durable;
        this.array = array;
    }

    /** Words for {@code bits} bits. */
    public static int words(long bits) {
        return Math.toIntExact((bits + 63) / 64);
    }

    /** Leaf blocks for {@code bits} bits. */
    public static long blocksFor(long bits) {
        return Math.max(1, (bits + BITS_PER_BLOCK - 1) / BITS_PER_BLOCK);
    }

    /** Writes a new bitset of {@code bits} bits, {@code initial} set (null: all clear), in {@code tx}. */
    public static PersistentBitset create(Transaction tx, long bits, long[] initial) throws IOException {
        int words = words(bits);
        long[] start = initial == null ? new long[words] : initial.clone();
        if (start.length != words) {
            throw new IllegalArgumentException(start.length + " words for " + bits + " bits");
        }
        BlockArray array = BlockArray.create(tx, BlockKind.BITSET, blocksFor(bits), (leaf, block) -> {
            int first = Math.toIntExact(leaf * WORDS_PER_BLOCK);
            for (int w = 0; w < WORDS_PER_BLOCK && first + w < words; w++) {
                block.putLong(BlockManager.HEADER + 8 * w, start[first + w]);
            }
        });
        return new PersistentBitset(bits, new AtomicLongArray(start), array);
    }

    /**
     * Decodes bitset block {@code leaf} into {@code words}.
     *
     * @throws MetadataException when bits past the last one are set
     */
    static void decodeInto(ByteBuffer block, long leaf, long[] words, long bits) throws MetadataException {
        int first = Math.toIntExact(leaf * WORDS_PER_BLOCK);
        for (int w = 0; w < WORDS_PER_BLOCK; w++) {
            long value = block.getLong(BlockManager.HEADER + 8 * w);
            int word = first + w;
            long valid = word >= words.length ? 0 : word < words.length - 1 || bits % 64 == 0 ? -1L
                    : (1L << (bits % 64)) - 1;
            if ((value & ~valid) != 0) {
                throw new MetadataException("bitset block " + leaf + " has bits set past the last one ("
                        + bits + ")", BlockCheck.CONTENT);
            }
            if (word < words.length) {
                words[word] = value;
            }
        }
    }

    /** The bitset over an array already read, with these durable words. */
    static PersistentBitset of(long bits, long[] words, BlockArray array) {
        return new PersistentBitset(bits, new AtomicLongArray(words), array);
    }

    public long bits() {
        return bits;
    }

    public BlockArray array() {
        return array;
    }

    /** Whether bit {@code i} is set in the durable view. */
    public boolean durable(long i) {
        return (durable.get((int) (i >>> 6)) & (1L << i)) != 0;
    }

    /** A copy of the durable words. */
    public long[] durableWords() {
        long[] copy = new long[durable.length()];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = durable.get(i);
        }
        return copy;
    }

    /** New bits for a commit: word index and the bits to add, in ascending word order. */
    public interface Changes {
        void forEach(WordVisitor visitor) throws IOException;
    }

    /** One changed word. */
    @FunctionalInterface
    public interface WordVisitor {
        void word(int index, long bits) throws IOException;
    }

    /**
     * Writes every block with new bits into {@code tx}: its durable words plus {@code changes}.
     * The caller then writes the array's index and sets the root.
     *
     * @return whether any block changed (nothing new: nothing written)
     */
    public boolean write(Transaction tx, Changes changes) throws IOException {
        ByteBuffer block = BlockManager.allocate();
        long[] current = {-1};
        boolean[] changed = {false};
        changes.forEach((word, add) -> {
            if (word < 0 || word >= durable.length()) {
                throw new IndexOutOfBoundsException("word " + word + " of " + durable.length());
            }
            if ((durable.get(word) | add) == durable.get(word)) {
                return;
            }
            long leaf = word / WORDS_PER_BLOCK;
            if (leaf < current[0]) {
                throw new IllegalArgumentException("changes out of order: word " + word + " after block " + current[0]);
            }
            if (leaf != current[0]) {
                if (current[0] >= 0) {
                    array.writeLeaf(tx, current[0], block);
                }
                current[0] = leaf;
                fill(block, leaf);
            }
            int at = BlockManager.HEADER + 8 * (word - Math.toIntExact(leaf * WORDS_PER_BLOCK));
            block.putLong(at, block.getLong(at) | add);
            changed[0] = true;
        });
        if (current[0] >= 0) {
            array.writeLeaf(tx, current[0], block);
        }
        return changed[0];
    }

    private void fill(ByteBuffer block, long leaf) {
        BlockArray.zero(block);
        int first = Math.toIntExact(leaf * WORDS_PER_BLOCK);
        for (int w = 0; w < WORDS_PER_BLOCK && first + w < durable.length(); w++) {
            block.putLong(BlockManager.HEADER + 8 * w, durable.get(first + w));
        }
    }

    /** The transaction that {@link #write} wrote {@code changes} into is durable: show them. */
    public void published(Changes changes) throws IOException {
        changes.forEach((word, add) -> durable.getAndUpdate(word, v -> v | add));
    }
}
