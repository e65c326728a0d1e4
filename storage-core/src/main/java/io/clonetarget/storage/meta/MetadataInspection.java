package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Everything a clone's metadata says about itself, read without trusting any of it: both
 * superblock slots, the current one, the clone info, every bitset block the current superblock
 * reaches, and a list of findings, each naming the block and the check. What {@code clonetarget
 * metadata check} and {@code dump} print, what {@code repair} starts from, and what
 * {@link CloneStore#open} accepts: at most notes, so checking and opening never disagree.
 * Reads both format versions (1: the first, fixed layout; 2: the transactional one).
 */
public final class MetadataInspection {
    /** How bad a finding is. */
    public enum Severity {
        /** Normal after a crash or early in a clone's life; the clone opens. */
        NOTE,
        /** The clone would refuse to open; {@code repair} can rebuild the metadata. */
        DAMAGED,
        /** No valid superblock: this is not (or no longer) clonetarget metadata. */
        UNUSABLE
    }

    /** One finding: what, where and how bad. */
    public record Finding(Severity severity, String where, String message) {
        @Override
        public String toString() {
            return where + ": " + message;
        }
    }

    /** A superblock slot: its generation and format version when valid, else why not. */
    public record Slot(int slot, boolean empty, Long generation, int version, String problem) {
        public boolean valid() {
            return generation != null;
        }
    }

    /** A bitset block: where the current superblock finds it, how many bits it holds, or what is wrong. */
    public record BitsetBlock(long index, long location, long generation, long bitsSet, String problem) {
        public boolean valid() {
            return problem == null;
        }
    }

    private final long fileBytes;
    private final List<Slot> slots;
    private final List<Finding> findings = new ArrayList<>();
    private final List<BitsetBlock> blocks = new ArrayList<>();
    private int version;
    private long generation;
    private CloneInfo clone;
    private long[] words = new long[0];
    private Superblock superblock;
    private LegacySuperblock legacy;
    private BlockArray array;
    private BlockRef infoRef;
    private final List<Long> used = new ArrayList<>();
    private long indexBlocks;

    private MetadataInspection(long fileBytes, List<Slot> slots) {
        this.fileBytes = fileBytes;
        this.slots = slots;
    }

    /** Reads and checks everything; throws only when the device cannot be read at all. */
    public static MetadataInspection of(BlockDevice device) throws IOException {
        BlockManager bm = new BlockManager(device);
        Object[] decoded = new Object[2];
        List<Slot> slots = new ArrayList<>();
        for (int slot = 0; slot < 2; slot++) {
            if (device.size() < (slot + 1L) * BlockManager.BLOCK_SIZE) {
                slots.add(new Slot(slot, true, null, 0, "beyond the end of the file"));
                continue;
            }
            ByteBuffer raw = bm.readRaw(slot);
            if (BlockManager.allZero(raw)) {
                slots.add(new Slot(slot, true, null, 0, "empty"));
                continue;
            }
            int v = BlockManager.version(raw);
            try {
                if (v == LegacySuperblock.VERSION) {
                    LegacySuperblock l = LegacySuperblock.decode(raw, slot);
                    decoded[slot] = l;
                    slots.add(new Slot(slot, false, l.generation(), v, null));
                } else {
                    Superblock s = Superblock.decode(raw, slot);
                    decoded[slot] = s;
                    slots.add(new Slot(slot, false, s.generation(), v, null));
                }
            } catch (MetadataException e) {
                slots.add(new Slot(slot, false, null, v, e.getMessage().replaceFirst("^superblock slot \\d+: ", "")));
            }
        }
        MetadataInspection i = new MetadataInspection(device.size(), slots);
        int current = -1;
        for (int s = 0; s < 2; s++) {
            if (slots.get(s).valid() && (current < 0 || slots.get(s).generation() > slots.get(current).generation())) {
                current = s;
            }
        }
        if (current < 0) {
            i.findings.add(new Finding(Severity.UNUSABLE, "superblock", "no valid superblock (slot 0: "
                    + slots.get(0).problem() + "; slot 1: " + slots.get(1).problem() + ")"));
            return i;
        }
        i.generation = slots.get(current).generation();
        i.version = slots.get(current).version();
        i.otherSlot(slots.get(1 - current), decoded[1 - current], decoded[current]);
        if (decoded[current] instanceof LegacySuperblock l) {
            i.legacy = l;
            i.readLegacy(bm, l);
        } else {
            i.superblock = (Superblock) decoded[current];
            i.readCurrent(bm, i.superblock);
        }
        i.findings.sort((a, b) -> b.severity().compareTo(a.severity()));
        return i;
    }

    private void otherSlot(Slot o, Object other, Object current) {
        if (!o.empty() && !o.valid()) {
            findings.add(new Finding(Severity.NOTE, "superblock slot " + o.slot(), o.problem() + "; the commit of "
                    + "generation " + generation + " in slot " + (1 - o.slot()) + " stands (an interrupted superblock "
                    + "write leaves exactly this)"));
        } else if (o.valid() && !java.util.Objects.equals(uuidOf(other), uuidOf(current))) {
            findings.add(new Finding(Severity.DAMAGED, "superblock slot " + o.slot(), "describes another clone (uuid "
                    + uuidOf(other) + ") than slot " + (1 - o.slot())));
        }
    }

    private static java.util.UUID uuidOf(Object sb) {
        return sb instanceof LegacySuperblock l ? l.info().uuid() : ((Superblock) sb).uuid();
    }

    private void readLegacy(BlockManager bm, LegacySuperblock l) throws IOException {
        clone = l.info();
        long need = l.fileBlocks() * BlockManager.BLOCK_SIZE;
        if (fileBytes < need) {
            findings.add(new Finding(Severity.DAMAGED, "file", fileBytes + " bytes, shorter than the " + need
                    + " the superblock describes"));
        }
        words = new long[PersistentBitset.words(clone.regionCount())];
        for (int b = 0; b < l.bitsetBlocks(); b++) {
            long location = l.selected(b);
            used.add(location);
            String where = "bitset block " + b + " (copy " + (l.selectors().get(b) ? 1 : 0) + ", block " + location + ")";
            String problem;
            long gen = -1;
            if ((location + 1) * BlockManager.BLOCK_SIZE > fileBytes) {
                problem = "beyond the end of the file";
            } else {
                ByteBuffer block = bm.readRaw(location);
                BlockCheck failed = BlockManager.check(block, BlockKind.BITSET, location, LegacySuperblock.VERSION);
                problem = failed == null ? null : BlockManager.describe(failed, block, BlockKind.BITSET,
                        new BlockRef(location, 0));
                gen = failed == null ? BlockManager.generation(block) : -1;
                if (problem == null && gen > l.generation()) {
                    problem = "generation " + gen + " is newer than the superblock's " + l.generation();
                }
                if (problem == null) {
                    problem = decode(block, b);
                }
            }
            addBlock(b, location, gen, problem, where);
        }
    }

    private void readCurrent(BlockManager bm, Superblock sb) throws IOException {
        Root root = sb.root(Root.Type.CLONE);
        if (root == null || root.refs().size() != 2) {
            findings.add(new Finding(Severity.DAMAGED, "superblock", "no clone root"));
            return;
        }
        long need = sb.spaceBlocks() * BlockManager.BLOCK_SIZE;
        if (fileBytes < need) {
            findings.add(new Finding(Severity.DAMAGED, "file", fileBytes + " bytes, shorter than the " + need
                    + " (" + sb.spaceBlocks() + " blocks) the superblock describes"));
        }
        infoRef = root.refs().get(0);
        used.add(infoRef.location());
        try {
            clone = CloneInfo.decode(bm.read(infoRef, BlockKind.CLONE_INFO), "clone info");
        } catch (MetadataException e) {
            findings.add(new Finding(Severity.DAMAGED, "clone info at " + infoRef, e.detail()));
            return;
        }
        if (!clone.uuid().equals(sb.uuid())) {
            findings.add(new Finding(Severity.DAMAGED, "clone info at " + infoRef, "uuid " + clone.uuid()
                    + " is not the superblock's " + sb.uuid()));
        }
        long leaves = PersistentBitset.blocksFor(clone.regionCount());
        if (root.count() != leaves) {
            findings.add(new Finding(Severity.DAMAGED, "superblock", "clone root says " + root.count()
                    + " bitset blocks, the geometry needs " + leaves));
            return;
        }
        words = new long[PersistentBitset.words(clone.regionCount())];
        BitSet seen = new BitSet();
        array = BlockArray.load(bm, BlockKind.BITSET, root.refs().get(1), leaves, new BlockArray.Visitor() {
            @Override
            public void leaf(long index, BlockRef ref, ByteBuffer block) {
                addBlock(index, ref.location(), ref.generation(), decode(block, index),
                        "bitset block " + index + " (" + ref + ")");
            }

            @Override
            public void damaged(String where, long first, long last, MetadataException e) {
                for (long b = first; b <= last; b++) {
                    blocks.add(new BitsetBlock(b, -1, -1, 0, "unreachable: " + e.getMessage()));
                }
                findings.add(new Finding(Severity.DAMAGED, where, e.detail() + (first == last ? ""
                        : " (bitset blocks " + first + " to " + last + " unknown)")));
            }

            @Override
            public void uses(long location) {
                used.add(location);
            }
        });
        indexBlocks = used.size() - 1 - leaves;
        for (long location : used) {
            if (location < 2 || location >= sb.spaceBlocks()) {
                findings.add(new Finding(Severity.DAMAGED, "block " + location, "outside the metadata space of "
                        + sb.spaceBlocks() + " blocks"));
            } else if (seen.get((int) location)) {
                findings.add(new Finding(Severity.DAMAGED, "block " + location, "reached twice from the superblock"));
            } else {
                seen.set((int) location);
            }
        }
        blocks.sort((a, b) -> Long.compare(a.index(), b.index()));
    }

    /** Decodes a valid bitset block into {@link #words}; returns the problem or null. */
    private String decode(ByteBuffer block, long index) {
        long[] mine = new long[words.length];
        try {
            PersistentBitset.decodeInto(block, index, mine, clone.regionCount());
        } catch (MetadataException e) {
            return e.getMessage().replaceFirst("^bitset block \\d+ ", "");
        }
        int first = Math.toIntExact(index * PersistentBitset.WORDS_PER_BLOCK);
        for (int w = first; w < Math.min(words.length, first + PersistentBitset.WORDS_PER_BLOCK); w++) {
            words[w] = mine[w];
        }
        return null;
    }

    private void addBlock(long index, long location, long gen, String problem, String where) {
        long set = 0;
        if (problem == null) {
            int first = Math.toIntExact(index * PersistentBitset.WORDS_PER_BLOCK);
            for (int w = first; w < Math.min(words.length, first + PersistentBitset.WORDS_PER_BLOCK); w++) {
                set += Long.bitCount(words[w]);
            }
        } else {
            findings.add(new Finding(Severity.DAMAGED, where, problem));
        }
        blocks.add(new BitsetBlock(index, location, gen, set, problem));
    }

    public long fileBytes() {
        return fileBytes;
    }

    public List<Slot> slots() {
        return slots;
    }

    /** Format version of the current superblock: 1, 2, or 0 when none is valid. */
    public int formatVersion() {
        return version;
    }

    /** Generation of the current superblock (0 when none is valid). */
    public long generation() {
        return generation;
    }

    /** The clone the metadata describes, or null when that cannot be read. */
    public CloneInfo clone() {
        return clone;
    }

    /** Every bitset block, in order. */
    public List<BitsetBlock> blocks() {
        return blocks;
    }

    /** Index blocks the bitset's tree has (format 2). */
    public long indexBlocks() {
        return indexBlocks;
    }

    /** Blocks the metadata file has room for (format 2: the superblock's space), or the file's blocks. */
    public long spaceBlocks() {
        return superblock != null ? superblock.spaceBlocks() : fileBytes / BlockManager.BLOCK_SIZE;
    }

    /** The committed bits (64 regions per word) read from valid blocks; a damaged block's are zero. */
    public long[] words() {
        return words;
    }

    /** What is wrong or worth knowing, worst first. */
    public List<Finding> findings() {
        return findings;
    }

    Superblock superblock() {
        return superblock;
    }

    LegacySuperblock legacy() {
        return legacy;
    }

    BlockArray array() {
        return array;
    }

    BlockRef infoRef() {
        return infoRef;
    }

    /** Every block the current superblock reaches (format 2), for the space map. */
    List<Long> used() {
        return used;
    }

    /** The worst severity found, or null when there is nothing to say. */
    public Severity worst() {
        return findings.isEmpty() ? null : findings.getFirst().severity();
    }

    /** Whether the clone would open with this metadata. */
    public boolean opens() {
        Severity w = worst();
        return clone != null && (w == null || w == Severity.NOTE);
    }

    /** Indices of bitset blocks whose bits are unknown. */
    public List<Long> damagedBlocks() {
        List<Long> list = new ArrayList<>();
        for (BitsetBlock b : blocks) {
            if (!b.valid()) {
                list.add(b.index());
            }
        }
        return list;
    }

    /** Regions marked hydrated in valid blocks. */
    public long hydratedRegions() {
        long n = 0;
        for (long w : words) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Whether region {@code r} is marked hydrated in a valid block. */
    public boolean hydrated(long region) {
        return (words[(int) (region >>> 6)] & (1L << region)) != 0;
    }

    /** Runs of hydrated regions as {@code [first, last]} pairs, in order. */
    public List<long[]> hydratedRuns() {
        List<long[]> runs = new ArrayList<>();
        if (clone == null) {
            return runs;
        }
        long start = -1;
        for (long r = 0; r < clone.regionCount(); r++) {
            boolean h = hydrated(r);
            if (h && start < 0) {
                start = r;
            } else if (!h && start >= 0) {
                runs.add(new long[]{start, r - 1});
                start = -1;
            }
        }
        if (start >= 0) {
            runs.add(new long[]{start, clone.regionCount() - 1});
        }
        return runs;
    }
}
