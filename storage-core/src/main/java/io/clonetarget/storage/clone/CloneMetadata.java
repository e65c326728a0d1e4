package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.meta.CloneInfo;
import io.clonetarget.storage.meta.CloneStore;
import io.clonetarget.storage.meta.PersistentBitset;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The hydration state of a clone in memory, and its commits.
 *
 * <p>In core: the region map (one bit per region, set = hydrated) and two dirty maps, each a
 * bitmap of regions marked since it became current plus a bitmap of its changed 64-bit words;
 * the durable view is the {@link CloneStore}'s. Marking a region hydrated sets its bit in the
 * current dirty map and then in the region map, in memory only. A commit swaps the dirty maps,
 * flushes the destination (so every region marked before the swap has durable data), then
 * commits only the frozen map's words in one metadata transaction. Regions marked during a
 * commit go to the other map and wait for the next one: a committed bit never points at data
 * still in a volatile cache. A frozen map is cleared only after its transaction is durable.
 *
 * <p>Thread-safe: marking holds a short lock shared with the swap; reads of the region map and
 * of the durable view are lock-free. {@link #commit} runs on one thread at a time (the caller
 * serializes, see {@link io.clonetarget.storage.meta.GroupCommitter}).
 */
final class CloneMetadata {
    private final CloneStore store;
    private final long regions;
    private final AtomicLongArray hydrated;
    private final Dirty[] dirty;
    private final AtomicLong hydratedCount = new AtomicLong();
    private final Object markLock = new Object();
    private int current;

    /** One dirty map: regions marked, and which words of it changed. */
    private static final class Dirty implements PersistentBitset.Changes {
        final AtomicLongArray regions;
        final AtomicLongArray words;
        boolean changed;

        Dirty(int words) {
            this.regions = new AtomicLongArray(words);
            this.words = new AtomicLongArray((words + 63) / 64);
        }

        /** Changed words in ascending order. */
        @Override
        public void forEach(PersistentBitset.WordVisitor visitor) throws IOException {
            for (int g = 0; g < words.length(); g++) {
                long group = words.get(g);
                while (group != 0) {
                    int word = (g << 6) + Long.numberOfTrailingZeros(group);
                    group &= group - 1;
                    visitor.word(word, regions.get(word));
                }
            }
        }

        void clear() {
            for (int g = 0; g < words.length(); g++) {
                long group = words.getAndSet(g, 0);
                while (group != 0) {
                    int word = (g << 6) + Long.numberOfTrailingZeros(group);
                    group &= group - 1;
                    regions.set(word, 0);
                }
            }
            changed = false;
        }
    }

    CloneMetadata(CloneStore store) {
        this.store = store;
        this.regions = store.info().regionCount();
        long[] durable = store.durableWords();
        this.hydrated = new AtomicLongArray(durable);
        long count = 0;
        for (long w : durable) {
            count += Long.bitCount(w);
        }
        hydratedCount.set(count);
        this.dirty = new Dirty[]{new Dirty(durable.length), new Dirty(durable.length)};
    }

    CloneInfo info() {
        return store.info();
    }

    long regions() {
        return regions;
    }

    boolean isHydrated(long region) {
        return (hydrated.get((int) (region >>> 6)) & (1L << region)) != 0;
    }

    /**
     * Whether the region is hydrated in the last <em>durable</em> commit, i.e. a FUA write there
     * needs no commit of its own. A commit in flight does not count until its superblock is
     * flushed.
     */
    boolean isDurable(long region) {
        return store.durable(region);
    }

    long hydratedCount() {
        return hydratedCount.get();
    }

    boolean allHydrated() {
        return hydratedCount.get() == regions;
    }

    /** The first region at or after {@code from} that is not hydrated, or -1. */
    long nextUnhydrated(long from) {
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
    void markHydrated(long first, long count) {
        if (count <= 0) {
            return;
        }
        if (first < 0 || count > regions - first) {
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
                long added = mask & ~hydrated.get(word);
                if (added != 0) {
                    d.regions.getAndUpdate(word, v -> v | added);
                    d.words.getAndUpdate(word >>> 6, v -> v | (1L << word));
                    d.changed = true;
                    hydrated.getAndUpdate(word, v -> v | added);
                    hydratedCount.addAndGet(Long.bitCount(added));
                }
                r += n;
            }
        }
    }

    /** Whether anything was marked since the last commit began. */
    boolean changed() {
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
     * @throws DataFlushException when the destination could not be flushed
     */
    boolean commit(BlockDevice data) throws IOException {
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
        boolean written = store.commit(frozen);
        frozen.clear();
        return written;
    }

    /** The destination could not be flushed: what it held since the last flush may be gone. */
    static final class DataFlushException extends IOException {
        DataFlushException(IOException cause) {
            super("destination flush failed: " + cause.getMessage(), cause);
        }
    }

    /** Superblocks written so far (for tests and status). */
    long commits() {
        return store.commits();
    }
}
