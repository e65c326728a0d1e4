package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.UUID;

/**
 * A volume's snapshot metadata: the snapshot info block, the snapshot table and the exception
 * table, under the superblock's {@link Root.Type#SNAPSHOTS} root, changed only by transactions
 * (checksummed blocks, shadowing, superblock last).
 *
 * <p>An <em>exception</em> says that difference-storage slot {@code s} holds the data chunk
 * {@code c} had for the snapshots whose ids lie in {@code [from, to]} (shared), or the data of
 * snapshot {@code from == to} alone after it was written (private). The table is indexed by slot,
 * so one stored copy serves every snapshot it covers.
 *
 * <pre>
 * snapshot info block payload (after the 32-byte header)
 *     32   16  UUID of the store
 *     48    8  volume size, bytes
 *     56    4  chunk size, bytes (a power of two, 4 KiB to 1 MiB)
 *     60    4  snapshot table capacity (entries)
 *     64    8  exception table capacity (slots)
 *     72    8  next snapshot id (ids are never reused)
 *     80   16  change-tracking id: changes whenever tracking may have been lost
 *
 * snapshot table block payload: 31 entries of 128 bytes
 *      0    8  id (0: the entry is free)
 *      8    8  creation time, milliseconds since the epoch
 *     16    1  state: 1 valid, 2 failed
 *     17    1  reserved, zero
 *     18    2  name length N (1 to 64)
 *     20    2  group name length G (0 to 32)
 *     22    2  volumes in the group (0 without a group)
 *     24    8  reserved, zero
 *     32   64  name, UTF-8
 *     96   32  group name, UTF-8
 *
 * exception block payload: 169 entries of 24 bytes
 *      0    4  chunk
 *      4    4  flags: bit 0 in use, bit 1 private (the data of a written snapshot)
 *      8    8  from: the first snapshot id it serves
 *     16    8  to: the last snapshot id it serves
 * </pre>
 *
 * <p>Not thread-safe: its owner serializes commits and reads.
 */
public final class SnapshotStore {
    public static final int ENTRY_BYTES = 128;
    public static final int ENTRIES_PER_BLOCK = BlockManager.PAYLOAD / ENTRY_BYTES;
    public static final int EXCEPTION_BYTES = 24;
    public static final int EXCEPTIONS_PER_BLOCK = BlockManager.PAYLOAD / EXCEPTION_BYTES;
    public static final int MAX_NAME = 64;
    public static final int MAX_GROUP = 32;
    /** The most snapshot table entries a store may have (its table is read whole at open). */
    public static final int MAX_TABLE = 1 << 16;
    /** The most slots (difference-storage chunks) a store may have: 2^28 (16 TiB of 64 KiB chunks). */
    public static final long MAX_SLOTS = 1L << 28;
    private static final int USED = 1;
    private static final int PRIVATE = 2;

    /** What the store is. */
    public record Info(UUID uuid, long volumeSize, int chunkSize, int tableCapacity, long slotCapacity, long nextId,
                       UUID trackingId) {
        public Info {
            if (Integer.bitCount(chunkSize) != 1 || chunkSize < 4096 || chunkSize > (1 << 20)) {
                throw new IllegalArgumentException("chunk size " + chunkSize + " is not a power of two from 4K to 1M");
            }
            if (volumeSize <= 0 || tableCapacity < 1 || slotCapacity < 1 || nextId < 1) {
                throw new IllegalArgumentException("snapshot store of volume size " + volumeSize + ", " + tableCapacity
                        + " entries, " + slotCapacity + " slots, next id " + nextId);
            }
            if (chunks(volumeSize, chunkSize) > 0xffff_ffffL) {
                throw new IllegalArgumentException("a volume of " + volumeSize + " bytes has too many chunks of "
                        + chunkSize);
            }
        }

        public long chunks() {
            return chunks(volumeSize, chunkSize);
        }

        public Info withNextId(long next) {
            return new Info(uuid, volumeSize, chunkSize, tableCapacity, slotCapacity, next, trackingId);
        }

        static long chunks(long size, long chunk) {
            return size / chunk + (size % chunk == 0 ? 0 : 1);
        }
    }

    /** A snapshot's entry. */
    public enum State { VALID, FAILED }

    /**
     * One snapshot as the table records it. {@code groupPending}: a member of a group snapshot
     * whose other members may not be durable yet (the creation is not finished); it is marked
     * complete once every member is committed. {@code base}: 0 for a snapshot of the volume; for
     * a snapshot of snapshot {@code base}'s image, that snapshot's id (always lower).
     */
    public record Entry(long id, String name, long createdMillis, State state, String group, int groupSize,
                        boolean groupPending, long base) {
        public Entry {
            group = group == null ? "" : group;
            if (id < 1 || name == null || name.isEmpty() || utf8(name) > MAX_NAME || utf8(group) > MAX_GROUP
                    || groupSize < 0 || groupSize > 0xffff || groupPending && groupSize == 0 || base < 0 || base >= id) {
                throw new IllegalArgumentException("snapshot entry " + id + " '" + name + "' group '" + group + "'"
                        + (groupPending ? " (pending)" : "") + (base != 0 ? " of " + base : ""));
            }
        }

        public Entry(long id, String name, long createdMillis, State state, String group, int groupSize,
                     boolean groupPending) {
            this(id, name, createdMillis, state, group, groupSize, groupPending, 0);
        }

        public Entry failed() {
            return new Entry(id, name, createdMillis, State.FAILED, group, groupSize, groupPending, base);
        }

        /** The entry once every member of its group is durable. */
        public Entry groupComplete() {
            return new Entry(id, name, createdMillis, state, group, groupSize, false, base);
        }
    }

    /** One exception: slot contents for chunk {@code chunk} as snapshots {@code [from, to]} see it. */
    public record Exception(long chunk, long from, long to, boolean privateCopy) {
        public Exception {
            if (chunk < 0 || chunk > 0xffff_ffffL || from < 1 || to < from || privateCopy && from != to) {
                throw new IllegalArgumentException("exception chunk " + chunk + " [" + from + ", " + to + "]"
                        + (privateCopy ? " private" : ""));
            }
        }

        public boolean covers(long id) {
            return from <= id && id <= to;
        }
    }

    private final TransactionManager tm;
    private volatile Info info;
    private BlockRef infoRef;
    private final BlockArray table;
    private final BlockArray exceptions;
    private final Entry[] entries;
    private final Exception[] slots;

    private SnapshotStore(TransactionManager tm, Info info, BlockRef infoRef, BlockArray table, BlockArray exceptions,
                          Entry[] entries, Exception[] slots) {
        this.tm = tm;
        this.info = info;
        this.infoRef = infoRef;
        this.table = table;
        this.exceptions = exceptions;
        this.entries = entries;
        this.slots = slots;
    }

    static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    static long tableLeaves(int capacity) {
        return (capacity + ENTRIES_PER_BLOCK - 1) / ENTRIES_PER_BLOCK;
    }

    static long exceptionLeaves(long capacity) {
        return (capacity + EXCEPTIONS_PER_BLOCK - 1) / EXCEPTIONS_PER_BLOCK;
    }

    /** Bytes of metadata device the store needs: the slots, plus every other block twice (shadowing). */
    public static long bytesNeeded(int tableCapacity, long slotCapacity) {
        long live = 1 + BlockArray.blocks(tableLeaves(tableCapacity)) + BlockArray.blocks(exceptionLeaves(slotCapacity));
        return Math.multiplyExact(2 + 2 * live, BlockManager.BLOCK_SIZE);
    }

    /** Writes a new, empty store on a blank device; refuses a device that holds anything. */
    public static SnapshotStore format(BlockDevice device, Info info) throws IOException {
        long need = bytesNeeded(info.tableCapacity(), info.slotCapacity());
        if (device.size() < need) {
            throw new MetadataException("snapshot metadata device of " + device.size() + " bytes is too small; it needs "
                    + need);
        }
        if (!CloneStore.isBlank(device)) {
            throw new MetadataException(device.describe() + " already holds metadata; refusing to format over it");
        }
        BlockManager bm = new BlockManager(device);
        Object[] made = new Object[3];
        TransactionManager tm = TransactionManager.format(bm, info.uuid(), tx -> {
            made[0] = writeInfo(tx, -1, info);
            made[1] = BlockArray.create(tx, BlockKind.SNAPSHOT_TABLE, tableLeaves(info.tableCapacity()), (i, b) -> { });
            made[2] = BlockArray.create(tx, BlockKind.EXCEPTIONS, exceptionLeaves(info.slotCapacity()), (i, b) -> { });
            tx.setRoot(root((BlockRef) made[0], (BlockArray) made[1], (BlockArray) made[2]));
        });
        return new SnapshotStore(tm, info, (BlockRef) made[0], (BlockArray) made[1], (BlockArray) made[2],
                new Entry[info.tableCapacity()], new Exception[Math.toIntExact(info.slotCapacity())]);
    }

    private static BlockRef writeInfo(Transaction tx, long current, Info info) throws IOException {
        ByteBuffer b = BlockManager.allocate();
        b.putLong(32, info.uuid().getMostSignificantBits()).putLong(40, info.uuid().getLeastSignificantBits());
        b.putLong(48, info.volumeSize());
        b.putInt(56, info.chunkSize());
        b.putInt(60, info.tableCapacity());
        b.putLong(64, info.slotCapacity());
        b.putLong(72, info.nextId());
        b.putLong(80, info.trackingId().getMostSignificantBits()).putLong(88, info.trackingId().getLeastSignificantBits());
        return tx.write(tx.shadow(current), BlockKind.SNAPSHOT_INFO, b);
    }

    private static Root root(BlockRef info, BlockArray table, BlockArray exceptions) {
        return new Root(Root.Type.SNAPSHOTS, exceptions.leaves(), List.of(info, table.root(), exceptions.root()));
    }

    /** What reading a store found: the store when it opens, and every problem, each naming its block. */
    public record Inspection(SnapshotStore store, long generation, Info info, List<Entry> entries, long slotsInUse,
                             List<String> problems) {
        public boolean opens() {
            return store != null && problems.isEmpty();
        }
    }

    /**
     * Opens existing snapshot metadata; every block is validated and every cross-reference
     * checked (an exception for a chunk past the end, a range beyond the next id, two entries with
     * one name).
     *
     * @throws MetadataException naming the first problem; nothing is ever silently fixed
     */
    public static SnapshotStore open(BlockDevice device) throws IOException {
        Inspection i = inspect(device);
        if (!i.opens()) {
            throw new MetadataException(device.describe() + ": " + (i.problems().isEmpty() ? "no snapshot metadata"
                    : i.problems().getFirst()));
        }
        return i.store();
    }

    /** Reads and checks everything without trusting any of it (what {@code metadata check} prints). */
    public static Inspection inspect(BlockDevice device) throws IOException {
        List<String> problems = new ArrayList<>();
        BlockManager bm = new BlockManager(device);
        Superblock sb = current(bm, problems);
        if (sb == null) {
            return new Inspection(null, 0, null, List.of(), 0, problems);
        }
        Root root = sb.root(Root.Type.SNAPSHOTS);
        if (root == null || root.refs().size() != 3) {
            problems.add("superblock (generation " + sb.generation() + "): no snapshot root");
            return new Inspection(null, sb.generation(), null, List.of(), 0, problems);
        }
        List<Long> used = new ArrayList<>();
        BlockRef infoRef = root.refs().get(0);
        used.add(infoRef.location());
        Info info;
        try {
            info = decodeInfo(bm.read(infoRef, BlockKind.SNAPSHOT_INFO));
        } catch (MetadataException | IllegalArgumentException e) {
            problems.add("snapshot info at " + infoRef + ": " + e.getMessage());
            return new Inspection(null, sb.generation(), null, List.of(), 0, problems);
        }
        if (!info.uuid().equals(sb.uuid())) {
            problems.add("snapshot info at " + infoRef + ": uuid " + info.uuid() + " is not the superblock's "
                    + sb.uuid());
        }
        if (info.tableCapacity() > MAX_TABLE || info.slotCapacity() > MAX_SLOTS
                || bytesNeeded(info.tableCapacity(), info.slotCapacity()) > device.size()) {
            // checked before anything is sized by it: a checksum-valid info block with absurd
            // capacities (crafted, or written by a bug) must not make us allocate what it says
            problems.add("snapshot info at " + infoRef + ": capacities of " + info.tableCapacity() + " snapshots and "
                    + info.slotCapacity() + " slots need " + bytesNeeded(Math.min(info.tableCapacity(), MAX_TABLE),
                    Math.min(info.slotCapacity(), MAX_SLOTS)) + "+ bytes of metadata; the file has " + device.size()
                    + " (at most " + MAX_TABLE + " snapshots and " + MAX_SLOTS + " slots)");
            return new Inspection(null, sb.generation(), info, List.of(), 0, problems);
        }
        if (root.count() != exceptionLeaves(info.slotCapacity())) {
            problems.add("superblock: snapshot root says " + root.count() + " exception blocks, the info needs "
                    + exceptionLeaves(info.slotCapacity()));
            return new Inspection(null, sb.generation(), info, List.of(), 0, problems);
        }
        Entry[] entries = new Entry[info.tableCapacity()];
        Exception[] slots = new Exception[Math.toIntExact(info.slotCapacity())];
        BlockArray.Visitor collect = new BlockArray.Visitor() {
            @Override
            public void leaf(long index, BlockRef ref, ByteBuffer block) {
            }

            @Override
            public void damaged(String where, long first, long last, MetadataException e) {
                problems.add(where + ": " + e.detail());
            }

            @Override
            public void uses(long location) {
                used.add(location);
            }
        };
        BlockArray table = BlockArray.load(bm, BlockKind.SNAPSHOT_TABLE, root.refs().get(1),
                tableLeaves(info.tableCapacity()), new Decoding(collect) {
                    @Override
                    public void leaf(long index, BlockRef ref, ByteBuffer block) {
                        decodeEntries(index, block, entries, info, problems);
                    }
                });
        BlockArray exceptions = BlockArray.load(bm, BlockKind.EXCEPTIONS, root.refs().get(2),
                exceptionLeaves(info.slotCapacity()), new Decoding(collect) {
                    @Override
                    public void leaf(long index, BlockRef ref, ByteBuffer block) {
                        decodeExceptions(index, block, slots, info, problems);
                    }
                });
        BitSet seen = new BitSet();
        for (long location : used) {
            if (location < 2 || location >= sb.spaceBlocks()) {
                problems.add("block " + location + ": outside the metadata space of " + sb.spaceBlocks() + " blocks");
            } else if (seen.get((int) location)) {
                problems.add("block " + location + ": reached twice from the superblock");
            } else {
                seen.set((int) location);
            }
        }
        Set<String> names = new HashSet<>();
        Set<Long> ids = new HashSet<>();
        List<Entry> list = new ArrayList<>();
        for (Entry e : entries) {
            if (e == null) {
                continue;
            }
            if (!names.add(e.name())) {
                problems.add("snapshot table: two snapshots named " + e.name());
            }
            if (!ids.add(e.id())) {
                problems.add("snapshot table: two snapshots with id " + e.id());
            }
            list.add(e);
        }
        // what the snapshots of a snapshot rely on: a base is never itself a snapshot of one, and a private
        // copy belongs to a snapshot the table has (deleting one frees or hands on its copies in its commit)
        java.util.Map<Long, Entry> byId = new java.util.HashMap<>();
        for (Entry e : list) {
            byId.put(e.id(), e);
        }
        for (Entry e : list) {
            Entry base = e.base() == 0 ? null : byId.get(e.base());
            if (base != null && base.base() != 0) {
                problems.add("snapshot table: snapshot " + e.name() + " (id " + e.id() + ") is of snapshot " + base.name()
                        + " (id " + base.id() + "), itself a snapshot of a snapshot");
            }
        }
        for (int slot = 0; slot < slots.length; slot++) {
            Exception x = slots[slot];
            if (x != null && x.privateCopy() && !byId.containsKey(x.from())) {
                problems.add("exception of slot " + slot + ": a private copy of chunk " + x.chunk() + " for snapshot id "
                        + x.from() + ", which the snapshot table does not have");
            }
        }
        long inUse = 0;
        for (Exception x : slots) {
            inUse += x == null ? 0 : 1;
        }
        SnapshotStore store = null;
        if (problems.isEmpty()) {
            TransactionManager tm = TransactionManager.open(bm, sb, used);
            store = new SnapshotStore(tm, info, infoRef, table, exceptions, entries, slots);
        }
        return new Inspection(store, sb.generation(), info, list, inUse, problems);
    }

    /** A visitor that forwards damage and use to another; leaves are decoded by the subclass. */
    private abstract static class Decoding implements BlockArray.Visitor {
        private final BlockArray.Visitor to;

        Decoding(BlockArray.Visitor to) {
            this.to = to;
        }

        @Override
        public void damaged(String where, long first, long last, MetadataException e) {
            to.damaged(where, first, last, e);
        }

        @Override
        public void uses(long location) {
            to.uses(location);
        }
    }

    /** The valid superblock of the highest generation, or null (the problems say why). */
    static Superblock current(BlockManager bm, List<String> problems) throws IOException {
        Superblock best = null;
        List<String> slotProblems = new ArrayList<>();
        for (int slot = 0; slot < 2; slot++) {
            if (bm.blocks() <= slot) {
                slotProblems.add("slot " + slot + ": beyond the end of the file");
                continue;
            }
            ByteBuffer raw = bm.readRaw(slot);
            if (BlockManager.allZero(raw)) {
                slotProblems.add("slot " + slot + ": empty");
                continue;
            }
            try {
                Superblock s = Superblock.decode(raw, slot);
                if (best == null || s.generation() > best.generation()) {
                    best = s;
                }
            } catch (MetadataException e) {
                slotProblems.add(e.getMessage());
            }
        }
        if (best == null) {
            problems.add("no valid superblock (" + String.join("; ", slotProblems) + ")");
        }
        return best;
    }

    private static Info decodeInfo(ByteBuffer b) {
        return new Info(new UUID(b.getLong(32), b.getLong(40)), b.getLong(48), b.getInt(56), b.getInt(60),
                b.getLong(64), b.getLong(72), new UUID(b.getLong(80), b.getLong(88)));
    }

    private static void decodeEntries(long leaf, ByteBuffer b, Entry[] entries, Info info, List<String> problems) {
        for (int i = 0; i < ENTRIES_PER_BLOCK; i++) {
            long index = leaf * ENTRIES_PER_BLOCK + i;
            int at = BlockManager.HEADER + i * ENTRY_BYTES;
            long id = b.getLong(at);
            if (id == 0) {
                continue;
            }
            String where = "snapshot table entry " + index;
            if (index >= entries.length) {
                problems.add(where + ": beyond the table's capacity of " + entries.length);
                continue;
            }
            int state = b.get(at + 16);
            int flags = b.get(at + 17) & 0xff;
            int n = b.getShort(at + 18) & 0xffff;
            int g = b.getShort(at + 20) & 0xffff;
            if (id >= info.nextId() || (state != 1 && state != 2) || (flags & ~1) != 0 || n < 1 || n > MAX_NAME
                    || g > MAX_GROUP) {
                problems.add(where + ": id " + id + " (next " + info.nextId() + "), state " + state + ", flags "
                        + flags + ", name length " + n + ", group length " + g);
                continue;
            }
            String name = string(b, at + 32, n);
            String group = string(b, at + 96, g);
            try {
                entries[(int) index] = new Entry(id, name, b.getLong(at + 8), state == 1 ? State.VALID : State.FAILED,
                        group, b.getShort(at + 22) & 0xffff, (flags & 1) != 0, b.getLong(at + 24));
            } catch (IllegalArgumentException e) {
                problems.add(where + ": " + e.getMessage());
            }
        }
    }

    private static String string(ByteBuffer b, int at, int n) {
        byte[] bytes = new byte[n];
        b.get(at, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static void decodeExceptions(long leaf, ByteBuffer b, Exception[] slots, Info info, List<String> problems) {
        for (int i = 0; i < EXCEPTIONS_PER_BLOCK; i++) {
            long slot = leaf * EXCEPTIONS_PER_BLOCK + i;
            int at = BlockManager.HEADER + i * EXCEPTION_BYTES;
            int flags = b.getInt(at + 4);
            if ((flags & USED) == 0) {
                if (flags != 0 || b.getInt(at) != 0 || b.getLong(at + 8) != 0 || b.getLong(at + 16) != 0) {
                    problems.add("exception of slot " + slot + ": a free entry that is not zero");
                }
                continue;
            }
            long chunk = b.getInt(at) & 0xffff_ffffL;
            long from = b.getLong(at + 8);
            long to = b.getLong(at + 16);
            String where = "exception of slot " + slot + " (chunk " + chunk + ", snapshots " + from + " to " + to + ")";
            if (slot >= slots.length) {
                problems.add(where + ": beyond the capacity of " + slots.length + " slots");
            } else if (chunk >= info.chunks()) {
                problems.add(where + ": the volume has " + info.chunks() + " chunks");
            } else if ((flags & ~(USED | PRIVATE)) != 0 || from < 1 || to < from || to >= info.nextId()
                    || (flags & PRIVATE) != 0 && from != to) {
                problems.add(where + ": flags " + flags + ", next snapshot id " + info.nextId());
            } else {
                slots[(int) slot] = new Exception(chunk, from, to, (flags & PRIVATE) != 0);
            }
        }
    }

    public Info info() {
        return info;
    }

    /** The generation of the durable superblock. */
    public long generation() {
        return tm.durable().generation();
    }

    /** Superblocks written since this store was opened. */
    public long commits() {
        return tm.superblockWrites();
    }

    /** Entry {@code index} of the table, or null. */
    public Entry entry(int index) {
        return entries[index];
    }

    /** The durable exception of {@code slot}, or null when the slot is free. */
    public Exception slot(long slot) {
        return slots[Math.toIntExact(slot)];
    }

    /** Why commits stopped, or null. */
    public String failure() {
        return tm.failure();
    }

    /**
     * Commits, in one transaction, a new info (null: unchanged), table entries (index to entry;
     * a null entry frees it) and exceptions (slot to exception; null frees the slot). Returns
     * once the superblock is durable; only then do {@link #entry} and {@link #slot} show them.
     * The caller has made the slots' data durable first.
     */
    public void commit(Info newInfo, SortedMap<Integer, Entry> tableChanges, SortedMap<Long, Exception> slotChanges)
            throws IOException {
        Transaction tx = tm.begin();
        BlockRef nextInfo = infoRef;
        if (newInfo != null && !newInfo.equals(info)) {
            nextInfo = writeInfo(tx, infoRef.location(), newInfo);
        }
        writeLeaves(tx, table, tableChanges, ENTRIES_PER_BLOCK, this::encodeEntries);
        writeLeaves(tx, exceptions, slotChanges, EXCEPTIONS_PER_BLOCK, this::encodeExceptions);
        tx.setRoot(root(nextInfo, table, exceptions));
        tx.commit();
        infoRef = nextInfo;
        if (newInfo != null) {
            info = newInfo;
        }
        tableChanges.forEach((i, e) -> entries[i] = e);
        slotChanges.forEach((s, x) -> slots[Math.toIntExact(s)] = x);
    }

    private interface Encoder<K, V> {
        void encode(long leaf, ByteBuffer block, Map<K, V> changes);
    }

    private static <K extends Number, V> void writeLeaves(Transaction tx, BlockArray array, SortedMap<K, V> changes,
                                                          int perBlock, Encoder<K, V> encoder) throws IOException {
        if (changes.isEmpty()) {
            return;
        }
        ByteBuffer block = BlockManager.allocate();
        long leaf = -1;
        for (K key : changes.keySet()) {
            long l = key.longValue() / perBlock;
            if (l == leaf) {
                continue;
            }
            leaf = l;
            BlockArray.zero(block);
            encoder.encode(leaf, block, changes);
            array.writeLeaf(tx, leaf, block);
        }
        array.writeIndex(tx);
    }

    private void encodeEntries(long leaf, ByteBuffer b, Map<Integer, Entry> changes) {
        for (int i = 0; i < ENTRIES_PER_BLOCK; i++) {
            int index = Math.toIntExact(leaf * ENTRIES_PER_BLOCK + i);
            if (index >= entries.length) {
                break;
            }
            Entry e = changes.containsKey(index) ? changes.get(index) : entries[index];
            if (e == null) {
                continue;
            }
            int at = BlockManager.HEADER + i * ENTRY_BYTES;
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] group = e.group().getBytes(StandardCharsets.UTF_8);
            b.putLong(at, e.id());
            b.putLong(at + 8, e.createdMillis());
            b.put(at + 16, (byte) (e.state() == State.VALID ? 1 : 2));
            b.put(at + 17, (byte) (e.groupPending() ? 1 : 0));
            b.putShort(at + 18, (short) name.length);
            b.putShort(at + 20, (short) group.length);
            b.putShort(at + 22, (short) e.groupSize());
            b.putLong(at + 24, e.base());
            b.put(at + 32, name);
            b.put(at + 96, group);
        }
    }

    private void encodeExceptions(long leaf, ByteBuffer b, Map<Long, Exception> changes) {
        for (int i = 0; i < EXCEPTIONS_PER_BLOCK; i++) {
            long slot = leaf * EXCEPTIONS_PER_BLOCK + i;
            if (slot >= slots.length) {
                break;
            }
            Exception x = changes.containsKey(slot) ? changes.get(slot) : slots[(int) slot];
            if (x == null) {
                continue;
            }
            int at = BlockManager.HEADER + i * EXCEPTION_BYTES;
            b.putInt(at, (int) x.chunk());
            b.putInt(at + 4, USED | (x.privateCopy() ? PRIVATE : 0));
            b.putLong(at + 8, x.from());
            b.putLong(at + 16, x.to());
        }
    }
}
