package io.clonetarget.storage.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;

/**
 * Transactions over a {@link BlockManager}: shadowing and a two-phase commit with the superblock
 * written last.
 *
 * <p>A {@link Transaction} writes new versions of blocks only to locations that the durable
 * state does not use ({@link SpaceMap}), so whatever happens before its superblock is durable,
 * the previous commit is intact. Commit: (1) flush the blocks, (2) write the superblock of the
 * next generation to the slot that does not hold the current one, (3) flush. The durable view,
 * {@link #durable()}, changes only after that last flush has returned: code that asks whether
 * something is durable never hears yes for a commit still in flight.
 *
 * <p>Thread-safety: {@link #durable()} may be called from any thread; transactions are run by one
 * thread at a time (the owner serializes them, see {@link GroupCommitter}).
 */
public final class TransactionManager {
    private final BlockManager blocks;
    private final SpaceMap space;
    private volatile Superblock durable;
    private Transaction open;
    private volatile String failure;
    private volatile long superblockWrites;

    private TransactionManager(BlockManager blocks, SpaceMap space, Superblock durable) {
        this.blocks = blocks;
        this.space = space;
        this.durable = durable;
    }

    /**
     * Starts a new metadata store on a blank device: the first transaction (generation 1) is
     * handed to {@code init}, which writes the first structures and sets their roots; then it
     * is committed.
     */
    public static TransactionManager format(BlockManager blocks, UUID uuid, Initializer init) throws IOException {
        long n = blocks.blocks();
        SpaceMap space = new SpaceMap(n);
        TransactionManager tm = new TransactionManager(blocks, space, new Superblock(0, uuid, n, List.of()));
        Transaction tx = tm.begin();
        init.accept(tx);
        tx.commit();
        tm.superblockWrites = 0; // counted from here: the commits of the store's life
        return tm;
    }

    /** What {@link #format} runs in the first transaction. */
    @FunctionalInterface
    public interface Initializer {
        void accept(Transaction tx) throws IOException;
    }

    /**
     * Continues from a durable superblock whose structures use exactly {@code used} (every block
     * the roots reach; found by the structures as they load).
     */
    public static TransactionManager open(BlockManager blocks, Superblock current, Iterable<Long> used)
            throws MetadataException {
        long n = Math.min(blocks.blocks(), current.spaceBlocks());
        SpaceMap space = new SpaceMap(n);
        for (long location : used) {
            if (location < 2 || location >= n) {
                throw new MetadataException("block " + location + " is outside the metadata space of " + n
                        + " blocks", BlockCheck.LOCATION);
            }
            space.use(location);
        }
        space.committed();
        return new TransactionManager(blocks, space, current);
    }

    BlockManager blocks() {
        return blocks;
    }

    SpaceMap space() {
        return space;
    }

    /** The last superblock that is durable. */
    public Superblock durable() {
        return durable;
    }

    /** Superblocks this manager has written. */
    public long superblockWrites() {
        return superblockWrites;
    }

    /** Blocks the durable state uses, superblock slots included. */
    public long blocksInUse() {
        return space.durableCount();
    }

    /** Why the manager takes no more transactions, or null. */
    public String failure() {
        return failure;
    }

    /**
     * Opens the next transaction.
     *
     * @throws MetadataException after a failed commit (nothing more can be committed)
     * @throws IllegalStateException while another transaction is open
     */
    public Transaction begin() throws MetadataException {
        if (failure != null) {
            throw new MetadataException("metadata commits have stopped after a failure: " + failure);
        }
        if (open != null) {
            throw new IllegalStateException("transaction " + open.generation() + " is still open");
        }
        open = new Transaction(this, durable);
        return open;
    }

    void abandoned() {
        open = null;
    }

    void commit(Superblock next) throws IOException {
        try {
            blocks.flush();
            ByteBuffer sb = next.encode();
            BlockManager.seal(sb, BlockKind.SUPERBLOCK, next.slot(), next.generation(), BlockManager.VERSION);
            blocks.device().write((long) next.slot() * BlockManager.BLOCK_SIZE, sb, false);
            blocks.flush();
        } catch (IOException | RuntimeException e) {
            failure = e.getMessage();
            throw e;
        } finally {
            open = null;
        }
        space.committed();
        superblockWrites++;
        durable = next;
    }
}
