package io.clonetarget.storage.meta;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything a metadata file says about itself, read without trusting any of it: both
 * superblock slots, the one that is current, every bitset block the current superblock selects,
 * and a list of findings, each naming the block and the check. What {@code clonetarget metadata
 * check} and {@code dump} print, and what {@code repair} starts from.
 *
 * @param fileBytes size of the metadata device
 * @param slots the two superblock slots
 * @param current the superblock {@link PersistentBitset#open} would use, or null when none is valid
 * @param blocks the selected copy of each bitset block (empty without a current superblock)
 * @param words the committed bits (64 regions per word) read from valid blocks; the words of a
 *     damaged block are zero and its index is in {@link #damagedBlocks()}
 * @param findings what is wrong or worth knowing, worst first
 */
public record MetadataInspection(long fileBytes, List<Slot> slots, Superblock current, List<BitsetBlock> blocks,
                                 long[] words, List<Finding> findings) {

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

    /** A superblock slot: its generation when valid, else why not. */
    public record Slot(int slot, boolean empty, Long generation, String problem) {
        public boolean valid() {
            return generation != null;
        }
    }

    /** The selected copy of a bitset block. */
    public record BitsetBlock(int index, int copy, long location, long generation, long bitsSet, String problem) {
        public boolean valid() {
            return problem == null;
        }
    }

    /** Reads and checks everything; throws only when the device cannot be read at all. */
    public static MetadataInspection of(BlockDevice device) throws IOException {
        List<Finding> findings = new ArrayList<>();
        long fileBytes = device.size();
        List<Slot> slots = new ArrayList<>();
        Superblock current = null;
        Superblock[] decoded = new Superblock[2];
        for (int slot = 0; slot < 2; slot++) {
            if (fileBytes < (slot + 1L) * MetaBlocks.BLOCK_SIZE) {
                slots.add(new Slot(slot, true, null, "beyond the end of the file"));
                continue;
            }
            ByteBuffer raw = MetaBlocks.read(device, slot);
            if (MetaBlocks.allZero(raw)) {
                slots.add(new Slot(slot, true, null, "empty"));
                continue;
            }
            try {
                decoded[slot] = Superblock.decode(raw, slot);
                slots.add(new Slot(slot, false, decoded[slot].generation(), null));
                if (current == null || decoded[slot].generation() > current.generation()) {
                    current = decoded[slot];
                }
            } catch (MetadataException e) {
                slots.add(new Slot(slot, false, null, e.getMessage().replaceFirst("^superblock slot \\d+: ", "")));
            }
        }
        if (current == null) {
            findings.add(new Finding(Severity.UNUSABLE, "superblock", "no valid superblock (slot 0: "
                    + slots.get(0).problem() + "; slot 1: " + slots.get(1).problem() + ")"));
            return new MetadataInspection(fileBytes, slots, null, List.of(), new long[0], findings);
        }
        int other = (int) (1 - current.generation() % 2);
        Slot o = slots.get(other);
        if (!o.empty() && !o.valid()) {
            findings.add(new Finding(Severity.NOTE, "superblock slot " + other, o.problem() + "; the commit of "
                    + "generation " + current.generation() + " in slot " + (1 - other) + " stands (an interrupted "
                    + "superblock write leaves exactly this)"));
        } else if (o.valid() && decoded[other] != null && !sameClone(decoded[other], current)) {
            findings.add(new Finding(Severity.DAMAGED, "superblock slot " + other, "describes another clone or "
                    + "geometry than slot " + (1 - other) + " (uuid " + decoded[other].uuid() + ")"));
        }
        long need = current.fileBlocks() * MetaBlocks.BLOCK_SIZE;
        if (fileBytes < need) {
            findings.add(new Finding(Severity.DAMAGED, "file", fileBytes + " bytes, shorter than the " + need
                    + " the superblock describes"));
        }
        long[] words = new long[PersistentBitset.words(current.regionCount())];
        List<BitsetBlock> blocks = new ArrayList<>();
        for (int i = 0; i < current.bitsetBlocks(); i++) {
            int copy = current.selectors().get(i) ? 1 : 0;
            long location = Superblock.bitsetLocation(i, copy);
            String where = "bitset block " + i + " (copy " + copy + ", block " + location + ")";
            if ((location + 1) * MetaBlocks.BLOCK_SIZE > fileBytes) {
                blocks.add(new BitsetBlock(i, copy, location, -1, 0, "beyond the end of the file"));
                findings.add(new Finding(Severity.DAMAGED, where, "beyond the end of the file"));
                continue;
            }
            ByteBuffer block = MetaBlocks.read(device, location);
            String problem = MetaBlocks.problem(block, MetaBlocks.MAGIC_BITSET, location);
            long generation = problem == null ? MetaBlocks.generation(block) : -1;
            if (problem == null && generation > current.generation()) {
                problem = "generation " + generation + " is newer than the superblock's " + current.generation();
            }
            long[] mine = new long[words.length];
            if (problem == null) {
                try {
                    PersistentBitset.decodeInto(block, i, mine, current.regionCount());
                } catch (MetadataException e) {
                    problem = e.getMessage().replaceFirst("^bitset block \\d+ ", "");
                }
            }
            long set = 0;
            if (problem == null) {
                int first = i * Superblock.WORDS_PER_BLOCK;
                for (int w = first; w < Math.min(words.length, first + Superblock.WORDS_PER_BLOCK); w++) {
                    words[w] = mine[w];
                    set += Long.bitCount(mine[w]);
                }
            } else {
                findings.add(new Finding(Severity.DAMAGED, where, problem));
            }
            blocks.add(new BitsetBlock(i, copy, location, generation, set, problem));
        }
        findings.sort((a, b) -> b.severity().compareTo(a.severity()));
        return new MetadataInspection(fileBytes, slots, current, blocks, words, findings);
    }

    private static boolean sameClone(Superblock a, Superblock b) {
        return a.uuid().equals(b.uuid()) && a.regionSize() == b.regionSize() && a.targetSize() == b.targetSize()
                && a.logicalBlockSize() == b.logicalBlockSize();
    }

    /** The worst severity found, or null when there is nothing to say. */
    public Severity worst() {
        return findings.isEmpty() ? null : findings.getFirst().severity();
    }

    /** Whether {@link PersistentBitset#open} would accept this file. */
    public boolean opens() {
        Severity w = worst();
        return w == null || w == Severity.NOTE;
    }

    /** Indices of bitset blocks whose bits are unknown. */
    public List<Integer> damagedBlocks() {
        List<Integer> list = new ArrayList<>();
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
        if (current == null) {
            return runs;
        }
        long start = -1;
        for (long r = 0; r < current.regionCount(); r++) {
            boolean h = hydrated(r);
            if (h && start < 0) {
                start = r;
            } else if (!h && start >= 0) {
                runs.add(new long[]{start, r - 1});
                start = -1;
            }
        }
        if (start >= 0) {
            runs.add(new long[]{start, current.regionCount() - 1});
        }
        return runs;
    }
}
