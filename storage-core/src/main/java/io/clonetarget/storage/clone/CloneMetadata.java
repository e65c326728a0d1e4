package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.meta.PersistentBitset;
import io.clonetarget.storage.meta.Superblock;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The hydration state of a clone in memory, and its commits.
 *
 * <p>In core: the region map (one bit per region, set = hydrated) and two dirty maps, each a
 * bitmap of regions marked since it became current plus a bitmap of its changed 64-bit words.
 * Marking a region hydrated sets its bit in the region map and in the current dirty map, in
 * memory only. A commit swaps the dirty maps, flushes the destination (so every region marked
 * before the swap has durable data), then stages only the frozen map's words into the
 * {@link PersistentBitset} and commits it. Regions marked during a commit go to the other map
 * and wait for the next one: a committed bit never points at data still in a volatile cache.
 *
 * <p>Thread-safe: marking holds a short lock shared with the swap; reads of the region map are
 * lock-free. {@link #commit} runs on one thread at a time (the caller serializes).
 */
public final class CloneMetadata {
    private final PersistentBitset disk;
    private final long regions;
    private final AtomicLongArray hydrated;
    private final Dirty[] dirty;
    private final AtomicLong hydratedCount = new AtomicLong();
    private final Object markLock = new Object();
    private int current;

    /** One dirty map: regions marked, and which words of it changed. */
    private static final class Dirty {
        final AtomicLongArray regions;
        final AtomicLongArray words;
        boolean changed;

        Dirty(int words) {
            this.regions = new AtomicLongArray(words);
            this.words = new AtomicLongArray((words + 63) / 64);
        }
    }

    public CloneMetadata(PersistentBitset disk) {
        this.disk = disk;
        this.regions = disk.superblock().regionCount();
        long[] committed = disk.committedWords();
        this.hydrated = new AtomicLongArray(committed);
        long count = 0;
        for (long w : committed) {
            count += Long.bitCount(w);
        }
        hydratedCount.set(count);
        this.dirty = new Dirty[]{new Dirty(committed.length), new Dirty(committed.length)};
    }

    public Superblock superblock() {
        return disk.superblock();
    }

    public long regions() {
        return regions;
    }

    public boolean isHydrated(long region) {
        return (hydrated.get((int) (region >>> 6)) & (1L << region)) != 0;
    }

    /** Whether the last commit already has the region (so a FUA write there needs no commit). */
    public boolean isCommitted(long region) {
        return disk.committed(region);
    }

    public long hydratedCount() {
        return hydratedCount.get();
    }

    public boolean allHydrated() {
        return hydratedCount.get() == regions;
    }

    /** The first region at or after {@code from} that is not hydrated, or -1. */
    public long nextUnhydrated(long from) {
        if (from >= regions) {
            return -1;
        }
        int word = (int) (from >>> 6);
        long bits = ~hydrated.get(word) & (-1L << from);
        while (true) {
            if (bits != 0) {
                long r = ((long) word << 6) + Long.numberOfTrailingZeros(bits);
                return r < regions ? r : -1;
            }
            word++;
            if ((long) word << 6 >= regions) {
                return -1;
            }
            bits = ~hydrated.get(word);
        }
    }

    /** Marks regions {@code [first, first + count)} hydrated, in memory; the next commit persists them. */
    public void markHydrated(long first, long count) {
        if (count <= 0) {
            return;
        }
        if (first < 0 || first + count > regions) {
            throw new IndexOutOfBoundsException("regions " + first + "+" + count + " of " + regions);
        }
        synchronized (markLock) {
            Dirty d = dirty[current];
            long r = first;
            long end = first + count;
            while (r < end) {
                int word = (int) (r >>> 6);
                int lo = (int) (r & 63);
                int n = (int) Math.min(64 - lo, end - r);
                long mask = n == 64 ? -1L : ((1L << n) - 1) << lo;
                long before = hydrated.getAndUpdate(word, v -> v | mask);
                long added = mask & ~before;
                if (added != 0) {
                    hydratedCount.addAndGet(Long.bitCount(added));
                    d.regions.getAndUpdate(word, v -> v | added);
                    d.words.getAndUpdate(word >>> 6, v -> v | (1L << word));
                    d.changed = true;
                }
                r += n;
            }
        }
    }

    /** Whether anything was marked since the last commit. */
    public boolean changed() {
        synchronized (markLock) {
            return dirty[current].changed;
        }
    }

    /**
     * Commits: swap the dirty maps, flush {@code data} (always: this is also how a flush of the
     * clone reaches its destination), then persist the frozen map. With nothing marked, no
     * metadata is written.
     *
     * @return whether a superblock was written
     */
    public boolean commit(BlockDevice data) throws IOException {
        Dirty frozen;
        synchronized (markLock) {
            frozen = dirty[current];
            if (frozen.changed) {
                current ^= 1;
            } else {
                frozen = null;
            }
        }
        try {
            data.flush();
        } catch (IOException e) {
            throw new DataFlushException(e);
        }
        if (frozen == null) {
            return false;
        }
        for (int g = 0; g < frozen.words.length(); g++) {
            long group = frozen.words.getAndSet(g, 0);
            while (group != 0) {
                int word = (g << 6) + Long.numberOfTrailingZeros(group);
                group &= group - 1;
                disk.stage(word, frozen.regions.getAndSet(word, 0));
            }
        }
        frozen.changed = false;
        disk.commit();
        return true;
    }

    /** The destination could not be flushed: what it held since the last flush may be gone. */
    public static final class DataFlushException extends IOException {
        DataFlushException(IOException cause) {
            super("destination flush failed: " + cause.getMessage(), cause);
        }
    }

    /** Superblocks written so far (for tests and status). */
    public long commits() {
        return disk.superblockWrites();
    }
}
