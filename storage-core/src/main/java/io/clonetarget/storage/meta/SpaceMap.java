package io.clonetarget.storage.meta;

/**
 * Which metadata blocks are in use, in core: by the durable state (what the last durable
 * superblock reaches) and by the state a transaction is building. A block is free for a new
 * write only when neither uses it, which is what makes shadowing safe: nothing the durable
 * superblock reaches is ever overwritten, and a block the transaction stopped using becomes free
 * only once the next superblock is durable.
 *
 * <p>Not persisted: opening rebuilds it from the blocks the roots reach. Blocks 0 and 1 (the
 * superblock slots) are never allocated. Not thread-safe: the transaction's owner uses it.
 */
final class SpaceMap {
    private final long blocks;
    private final long[] durable;
    private final long[] pending;
    private long cursor = 2;

    SpaceMap(long blocks) {
        if (blocks < 2) {
            throw new IllegalArgumentException(blocks + " blocks");
        }
        this.blocks = blocks;
        int words = Math.toIntExact((blocks + 63) / 64);
        this.durable = new long[words];
        this.pending = new long[words];
        use(0);
        use(1);
        committed();
    }

    long blocks() {
        return blocks;
    }

    /** Marks a block used by the state being built (at open: by the durable state, then {@link #committed}). */
    void use(long location) {
        pending[(int) (location >>> 6)] |= 1L << location;
    }

    boolean usedDurably(long location) {
        return (durable[(int) (location >>> 6)] & (1L << location)) != 0;
    }

    boolean usedPending(long location) {
        return (pending[(int) (location >>> 6)] & (1L << location)) != 0;
    }

    /** Whether the transaction made this block (so it may write it again in place). */
    boolean ownedByTransaction(long location) {
        return usedPending(location) && !usedDurably(location);
    }

    /**
     * A block neither state uses, now used by the pending one.
     *
     * @throws MetadataException when there is none
     */
    long allocate() throws MetadataException {
        for (long scanned = 0; scanned < blocks; scanned++) {
            long l = cursor;
            cursor = cursor + 1 >= blocks ? 2 : cursor + 1;
            if (!usedDurably(l) && !usedPending(l)) {
                use(l);
                return l;
            }
        }
        throw new MetadataException("the metadata device is full (" + blocks + " blocks in use or held by the "
                + "last commit)");
    }

    /** The pending state no longer uses this block. */
    void release(long location) {
        pending[(int) (location >>> 6)] &= ~(1L << location);
    }

    /** The pending state became durable. */
    void committed() {
        System.arraycopy(pending, 0, durable, 0, pending.length);
    }

    /** Blocks the durable state uses. */
    long durableCount() {
        long n = 0;
        for (long w : durable) {
            n += Long.bitCount(w);
        }
        return n;
    }
}
