package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone's persistent metadata: the clone info block and the bitset of hydrated regions, under
 * the superblock's {@link Root.Type#CLONE} root, changed by transactions of a
 * {@link TransactionManager}. The layers: {@link BlockManager} (checksummed blocks) →
 * {@link TransactionManager} (shadowing, superblock last) → {@link BlockArray} and
 * {@link PersistentBitset} → this.
 *
 * <p>{@link #durable(long)} answers from the durable view: a region is durable once the commit
 * that carried its bit has flushed its superblock, never earlier. Commits are run by one thread
 * at a time (the caller serializes them); the durable view may be read from any thread.
 */
public final class CloneStore {
    private static final Logger LOG = LoggerFactory.getLogger(CloneStore.class);
    private final TransactionManager tm;
    private final CloneInfo info;
    private final BlockRef infoRef;
    private final PersistentBitset bitset;

    private CloneStore(TransactionManager tm, CloneInfo info, BlockRef infoRef, PersistentBitset bitset) {
        this.tm = tm;
        this.info = info;
        this.infoRef = infoRef;
        this.bitset = bitset;
    }

    /**
     * Bytes of metadata device a clone needs: the superblock slots, plus room for every other
     * block twice (a commit may shadow all of them while the last commit still holds them).
     */
    public static long bytesNeeded(long regionCount) {
        long live = 1 + BlockArray.blocks(PersistentBitset.blocksFor(regionCount));
        return Math.multiplyExact(2 + 2 * live, BlockManager.BLOCK_SIZE);
    }

    /** Whether the device has never held metadata: both superblock slots are zero. */
    public static boolean isBlank(BlockDevice device) throws IOException {
        BlockManager bm = new BlockManager(device);
        return device.size() < 2L * BlockManager.BLOCK_SIZE
                || (BlockManager.allZero(bm.readRaw(0)) && BlockManager.allZero(bm.readRaw(1)));
    }

    /**
     * Writes new metadata for a clone on a blank device, with {@code hydrated} regions set
     * (null: none). Refuses a device that holds anything: metadata is never formatted over.
     */
    public static CloneStore format(BlockDevice device, CloneInfo info, long[] hydrated) throws IOException {
        if (device.size() < bytesNeeded(info.regionCount())) {
            throw new MetadataException("metadata device of " + device.size() + " bytes is too small; it needs "
                    + bytesNeeded(info.regionCount()));
        }
        if (!isBlank(device)) {
            throw new MetadataException(device.describe() + " already holds metadata; refusing to format over it");
        }
        BlockManager bm = new BlockManager(device);
        BlockRef[] ref = new BlockRef[1];
        PersistentBitset[] bits = new PersistentBitset[1];
        TransactionManager tm = TransactionManager.format(bm, info.uuid(), tx -> {
            ref[0] = writeInfo(tx, info);
            bits[0] = PersistentBitset.create(tx, info.regionCount(), hydrated);
            tx.setRoot(root(ref[0], bits[0]));
        });
        return new CloneStore(tm, info, ref[0], bits[0]);
    }

    private static BlockRef writeInfo(Transaction tx, CloneInfo info) throws IOException {
        ByteBuffer block = BlockManager.allocate();
        info.encode(block);
        return tx.write(tx.shadow(-1), BlockKind.CLONE_INFO, block);
    }

    private static Root root(BlockRef infoRef, PersistentBitset bitset) {
        return new Root(Root.Type.CLONE, bitset.array().leaves(), List.of(infoRef, bitset.array().root()));
    }

    /**
     * Opens existing metadata: exactly what {@link MetadataInspection} finds at most notes in
     * (notes are logged). Format 1 is upgraded to format 2 in place, crash-safely: the new
     * structures go to blocks format 1 does not use, and the format-2 superblock, written last
     * to the slot of the older generation, is the switch; until it is durable, format 1 stands.
     *
     * @throws MetadataException naming the block and check that failed; never silently fixes
     */
    public static CloneStore open(BlockDevice device) throws IOException {
        MetadataInspection inspection = MetadataInspection.of(device);
        for (MetadataInspection.Finding f : inspection.findings()) {
            if (f.severity() == MetadataInspection.Severity.NOTE) {
                LOG.warn("metadata of {}: {}", device.describe(), f);
            } else {
                throw new MetadataException(f.toString());
            }
        }
        if (inspection.clone() == null) {
            throw new MetadataException(device.describe() + ": no clone metadata");
        }
        BlockManager bm = new BlockManager(device);
        if (inspection.formatVersion() == LegacySuperblock.VERSION) {
            return upgrade(bm, inspection);
        }
        TransactionManager tm = TransactionManager.open(bm, inspection.superblock(), inspection.used());
        return new CloneStore(tm, inspection.clone(), inspection.infoRef(),
                PersistentBitset.of(inspection.clone().regionCount(), inspection.words(), inspection.array()));
    }

    private static CloneStore upgrade(BlockManager bm, MetadataInspection inspection) throws IOException {
        CloneInfo info = inspection.clone();
        LegacySuperblock legacy = inspection.legacy();
        long need = bytesNeeded(info.regionCount());
        if (bm.device().size() < need) {
            throw new MetadataException("metadata of format 1 on " + bm.device().describe() + " needs " + need
                    + " bytes to be upgraded to format 2; it has " + bm.device().size());
        }
        Superblock before = new Superblock(legacy.generation(), info.uuid(), bm.blocks(), List.of());
        TransactionManager tm = TransactionManager.open(bm, before, inspection.used());
        Transaction tx = tm.begin();
        BlockRef infoRef = writeInfo(tx, info);
        PersistentBitset bitset = PersistentBitset.create(tx, info.regionCount(), inspection.words());
        tx.setRoot(root(infoRef, bitset));
        for (long location : inspection.used()) {
            tx.retire(location);
        }
        tx.commit();
        LOG.info("metadata of {}: upgraded from format 1 to format 2 in place (generation {} -> {}, {} regions, {} "
                + "hydrated)", bm.device().describe(), legacy.generation(), tx.generation(), info.regionCount(),
                inspection.hydratedRegions());
        return new CloneStore(tm, info, infoRef, bitset);
    }

    public CloneInfo info() {
        return info;
    }

    /** The generation of the durable superblock. */
    public long generation() {
        return tm.durable().generation();
    }

    /** Whether region {@code r} is hydrated in the last durable commit. */
    public boolean durable(long region) {
        return bitset.durable(region);
    }

    /** A copy of the durable bits, 64 regions per word. */
    public long[] durableWords() {
        return bitset.durableWords();
    }

    /** Superblocks written since this store was opened. */
    public long commits() {
        return tm.superblockWrites();
    }

    /** Blocks the durable state uses (superblock slots included), for status and tests. */
    public long blocksInUse() {
        return tm.blocksInUse();
    }

    /**
     * Commits {@code changes} (regions to mark hydrated) in one transaction. The caller has made
     * their data durable first. Returns once the superblock is durable; the durable view then
     * shows them. With nothing new, nothing is written.
     *
     * @return whether a superblock was written
     */
    public boolean commit(PersistentBitset.Changes changes) throws IOException {
        Transaction tx = tm.begin();
        if (!bitset.write(tx, changes)) {
            tx.abandon();
            return false;
        }
        bitset.array().writeIndex(tx);
        tx.setRoot(root(infoRef, bitset));
        tx.commit();
        bitset.published(changes);
        return true;
    }
}
