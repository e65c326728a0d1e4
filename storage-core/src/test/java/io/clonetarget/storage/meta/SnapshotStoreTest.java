package io.clonetarget.storage.meta;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Snapshot metadata that passes every block check but describes absurd sizes is refused before it is believed. */
class SnapshotStoreTest {
    @Test
    void aChecksumValidInfoBlockWithAbsurdCapacitiesIsRefusedWithoutAllocatingThem() throws Exception {
        SnapshotStore.Info info = new SnapshotStore.Info(UUID.randomUUID(), 1L << 20, 16384, 8, 64, 1, UUID.randomUUID());
        MemoryBlockDevice device = new MemoryBlockDevice(Math.toIntExact(SnapshotStore.bytesNeeded(8, 64)), 4096);
        SnapshotStore.format(device, info);
        BlockManager bm = new BlockManager(device);
        Superblock sb = SnapshotStore.current(bm, new ArrayList<>());
        BlockRef infoRef = sb.root(Root.Type.SNAPSHOTS).refs().getFirst();
        ByteBuffer block = bm.read(infoRef, BlockKind.SNAPSHOT_INFO);
        // a billion snapshot table entries: the table is allocated whole at open (8 GiB of references if
        // believed); the root holds no count for the table, so only this check stands in the way
        block.putInt(60, 1 << 30);
        bm.write(infoRef.location(), BlockKind.SNAPSHOT_INFO, infoRef.generation(), block); // resealed: checksum valid
        SnapshotStore.Inspection i = SnapshotStore.inspect(device);
        assertFalse(i.opens());
        assertTrue(i.problems().getFirst().contains("capacities of 1073741824 snapshots and 64 slots"),
                i.problems().toString());
        MetadataException e = assertThrows(MetadataException.class, () -> SnapshotStore.open(device));
        assertTrue(e.getMessage().contains("snapshot info at"), e.getMessage());
    }

    @Test
    void aChainOfSnapshotsOfSnapshotsAndAPrivateCopyWithoutItsSnapshotAreNamed() throws Exception {
        SnapshotStore.Info info = new SnapshotStore.Info(UUID.randomUUID(), 1L << 20, 16384, 8, 64, 1, UUID.randomUUID());
        MemoryBlockDevice device = new MemoryBlockDevice(Math.toIntExact(SnapshotStore.bytesNeeded(8, 64)), 4096);
        SnapshotStore store = SnapshotStore.format(device, info);
        java.util.TreeMap<Integer, SnapshotStore.Entry> table = new java.util.TreeMap<>();
        table.put(0, new SnapshotStore.Entry(1, "w", 0, SnapshotStore.State.VALID, "", 0, false, 0));
        table.put(1, new SnapshotStore.Entry(2, "s", 0, SnapshotStore.State.VALID, "", 0, false, 1));
        java.util.TreeMap<Long, SnapshotStore.Exception> slots = new java.util.TreeMap<>();
        slots.put(0L, new SnapshotStore.Exception(3, 2, 2, true));
        store.commit(info.withNextId(4), table, slots);
        assertTrue(SnapshotStore.inspect(device).opens(), "a snapshot of a snapshot, holding a copy: consistent");

        table.clear();
        table.put(2, new SnapshotStore.Entry(3, "t", 0, SnapshotStore.State.VALID, "", 0, false, 2));
        slots.clear();
        slots.put(1L, new SnapshotStore.Exception(5, 9, 9, true));
        store.commit(info.withNextId(10), table, slots);
        SnapshotStore.Inspection i = SnapshotStore.inspect(device);
        assertFalse(i.opens());
        assertTrue(i.problems().contains("snapshot table: snapshot t (id 3) is of snapshot s (id 2), itself a snapshot "
                + "of a snapshot"), i.problems().toString());
        assertTrue(i.problems().contains("exception of slot 1: a private copy of chunk 5 for snapshot id 9, which the "
                + "snapshot table does not have"), i.problems().toString());
    }
}
