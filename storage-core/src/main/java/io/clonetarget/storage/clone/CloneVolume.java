package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.Ranges;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.lock.RegionClaims;
import io.clonetarget.storage.meta.CloneInfo;
import io.clonetarget.storage.meta.CloneStore;
import io.clonetarget.storage.meta.GroupCommitter;
import io.clonetarget.storage.time.Clock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
 *   <li>{@link #flush()} commits: destination flush, then metadata; concurrent flushes share a
 *       commit ({@link GroupCommitter}). A FUA write touching a region that is not in the last
 *       <em>durable</em> commit commits before it returns. Anything marked is committed within a
 *       second anyway; with nothing marked, no metadata is written.</li>
 * </ul>
 *
 * <p>Parts: {@link RegionGeometry} (offsets to regions), {@link RegionClaims} (only a region's
 * claim holder copies into it or changes its state; claims are taken in ascending order, by
 * users waiting and by the hydrator skipping, so a background copy can never overwrite a user's
 * whole-region write and no deadlock is possible), {@link CopyEngine}, {@link CloneMetadata}
 * (in-core maps and commits), {@link Hydrator}, and the {@link CloneMode}. Thread-safe.
 */
public final class CloneVolume implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(CloneVolume.class);

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
    private final RegionGeometry geometry;
    private final RegionClaims claims = new RegionClaims();
    private final CopyEngine copier;
    private final GroupCommitter committer = new GroupCommitter(this::commitOnce);
    private final ScheduledExecutorService timer;
    private final Hydrator hydrator;
    private final CloneIo io;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private volatile CloneMode mode = CloneMode.READ_WRITE;
    private volatile boolean sourceDetached;

    private CloneVolume(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice, CloneStore store,
                        Settings settings, Clock clock) {
        this.name = name;
        this.source = source;
        this.dest = dest;
        this.metaDevice = metaDevice;
        this.meta = new CloneMetadata(store);
        this.settings = settings;
        this.geometry = RegionGeometry.of(store.info().targetSize(), settings.regionSize());
        this.copier = new CopyEngine(source, dest, geometry);
        this.timer = Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().daemon().name("clone-" + name + "-commit").unstarted(r));
        this.hydrator = new Hydrator(this, settings.hydration(), clock);
        this.io = new CloneIo(name, geometry, meta, claims, copier, source, dest, settings, hydrator, e -> {
            LOG.error("clone {}: {}; hydration stopped", name, e.getMessage());
            sourceError(e);
        });
    }

    /** The clone's size for this source: the source's size rounded down to the block size. */
    static long sizeOf(CloneSource source, Settings settings) {
        return source.size() - source.size() % settings.logicalBlockSize();
    }

    /**
     * Writes the metadata of a new clone of {@code source} on a blank metadata device. Refuses a
     * device that holds anything: existing metadata is never formatted over.
     */
    public static void format(CloneSource source, BlockDevice metaDevice, Settings settings) throws IOException {
        long size = sizeOf(source, settings);
        if (size <= 0) {
            throw new IOException("source " + source.describe() + " is empty");
        }
        CloneInfo info;
        try {
            info = CloneInfo.of(UUID.randomUUID(), settings.regionSize(), size, settings.logicalBlockSize(),
                    System.currentTimeMillis(), source.descriptor());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        CloneStore.format(metaDevice, info, null);
    }

    /** Formats new metadata ({@link #format}) and opens the clone. */
    public static CloneVolume create(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice,
                                     Settings settings) throws IOException {
        try {
            format(source, metaDevice, settings);
        } catch (IOException e) {
            throw new IOException("clone " + name + ": " + e.getMessage(), e);
        }
        return open(name, source, dest, metaDevice, settings);
    }

    /**
     * Opens a clone from its existing metadata, checking that it describes this clone (sizes,
     * region size, block size) and this source version. Never formats: metadata that is blank
     * or damaged is refused.
     *
     * @param dest the destination, exactly the clone's size
     */
    public static CloneVolume open(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice,
                                   Settings settings) throws IOException {
        return open(name, source, dest, metaDevice, settings, Clock.SYSTEM);
    }

    /** {@link #open} with the clock that paces hydration. */
    public static CloneVolume open(String name, CloneSource source, BlockDevice dest, BlockDevice metaDevice,
                                   Settings settings, Clock clock) throws IOException {
        long size = sizeOf(source, settings);
        if (size <= 0) {
            throw new IOException("clone " + name + ": source " + source.describe() + " is empty");
        }
        if (dest.size() != size) {
            throw new IOException("clone " + name + ": destination " + dest.describe() + " is " + dest.size()
                    + " bytes, the source " + size);
        }
        CloneStore store = CloneStore.open(metaDevice);
        CloneInfo info = store.info();
        if (info.regionSize() != settings.regionSize()) {
            throw new IOException("clone " + name + ": the metadata has region size " + info.regionSize()
                    + ", the configuration " + settings.regionSize() + " (the region size cannot change)");
        }
        if (info.targetSize() != size) {
            throw new IOException("clone " + name + ": the metadata describes " + info.targetSize()
                    + " bytes, the source has " + size);
        }
        if (info.logicalBlockSize() != settings.logicalBlockSize()) {
            throw new IOException("clone " + name + ": the metadata has block size " + info.logicalBlockSize()
                    + ", the configuration " + settings.logicalBlockSize());
        }
        source.checkSame(info.source());
        CloneVolume v = new CloneVolume(name, source, dest, metaDevice, store, settings, clock);
        v.start();
        return v;
    }

    /** Bytes of metadata a clone of {@code size} bytes at {@code regionSize} needs. */
    public static long metadataBytes(long size, long regionSize) {
        return CloneStore.bytesNeeded(CloneInfo.regionCount(size, regionSize));
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

    RegionGeometry geometry() {
        return geometry;
    }

    RegionClaims claims() {
        return claims;
    }

    CopyEngine copier() {
        return copier;
    }

    Hydrator hydrator() {
        return hydrator;
    }

    public UUID uuid() {
        return meta.info().uuid();
    }

    int userIoInFlight() {
        return io.inFlight();
    }

    // ---- BlockDevice -----------------------------------------------------------------------

    @Override
    public long size() {
        return geometry.size();
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
    public Space space() throws IOException {
        return dest.space();
    }

    @Override
    public boolean isReadOnly() {
        return !(mode instanceof CloneMode.ReadWrite);
    }

    /** After a failed destination flush nothing the clone would answer can be trusted. */
    private void checkNotFailed() throws IOException {
        if (mode instanceof CloneMode.Failed(String reason)) {
            throw new IOException("clone " + name + " has failed (" + reason + "); restart it once the destination "
                    + "is healthy");
        }
    }

    private void checkWritable() throws IOException {
        checkNotFailed();
        if (mode instanceof CloneMode.ReadOnly(String reason)) {
            throw new ReadOnlyException("clone " + name + " is read-only: " + reason);
        }
    }

    @Override
    public boolean discardZeroesData() {
        return settings.discardPassdown() && dest.discardZeroesData();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkNotFailed();
        Ranges.check(this, offset, dst.remaining());
        if (meta.allHydrated()) {
            dest.read(offset, dst);
            return;
        }
        io.read(offset, dst);
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        Ranges.check(this, offset, dst.remaining());
        return !(mode instanceof CloneMode.Failed) && io.allHydrated(offset, dst.remaining()) && dest.tryRead(offset, dst);
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src) throws IOException {
        Ranges.check(this, offset, src.remaining());
        return mode instanceof CloneMode.ReadWrite && io.allHydrated(offset, src.remaining())
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
        if (io.write(offset, src, fua)) {
            flush();
        }
    }

    /** Commits (see the class description); returns once a commit that began after this call is durable. */
    @Override
    public void flush() throws IOException {
        committer.commit();
    }

    @Override
    public void startWriteback() throws IOException {
        dest.startWriteback();
    }

    private void commitOnce() throws IOException {
        checkNotFailed();
        try {
            if (mode instanceof CloneMode.ReadOnly) {
                try {
                    dest.flush();
                } catch (IOException e) {
                    throw new CloneMetadata.DataFlushException(e);
                }
                return;
            }
            meta.commit(dest);
        } catch (CloneMetadata.DataFlushException e) {
            mode = new CloneMode.Failed(e.getMessage());
            LOG.error("clone {}: {}; the clone has failed: every I/O fails until it is restarted (writes since "
                    + "the last commit may be lost: a failed flush drops them; the last commit stands)", name,
                    e.getMessage());
            throw e;
        } catch (IOException e) {
            String reason = "metadata commit failed: " + e.getMessage();
            mode = new CloneMode.ReadOnly(reason);
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
        checkWritable();
        Ranges.check(this, offset, length);
        io.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        Ranges.check(this, offset, length);
        io.writeZeroes(offset, length);
    }

    @Override
    public Extent extentAt(long offset) throws IOException {
        checkNotFailed();
        Ranges.check(this, offset, 0);
        return io.extentAt(offset);
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        Ranges.check(this, offset, length);
        if (io.allHydrated(offset, length)) {
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
        long size = geometry.size();
        long hydratedBytes = meta.allHydrated() ? size
                : Math.min(size, Math.multiplyExact(meta.hydratedCount(), geometry.regionSize()));
        boolean complete = meta.allHydrated() && sourceDetached;
        long rate = hydrator.rate();
        long eta = complete ? 0 : rate > 0 ? (size - hydratedBytes) / rate : -1;
        return new CloneStatus(name, source.describe(), size, geometry.regionSize(), meta.regions(),
                meta.hydratedCount(), hydratedBytes, claims.held(), rate, eta, hydrator.errors(), hydrator.retrying(),
                hydrator.lastError(), mode.label(), complete ? "complete" : hydrator.state(), hydrator.paused(),
                complete, meta.commits());
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

    /**
     * Stops hydration, commits, and closes the destination, the metadata and the source. A copy
     * the hydrator could not stop in time fails on the closed devices (they refuse every call
     * after close and wait for the calls inside), never reaching another file.
     */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        hydrator.stop();
        timer.shutdownNow();
        IOException failure = null;
        if (!(mode instanceof CloneMode.Failed)) { // a failed clone was reported when it failed
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
}
