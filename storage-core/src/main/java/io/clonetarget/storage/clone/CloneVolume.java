package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.Ranges;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.meta.MetaBlocks;
import io.clonetarget.storage.meta.PersistentBitset;
import io.clonetarget.storage.meta.Superblock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone: a {@link BlockDevice} whose blocks come from a read-only {@link CloneSource} until
 * their region is hydrated into the destination, and from the destination afterwards.
 *
 * <p>I/O semantics (dm-clone's, plus what it lacks):
 * <ul>
 *   <li>Reads of hydrated regions go to the destination, of others to the source; with
 *       hydrate-on-read the region is copied first.</li>
 *   <li>A write to an unhydrated region copies it first, unless the write covers the whole
 *       region. Data always reaches the destination before the region is marked.</li>
 *   <li>Discard marks unhydrated regions inside the range hydrated without copying and punches
 *       holes in the destination; a partly covered unhydrated region is copied and its part
 *       zeroed, so discarded blocks always read back as zeroes (LBPRZ) while passdown is on.</li>
 *   <li>{@link #flush()} commits: destination flush, then metadata; concurrent flushes share
 *       a commit. A FUA write touching a region not yet committed commits before it returns.
 *       Anything marked is committed within a second anyway; with nothing marked, no metadata
 *       is written.</li>
 * </ul>
 *
 * <p>Region claims: only the holder of a region's claim may copy into it or change its state.
 * Claims are taken in ascending region order, by users (blocking) and the hydrator (skipping),
 * so a background copy can never overwrite a user's whole-region write, and no deadlock is
 * possible. Thread-safe.
 */
public final class CloneVolume implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(CloneVolume.class);
    static final int COPY_CHUNK = 4 << 20;

    /** Geometry and behaviour of a clone. */
    public record Settings(long regionSize, int logicalBlockSize, boolean hydrateOnRead, boolean discardPassdown,
                           HydrationSettings hydration) {
        public Settings {
            if (Long.bitCount(regionSize) != 1 || regionSize < 4096 || regionSize > (1L << 30)) {
                throw new IllegalArgumentException("region size " + regionSize + " is not a power of two from 4K to 1G");
            }
            if (logicalBlockSize != 512 && logicalBlockSize != 4096) {
                throw new IllegalArgumentException("logical block size must be 512 or 4096");
            }
        }
    }

    /** Told about events of a clone's life. */
    public interface Listener {
        default void hydrationComplete(CloneVolume volume) {
        }

        default void sourceError(CloneVolume volume, IOException error) {
        }
    }

    private final String name;
    private final CloneSource source;
    private final BlockDevice dest;
    private final BlockDevice metaDevice;
    private final CloneMetadata meta;
    private final Settings settings;
    private final long size;
    private final long regionSize;
    private final int regionShift;
    private final ConcurrentHashMap<Long, CompletableFuture<Void>> claims = new ConcurrentHashMap<>();
    private final Object commitLock = new Object();
    private CompletableFuture<Void> nextCommit;
    private boolean committing;
    private final ScheduledExecutorService timer;
    private final Hydrator hydrator;
    private final AtomicInteger userIo = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final List<Listener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile String readOnlyReason;
    private volatile String failedReason;
    private volatile boolean sourceDetached;

    private CloneVolume(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice, CloneMetadata meta,
                        Settings settings, long size) {
        this.name = name;
        this.source = source;
        this.dest = dest;
        this.metaDevice = metaDevice;
        this.meta = meta;
        this.settings = settings;
        this.size = size;
        this.regionSize = settings.regionSize();
        this.regionShift = Long.numberOfTrailingZeros(regionSize);
        this.timer = Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().daemon().name("clone-" + name + "-commit").unstarted(r));
        this.hydrator = new Hydrator(this, settings.hydration());
    }

    /**
     * Opens a clone: formats empty metadata, or loads existing metadata and checks that it
     * describes this clone (sizes, region size, block size) and this source version. Never
     * reformats existing metadata.
     *
     * @param dest the destination, exactly the clone's size
     * @param metaDevice the metadata device, large enough ({@link #metadataBytes})
     */
    public static CloneVolume open(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice,
                                   Settings settings) throws IOException {
        long size = source.size() - source.size() % settings.logicalBlockSize();
        if (size <= 0) {
            throw new IOException("clone " + name + ": source " + source.describe() + " is empty");
        }
        if (dest.size() != size) {
            throw new IOException("clone " + name + ": destination " + dest.describe() + " is " + dest.size()
                    + " bytes, the source " + size);
        }
        PersistentBitset bitset;
        if (isBlank(metaDevice)) {
            bitset = PersistentBitset.format(metaDevice, UUID.randomUUID(), settings.regionSize(), size,
                    settings.logicalBlockSize(), source.descriptor());
            LOG.info("clone {}: new metadata, {} regions of {} bytes", name,
                    bitset.superblock().regionCount(), settings.regionSize());
        } else {
            bitset = PersistentBitset.open(metaDevice);
            Superblock sb = bitset.superblock();
            if (sb.regionSize() != settings.regionSize()) {
                throw new IOException("clone " + name + ": the metadata has region size " + sb.regionSize()
                        + ", the configuration " + settings.regionSize() + " (the region size cannot change)");
            }
            if (sb.targetSize() != size) {
                throw new IOException("clone " + name + ": the metadata describes " + sb.targetSize()
                        + " bytes, the source has " + size);
            }
            if (sb.logicalBlockSize() != settings.logicalBlockSize()) {
                throw new IOException("clone " + name + ": the metadata has block size " + sb.logicalBlockSize()
                        + ", the configuration " + settings.logicalBlockSize());
            }
            source.checkSame(sb.source());
        }
        CloneVolume v = new CloneVolume(name, source, dest, metaDevice, new CloneMetadata(bitset), settings, size);
        v.start();
        return v;
    }

    /** Bytes of metadata a clone of {@code size} bytes at {@code regionSize} needs. */
    public static long metadataBytes(long size, long regionSize) {
        return (2 + 2L * Superblock.bitsetBlocks(Superblock.regionCount(size, regionSize))) * MetaBlocks.BLOCK_SIZE;
    }

    private static boolean isBlank(BlockDevice metaDevice) throws IOException {
        return MetaBlocks.allZero(MetaBlocks.read(metaDevice, 0)) && MetaBlocks.allZero(MetaBlocks.read(metaDevice, 1));
    }

    private void start() {
        timer.scheduleWithFixedDelay(this::periodicCommit, 1, 1, TimeUnit.SECONDS);
        if (meta.allHydrated()) {
            detachSource();
        }
        hydrator.start();
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    public String name() {
        return name;
    }

    public Settings settings() {
        return settings;
    }

    CloneMetadata metadata() {
        return meta;
    }

    CloneSource source() {
        return source;
    }

    BlockDevice destination() {
        return dest;
    }

    public UUID uuid() {
        return meta.superblock().uuid();
    }

    long regionOf(long offset) {
        return offset >>> regionShift;
    }

    long regionStart(long region) {
        return region << regionShift;
    }

    long regionEnd(long region) {
        return Math.min(size, (region + 1) << regionShift);
    }

    int userIoInFlight() {
        return userIo.get();
    }

    // ---- claims ----------------------------------------------------------------------------

    /** Takes the claim of a region, waiting for another holder; null when it is hydrated meanwhile. */
    private CompletableFuture<Void> claim(long region) {
        while (true) {
            if (meta.isHydrated(region)) {
                return null;
            }
            CompletableFuture<Void> mine = new CompletableFuture<>();
            CompletableFuture<Void> other = claims.putIfAbsent(region, mine);
            if (other == null) {
                if (meta.isHydrated(region)) {
                    release(region, mine);
                    return null;
                }
                return mine;
            }
            other.join();
        }
    }

    /** Takes the claim of a region only if it is free and unhydrated (for the hydrator). */
    CompletableFuture<Void> tryClaim(long region) {
        if (meta.isHydrated(region)) {
            return null;
        }
        CompletableFuture<Void> mine = new CompletableFuture<>();
        if (claims.putIfAbsent(region, mine) != null) {
            return null;
        }
        if (meta.isHydrated(region)) {
            release(region, mine);
            return null;
        }
        return mine;
    }

    void release(long region, CompletableFuture<Void> claim) {
        claims.remove(region, claim);
        claim.complete(null);
    }

    /** Regions being copied or written whole right now. */
    int claimed() {
        return claims.size();
    }

    /** Copies regions {@code [first, first + count)} from the source; the caller holds their claims. */
    void copy(long first, long count, ByteBuffer buffer) throws IOException {
        long from = regionStart(first);
        long to = regionEnd(first + count - 1);
        if (source.copyTo(dest, from, to - from)) {
            return; // in the kernel (copy_file_range), as cp does
        }
        for (long off = from; off < to; ) {
            int n = (int) Math.min(buffer.capacity(), to - off);
            buffer.clear().limit(n);
            source.read(off, buffer);
            buffer.flip();
            dest.write(off, buffer, false);
            off += n;
        }
    }

    private static final ThreadLocal<ByteBuffer> COPY_BUFFERS = new ThreadLocal<>();

    private ByteBuffer copyBuffer() {
        int want = (int) Math.min(regionSize, COPY_CHUNK);
        ByteBuffer b = COPY_BUFFERS.get();
        if (b == null || b.capacity() < want) {
            b = ByteBuffer.allocateDirect(want);
            COPY_BUFFERS.set(b);
        }
        return b;
    }

    /** Makes sure a region is hydrated, copying it on this thread if needed. */
    private void hydrate(long region) throws IOException {
        CompletableFuture<Void> c = claim(region);
        if (c == null) {
            return;
        }
        try {
            copyClaimed(region);
        } finally {
            release(region, c);
        }
    }

    /** Copies one region whose claim the caller holds, and marks it. */
    private void copyClaimed(long region) throws IOException {
        try {
            copy(region, 1, copyBuffer());
        } catch (MediumErrorException e) {
            throw e.isWrite() ? e : sourceFailure(e); // a failed destination write is not the source's
        }
        meta.markHydrated(region, 1);
        hydrator.copied(regionEnd(region) - regionStart(region));
    }

    /** Counts a failed source read of user I/O in the status, as a medium error for the caller. */
    private MediumErrorException sourceFailure(IOException e) {
        if (hydrator.noteError(e)) {
            LOG.error("clone {}: {}; hydration stopped", name, e.getMessage());
            sourceError(e);
        }
        return e instanceof MediumErrorException m ? m
                : new MediumErrorException("clone " + name + ": source read failed: " + e.getMessage(), false, e);
    }

    // ---- BlockDevice -----------------------------------------------------------------------

    @Override
    public long size() {
        return size;
    }

    @Override
    public int logicalBlockSize() {
        return settings.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        return dest.physicalBlockSize();
    }

    @Override
    public boolean isReadOnly() {
        return readOnlyReason != null || failedReason != null;
    }

    /** After a failed destination flush nothing the clone would answer can be trusted. */
    private void checkNotFailed() throws IOException {
        String reason = failedReason;
        if (reason != null) {
            throw new IOException("clone " + name + " has failed (" + reason + "); restart it once the destination "
                    + "is healthy");
        }
    }

    @Override
    public boolean discardZeroesData() {
        return settings.discardPassdown() && dest.discardZeroesData();
    }

    private void checkWritable() throws IOException {
        checkNotFailed();
        String reason = readOnlyReason;
        if (reason != null) {
            throw new ReadOnlyException("clone " + name + " is read-only: " + reason);
        }
    }

    private boolean allHydrated(long offset, long length) {
        if (meta.allHydrated()) {
            return true;
        }
        for (long r = regionOf(offset), last = regionOf(offset + Math.max(length, 1) - 1); r <= last; r++) {
            if (!meta.isHydrated(r)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkNotFailed();
        Ranges.check(this, offset, dst.remaining());
        if (meta.allHydrated()) {
            dest.read(offset, dst);
            return;
        }
        userIo.incrementAndGet();
        try {
            long end = offset + dst.remaining();
            long pos = offset;
            while (pos < end) {
                long region = regionOf(pos);
                boolean hydrated = meta.isHydrated(region);
                if (!hydrated && settings.hydrateOnRead()) {
                    hydrate(region);
                    hydrated = true;
                }
                long runEnd = Math.min(end, regionEnd(region));
                while (runEnd < end && meta.isHydrated(regionOf(runEnd)) == hydrated
                        && (hydrated || !settings.hydrateOnRead())) {
                    runEnd = Math.min(end, regionEnd(regionOf(runEnd)));
                }
                int n = (int) (runEnd - pos);
                ByteBuffer part = dst.slice(dst.position(), n);
                if (hydrated) {
                    dest.read(pos, part);
                } else {
                    readSource(pos, part);
                }
                dst.position(dst.position() + n);
                pos = runEnd;
            }
        } finally {
            userIo.decrementAndGet();
        }
    }

    private void readSource(long offset, ByteBuffer dst) throws IOException {
        try {
            source.read(offset, dst);
        } catch (IOException e) {
            throw sourceFailure(e);
        }
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        Ranges.check(this, offset, dst.remaining());
        return failedReason == null && allHydrated(offset, dst.remaining()) && dest.tryRead(offset, dst);
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src) throws IOException {
        Ranges.check(this, offset, src.remaining());
        return readOnlyReason == null && failedReason == null && allHydrated(offset, src.remaining())
                && dest.tryWrite(offset, src);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkWritable();
        Ranges.check(this, offset, src.remaining());
        long length = src.remaining();
        if (length == 0) {
            return;
        }
        if (meta.allHydrated() && !fua) {
            dest.write(offset, src, false);
            return;
        }
        userIo.incrementAndGet();
        // whole regions this write replaces, with their claims (held until the data is written);
        // allocated only for writes that cover an unhydrated region whole
        List<Long> whole = List.of();
        List<CompletableFuture<Void>> wholeClaims = List.of();
        boolean commitNeeded = false;
        try {
            long end = offset + length;
            for (long r = regionOf(offset), last = regionOf(end - 1); r <= last; r++) {
                if (fua && !meta.isCommitted(r)) {
                    commitNeeded = true;
                }
                CompletableFuture<Void> c = claim(r);
                if (c == null) {
                    continue;
                }
                if (offset <= regionStart(r) && end >= regionEnd(r)) {
                    if (whole.isEmpty()) {
                        whole = new ArrayList<>();
                        wholeClaims = new ArrayList<>();
                    }
                    whole.add(r);
                    wholeClaims.add(c);
                } else {
                    try {
                        copyClaimed(r);
                    } finally {
                        release(r, c);
                    }
                }
            }
            dest.write(offset, src, fua && !commitNeeded);
            for (long r : whole) {
                meta.markHydrated(r, 1);
            }
        } finally {
            for (int i = 0; i < whole.size(); i++) {
                release(whole.get(i), wholeClaims.get(i));
            }
            userIo.decrementAndGet();
        }
        if (commitNeeded) {
            flush();
        }
    }

    @Override
    public void flush() throws IOException {
        CompletableFuture<Void> mine;
        boolean lead;
        synchronized (commitLock) {
            if (nextCommit == null) {
                nextCommit = new CompletableFuture<>();
            }
            mine = nextCommit;
            lead = !committing;
            if (lead) {
                committing = true;
            }
        }
        if (lead) {
            runCommits();
        }
        try {
            mine.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw e;
        }
    }

    /** Runs commits while there are requests; concurrent flushes share the commit they wait for. */
    private void runCommits() {
        while (true) {
            CompletableFuture<Void> f;
            synchronized (commitLock) {
                f = nextCommit;
                nextCommit = null;
                if (f == null) {
                    committing = false;
                    return;
                }
            }
            try {
                commitOnce();
                f.complete(null);
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        }
    }

    private void commitOnce() throws IOException {
        checkNotFailed();
        try {
            if (readOnlyReason != null) {
                try {
                    dest.flush();
                } catch (IOException e) {
                    throw new CloneMetadata.DataFlushException(e);
                }
                return;
            }
            meta.commit(dest);
        } catch (CloneMetadata.DataFlushException e) {
            failedReason = e.getMessage();
            LOG.error("clone {}: {}; the clone has failed: every I/O fails until it is restarted (writes since "
                    + "the last commit may be lost: a failed flush drops them; the last commit stands)", name,
                    e.getMessage());
            throw e;
        } catch (IOException e) {
            String reason = "metadata commit failed: " + e.getMessage();
            readOnlyReason = reason;
            LOG.error("clone {}: {}; the clone is read-only now (reads go on, the last commit stands)", name, reason);
            throw e;
        }
    }

    private void periodicCommit() {
        try {
            if (meta.changed()) {
                flush();
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("clone {}: periodic commit failed: {}", name, e.toString());
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        boolean passdown = settings.discardPassdown();
        eachRegionPiece(offset, length, (r, from, to, whole) -> {
            if (meta.isHydrated(r)) {
                if (passdown) {
                    dest.discard(from, to - from);
                }
            } else if (whole) {
                // nothing to copy: the region's old content is what is being thrown away
                coverWhole(r, () -> {
                    if (passdown) {
                        dest.discard(from, to - from);
                    }
                });
            } else if (passdown) {
                hydrate(r);
                dest.writeZeroes(from, to - from);
            }
        });
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        eachRegionPiece(offset, length, (r, from, to, whole) -> {
            if (whole) {
                coverWhole(r, () -> dest.writeZeroes(from, to - from));
            } else {
                hydrate(r);
                dest.writeZeroes(from, to - from);
            }
        });
    }

    /** What {@link #eachRegionPiece} does with the part {@code [from, to)} of region {@code r}. */
    @FunctionalInterface
    private interface RegionPiece {
        void apply(long r, long from, long to, boolean whole) throws IOException;
    }

    /** A writing command other than WRITE: checks, counts it as user I/O, and walks its regions. */
    private void eachRegionPiece(long offset, long length, RegionPiece piece) throws IOException {
        checkWritable();
        Ranges.check(this, offset, length);
        if (length == 0) {
            return;
        }
        userIo.incrementAndGet();
        try {
            long end = offset + length;
            for (long r = regionOf(offset), last = regionOf(end - 1); r <= last; r++) {
                long from = Math.max(offset, regionStart(r));
                long to = Math.min(end, regionEnd(r));
                piece.apply(r, from, to, from == regionStart(r) && to == regionEnd(r));
            }
        } finally {
            userIo.decrementAndGet();
        }
    }

    /** An action on the destination that may throw. */
    @FunctionalInterface
    private interface DestAction {
        void run() throws IOException;
    }

    /**
     * For an operation that replaces region {@code r} whole: runs it and marks the region
     * hydrated without copying it (the region is claimed meanwhile, so no copy of it runs at the
     * same time). A region that is hydrated by the time it is claimed just gets the operation.
     */
    private void coverWhole(long r, DestAction action) throws IOException {
        CompletableFuture<Void> c = claim(r);
        if (c == null) {
            action.run();
            return;
        }
        try {
            action.run();
            meta.markHydrated(r, 1);
        } finally {
            release(r, c);
        }
    }

    @Override
    public Extent extentAt(long offset) throws IOException {
        checkNotFailed();
        Ranges.check(this, offset, 0);
        if (offset == size) {
            return new Extent(offset, 0, true);
        }
        long region = regionOf(offset);
        boolean hydrated = meta.isHydrated(region);
        long runEnd = regionEnd(region);
        while (runEnd < size && meta.isHydrated(regionOf(runEnd)) == hydrated) {
            runEnd = regionEnd(regionOf(runEnd));
        }
        if (!hydrated) {
            return new Extent(offset, runEnd - offset, true);
        }
        Extent e = dest.extentAt(offset);
        return new Extent(offset, Math.min(e.length(), runEnd - offset), e.allocated());
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        Ranges.check(this, offset, length);
        if (allHydrated(offset, length)) {
            dest.prefetch(offset, length);
        }
    }

    // ---- control and status ----------------------------------------------------------------

    /** Stops background copying (user I/O still hydrates what it needs). */
    public void pause() {
        hydrator.setPaused(true);
    }

    public void resume() {
        hydrator.setPaused(false);
    }

    /** Changes the hydration rate limit (bytes per second, 0 for none). */
    public void setRate(long bytesPerSecond) {
        hydrator.setRate(bytesPerSecond);
    }

    /**
     * The clone's progress. It is {@code complete} once every region is hydrated and that is
     * committed (the source is let go at that moment), not merely marked.
     */
    public CloneStatus status() {
        long hydratedBytes = Math.min(size, meta.hydratedCount() * regionSize);
        if (meta.allHydrated()) {
            hydratedBytes = size;
        }
        boolean complete = meta.allHydrated() && sourceDetached;
        long rate = hydrator.rate();
        long eta = complete ? 0 : rate > 0 ? (size - hydratedBytes) / rate : -1;
        return new CloneStatus(name, source.describe(), size, regionSize, meta.regions(), meta.hydratedCount(),
                hydratedBytes, claimed(), rate, eta, hydrator.errors(), hydrator.retrying(), hydrator.lastError(),
                failedReason != null ? "failed" : readOnlyReason == null ? "rw" : "read-only",
                complete ? "complete" : hydrator.state(),
                hydrator.paused(), complete, meta.commits());
    }

    /** Called by the hydrator when the last region is in. */
    void hydrationComplete() {
        try {
            flush();
        } catch (IOException e) {
            LOG.error("clone {}: commit after hydration failed: {}", name, e.getMessage());
            return;
        }
        detachSource();
        for (Listener l : listeners) {
            l.hydrationComplete(this);
        }
    }

    void sourceError(IOException e) {
        for (Listener l : listeners) {
            l.sourceError(this, e);
        }
    }

    /** Once everything is hydrated the source is never read again; let it go. */
    private void detachSource() {
        if (!sourceDetached) {
            sourceDetached = true;
            try {
                source.close();
            } catch (IOException e) {
                LOG.debug("clone {}: closing the source: {}", name, e.toString());
            }
        }
    }

    public boolean sourceDetached() {
        return sourceDetached;
    }

    @Override
    public String describe() {
        return "clone " + name + " of " + source.describe() + " into " + dest.describe();
    }

    /** Stops hydration, commits, and closes the destination, the metadata and the source. */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        hydrator.stop();
        timer.shutdownNow();
        IOException failure = null;
        if (failedReason == null) { // a failed clone was reported when it failed; nothing can be committed
            try {
                flush();
            } catch (IOException e) {
                failure = e;
            }
        }
        for (AutoCloseable c : new AutoCloseable[]{dest, metaDevice, sourceDetached ? null : source}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    if (failure == null) {
                        failure = e instanceof IOException io ? io : new IOException(e);
                    }
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return describe();
    }

    static UncheckedIOException unchecked(IOException e) {
        return new UncheckedIOException(e);
    }
}
