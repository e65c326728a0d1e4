package io.clonetarget.storage.meta;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One transaction of a {@link TransactionManager}: new blocks are written to locations the
 * durable state does not use (shadowing), roots are replaced, and {@link #commit} makes it all
 * durable at once. At most one is open at a time; its owner's thread uses it.
 */
public final class Transaction {
    private final TransactionManager manager;
    private final long generation;
    private Superblock next;
    private boolean done;
    private boolean touched;

    Transaction(TransactionManager manager, Superblock durable) {
        this.manager = manager;
        this.generation = durable.generation() + 1;
        this.next = new Superblock(generation, durable.uuid(), durable.spaceBlocks(), durable.roots());
    }

    /** The generation this transaction writes (the durable one plus one). */
    public long generation() {
        return generation;
    }

    /**
     * Where to write a new version of the block now at {@code current} (or a new block, for -1):
     * the same place when this transaction made it, else a fresh one, the old one being released
     * once this transaction is durable.
     */
    public long shadow(long current) throws MetadataException {
        check();
        touched = true;
        SpaceMap space = manager.space();
        if (current >= 0 && space.ownedByTransaction(current)) {
            return current;
        }
        long fresh = space.allocate();
        if (current >= 0) {
            space.release(current);
        }
        return fresh;
    }

    /**
     * The state this transaction builds no longer uses {@code location} (a block of an older
     * format being replaced): it becomes free once this transaction is durable.
     */
    public void retire(long location) {
        check();
        touched = true;
        manager.space().release(location);
    }

    /** Writes a block at a location this transaction holds, as generation {@link #generation()}. */
    public BlockRef write(long location, BlockKind kind, ByteBuffer block) throws IOException {
        check();
        if (!manager.space().ownedByTransaction(location)) {
            throw new IllegalStateException("block " + location + " is not this transaction's to write");
        }
        manager.blocks().write(location, kind, generation, block);
        return new BlockRef(location, generation);
    }

    /** Sets (adds or replaces) the root of its type in the superblock this transaction commits. */
    public void setRoot(Root root) {
        check();
        next = next.with(generation, root);
    }

    /**
     * Makes the transaction durable: flush its blocks, write the superblock to the other slot,
     * flush again; only then does {@link TransactionManager#durable()} change. On failure the
     * last durable state stands and the manager takes no more transactions.
     */
    public void commit() throws IOException {
        check();
        done = true;
        manager.commit(next);
    }

    /**
     * Ends a transaction that wrote nothing, without a commit.
     *
     * @throws IllegalStateException when it wrote or allocated something
     */
    public void abandon() {
        check();
        if (touched) {
            throw new IllegalStateException("transaction " + generation + " changed blocks; commit it");
        }
        done = true;
        manager.abandoned();
    }

    private void check() {
        if (done) {
            throw new IllegalStateException("transaction " + generation + " is finished");
        }
    }
}
