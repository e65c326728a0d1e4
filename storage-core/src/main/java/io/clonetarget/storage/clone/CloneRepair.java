package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.meta.MetadataInspection;
import io.clonetarget.storage.meta.CloneInfo;
import io.clonetarget.storage.meta.CloneStore;
import io.clonetarget.storage.meta.PersistentBitset;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.LongConsumer;

/**
 * Rebuilds a clone's metadata into a new metadata device, conservatively: a region is marked
 * hydrated only when that is proven, either
 * <ul>
 *   <li>by the last commit, read from a bitset block whose checksum, location and generation
 *       are valid (the commit protocol flushed its data before writing it), or</li>
 *   <li>by comparison: the destination holds exactly the source's bytes for that region, so
 *       serving it from the destination changes nothing anyone can read.</li>
 * </ul>
 * Regions of damaged blocks whose destination differs from the source are left unhydrated and
 * reported: their destination bytes may be user writes or a torn copy, and nothing tells which.
 * The old metadata, the destination and the source are only read.
 */
public final class CloneRepair {
    private CloneRepair() {
    }

    /** What to assume when the old metadata has no valid superblock. */
    public record Defaults(long regionSize, int logicalBlockSize) {
    }

    /**
     * What the repair did.
     *
     * @param uuid the clone's identity in the new metadata (the old one when it could be read)
     * @param newIdentity true when the old UUID was unreadable, so the LUN's identifiers change
     * @param fromCommit regions taken from valid blocks of the last commit
     * @param compared regions whose bits were unknown and were compared with the source
     * @param proven of those, regions equal to the source and marked hydrated
     * @param differingRuns unknown regions that differ from the source, left unhydrated, as
     *     {@code [first, last]} runs
     */
    public record Result(UUID uuid, boolean newIdentity, long regionSize, long size, long regions, long fromCommit,
                         long compared, long proven, long differing, List<long[]> differingRuns,
                         MetadataInspection before) {
    }

    /**
     * Repairs.
     *
     * @param progress told the bytes compared so far (of {@link #bytesToCompare})
     * @throws SourceChangedException when the source is not the one the metadata records
     * @throws IOException when sizes disagree or a device fails
     */
    public static Result repair(BlockDevice oldMeta, CloneSource source, BlockDevice dest, BlockDevice newMeta,
                                Defaults defaults, LongConsumer progress) throws IOException {
        MetadataInspection before = MetadataInspection.of(oldMeta);
        CloneInfo sb = before.clone();
        long regionSize = sb != null ? sb.regionSize() : defaults.regionSize();
        int blockSize = sb != null ? sb.logicalBlockSize() : defaults.logicalBlockSize();
        long size = source.size() - source.size() % blockSize;
        if (sb != null) {
            source.checkSame(sb.source());
            if (sb.targetSize() != size) {
                throw new IOException("the metadata describes " + sb.targetSize() + " bytes, the source has " + size);
            }
        }
        if (dest.size() != size) {
            throw new IOException("the destination " + dest.describe() + " is " + dest.size() + " bytes, the source "
                    + size);
        }
        long regions = CloneInfo.regionCount(size, regionSize);
        long[] words = new long[(int) ((regions + 63) / 64)];
        long fromCommit = 0;
        List<long[]> unknown = new ArrayList<>();
        if (sb == null) {
            unknown.add(new long[]{0, regions - 1});
        } else {
            long[] known = before.words();
            System.arraycopy(known, 0, words, 0, words.length);
            fromCommit = before.hydratedRegions();
            for (long block : before.damagedBlocks()) {
                long first = block * PersistentBitset.BITS_PER_BLOCK;
                unknown.add(new long[]{first, Math.min(regions, first + PersistentBitset.BITS_PER_BLOCK) - 1});
            }
        }
        long compared = 0;
        long proven = 0;
        List<long[]> differing = new ArrayList<>();
        long differingCount = 0;
        ByteBuffer a = ByteBuffer.allocateDirect((int) Math.min(regionSize, CopyEngine.CHUNK));
        ByteBuffer b = ByteBuffer.allocateDirect(a.capacity());
        long done = 0;
        for (long[] run : unknown) {
            for (long r = run[0]; r <= run[1]; r++) {
                long from = Math.multiplyExact(r, regionSize);
                long to = Math.min(size, from + regionSize);
                boolean equal = true;
                for (long off = from; off < to; off += a.capacity()) {
                    int n = (int) Math.min(a.capacity(), to - off);
                    if (equal) {
                        a.clear().limit(n);
                        b.clear().limit(n);
                        source.read(off, a);
                        dest.read(off, b);
                        equal = a.flip().equals(b.flip());
                    }
                    done += n;
                }
                progress.accept(done);
                compared++;
                if (equal) {
                    words[(int) (r >>> 6)] |= 1L << r;
                    proven++;
                } else {
                    differingCount++;
                    if (!differing.isEmpty() && differing.getLast()[1] == r - 1) {
                        differing.getLast()[1] = r;
                    } else {
                        differing.add(new long[]{r, r});
                    }
                }
            }
        }
        UUID uuid = sb != null ? sb.uuid() : UUID.randomUUID();
        String descriptor = sb != null ? sb.source() : source.descriptor();
        CloneStore.format(newMeta, new CloneInfo(uuid, regionSize, size, regions, blockSize,
                sb != null ? sb.createdMillis() : System.currentTimeMillis(), descriptor), words);
        return new Result(uuid, sb == null, regionSize, size, regions, fromCommit, compared, proven, differingCount,
                differing, before);
    }

    /** Bytes {@link #repair} will compare for this inspection and clone size. */
    public static long bytesToCompare(MetadataInspection inspection, long size, long regionSize) {
        CloneInfo sb = inspection.clone();
        if (sb == null) {
            return size;
        }
        long span = Math.multiplyExact((long) PersistentBitset.BITS_PER_BLOCK, sb.regionSize());
        long bytes = 0;
        for (long block : inspection.damagedBlocks()) {
            long first = Math.multiplyExact(block, span);
            bytes += Math.max(0, Math.min(size, first + span) - first);
        }
        return bytes;
    }
}
