package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.ClosedDeviceException;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.device.NoSpaceException;
import io.clonetarget.storage.device.Ranges;
import io.clonetarget.storage.device.ReadOnlyException;
import io.clonetarget.storage.lock.RegionClaims;
import io.clonetarget.storage.meta.GroupCommitter;
import io.clonetarget.storage.meta.SnapshotStore;
import io.clonetarget.storage.meta.SnapshotStore.Entry;
import io.clonetarget.storage.meta.SnapshotStore.Exception;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Point-in-time snapshots of one volume by chunk copy-on-write: the {@link #origin()} device
 * that LUNs of the volume write through, and snapshot {@linkplain #image images}.
 *
 * <p><b>Copy-on-write.</b> Snapshot ids only grow. For each chunk, {@code last[c]} is the newest
 * snapshot id for which the chunk's current origin data is already taken care of. The first
 * write to chunk {@code c} while the newest snapshot is {@code N > last[c]} holds the chunk's
 * claim, reads the old chunk, stores it in a free slot of the {@link DiffStorage}, and commits the
 * exception "slot holds chunk c for snapshots (last[c], N]" (slot data flushed, then metadata,
 * superblock last); only then does the write go to the origin. So the cost of a first write is
 * the same with one snapshot or with thousands: one copy serves every snapshot taken since the
 * chunk last changed. Later writes to the chunk go straight through. Concurrent copies share
 * commits ({@link GroupCommitter}). A write covering whole chunks still copies them.
 *
 * <p><b>Reading a snapshot</b> {@code k}: its private copy of the chunk if it was written, else
 * the exception covering {@code k}, else the origin, read under the chunk's claim so no
 * copy-on-write can overwrite the origin in between. A hydrating clone as the origin serves its
 * logical content; hydration writes below it and never triggers a copy.
 *
 * <p><b>Creation</b> takes the write gate exclusively: in-flight writes drain, the origin is
 * flushed, the new entry committed; new writes wait only that long. <b>Deletion</b> (any
 * snapshot) frees the slots no other snapshot needs, in one commit, under the same gate.
 *
 * <p><b>Overflow.</b> When the difference storage is full at its limit, the snapshots the copy
 * was for are marked failed (committed) and the origin write proceeds: the origin never loses
 * or fails a write because of a snapshot. A failed snapshot's image answers medium errors. When
 * metadata cannot be committed at all, every snapshot is failed and the failure is recorded
 * outside the metadata ({@link FailureRecord}) before the origin is written; only when even that
 * fails does the origin write fail, since completing it would silently corrupt a snapshot.
 *
 * <p>Locks: {@code gate} (writes shared, create/delete exclusive) → chunk claims (ascending) →
 * {@code this} (the in-core maps, short sections) / {@code pendingLock}. Thread-safe.
 */
public final class SnapshotVolume implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotVolume.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** Geometry and limits. */
    public record Settings(int chunkSize, long diffLimit, long growStep, int lowSpacePercent, int tableCapacity,
                           int copyBuffers) {
        public static final int DEFAULT_CHUNK = 64 * 1024;

        public Settings {
            if (Integer.bitCount(chunkSize) != 1 || chunkSize < 4096 || chunkSize > (1 << 20)) {
                throw new IllegalArgumentException("chunk size " + chunkSize + " is not a power of two from 4K to 1M");
            }
            if (diffLimit < chunkSize || growStep < chunkSize || lowSpacePercent < 0 || lowSpacePercent > 100
                    || tableCapacity < 1 || copyBuffers < 1) {
                throw new IllegalArgumentException("snapshot settings: limit " + diffLimit + ", step " + growStep
                        + ", low space " + lowSpacePercent + "%, " + tableCapacity + " snapshots, " + copyBuffers
                        + " copy buffers");
            }
        }

        /** Defaults for a volume of {@code size} bytes: a limit of the volume's size, 1024 snapshots. */
        public static Settings defaults(long size) {
            long limit = Math.max(DEFAULT_CHUNK, size - size % DEFAULT_CHUNK);
            return new Settings(DEFAULT_CHUNK, limit, 64L << 20, 10, 1024, 64);
        }

        public Settings withLimit(long limit) {
            return new Settings(chunkSize, limit, growStep, lowSpacePercent, tableCapacity, copyBuffers);
        }
    }

    /** Where a failure that the metadata could not record is kept instead (a marker file). */
    @FunctionalInterface
    public interface FailureRecord {
        /** Durably records that every snapshot up to {@code newestId} failed; false when that failed too. */
        boolean record(long newestId, String reason);

        FailureRecord NONE = (id, reason) -> false;
    }

    /** Told about events: low space in the difference storage, failed snapshots. */
    public interface Listener {
        default void lowSpace(SnapshotVolume volume, long freeBytes, long limitBytes) {
        }

        default void failed(SnapshotVolume volume, String snapshot, String reason) {
        }
    }

    /** What a snapshot is now. */
    public record SnapshotInfo(long id, String name, long createdMillis, boolean failed, String failure, String group,
                               int groupSize, long storedBytes, long exclusiveBytes) {
    }

    /** The volume's snapshot status. */
    public record Status(int snapshots, int chunkSize, long diffUsedBytes, long diffAllocatedBytes, long diffLimitBytes,
                         boolean lowSpace, long copies, long copiedBytes, long lastHoldNanos, long metadataCommits,
                         java.util.UUID trackingId, String failure) {
    }

    /** A byte range of the volume. */
    public record Extent(long offset, long length) {
    }

    /** The states a chunk passes while it is copied (what {@link #chunksInFlight} shows). */
    public enum ChunkState { LOADING, BUFFER_READY, STORING, STORED, FAILED }

    private static final class Snap {
        final long id;
        final String name;
        final long created;
        final String group;
        final int groupSize;
        final int index;
        volatile String failure;
        /** Whether the failure is committed or recorded (only then may the origin change what it lost). */
        volatile boolean failureDurable;
        volatile boolean deleted;

        Snap(Entry e, int index, String failure) {
            this.id = e.id();
            this.name = e.name();
            this.created = e.createdMillis();
            this.group = e.group();
            this.groupSize = e.groupSize();
            this.index = index;
            this.failure = failure;
            this.failureDurable = failure != null;
        }

        Entry entry() {
            Entry e = new Entry(id, name, created, SnapshotStore.State.VALID, group, groupSize);
            return failure == null ? e : e.failed();
        }
    }

    private final String name;
    private final BlockDevice origin;
    private final BlockDevice metaDevice;
    private final SnapshotStore store;
    private final DiffStorage diff;
    private final Settings settings;
    private final int chunk;
    private final int shift;
    private final long chunks;
    private final FailureRecord failureRecord;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock(true);
    private final RegionClaims claims = new RegionClaims();
    private final GroupCommitter committer = new GroupCommitter(this::commitOnce);
    private final Semaphore buffers;
    private final ConcurrentLinkedQueue<ByteBuffer> idleBuffers = new ConcurrentLinkedQueue<>();
    /** One chunk of zeroes, never written: what writable images write for write-zeroes and discard. */
    private final ByteBuffer zeros;
    private final ConcurrentHashMap<Long, ChunkState> inFlight = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Origin originView = new Origin();
    private final AtomicLong copies = new AtomicLong();
    private final AtomicLong copiedBytes = new AtomicLong();

    // guarded by this
    private final AtomicLongArray last;
    private final int[] head;
    private final int[] next;
    private final Exception[] live;
    private final TreeMap<Long, Snap> byId = new TreeMap<>();
    private final Map<String, Snap> byName = new ConcurrentHashMap<>();
    private boolean lowSpace;

    // guarded by pendingLock
    private final Object pendingLock = new Object();
    private TreeMap<Long, Exception> pendingSlots = new TreeMap<>();
    private TreeMap<Integer, Entry> pendingTable = new TreeMap<>();
    private SnapshotStore.Info pendingInfo;

    private volatile long newest;
    private volatile String metadataFailure;
    private volatile long lastHold;
    private volatile boolean closed;
    private volatile Runnable whileHeld = () -> { };
    private volatile java.util.function.LongConsumer beforeCopyCommit = c -> { };
    /** Who holds which snapshot (a clone hydrating from it), by snapshot name; guarded by itself. */
    private final Map<String, List<String>> holders = new java.util.HashMap<>();

    private SnapshotVolume(String name, BlockDevice origin, BlockDevice metaDevice, SnapshotStore store,
                           BlockDevice diffDevice, Settings settings, FailureRecord failureRecord, long failedUpTo,
                           String failedWhy) throws IOException {
        SnapshotStore.Info info = store.info();
        if (info.volumeSize() != origin.size()) {
            throw new IllegalArgumentException("snapshot store of " + name + " is for a volume of " + info.volumeSize()
                    + " bytes; the volume has " + origin.size());
        }
        this.name = name;
        this.origin = origin;
        this.metaDevice = metaDevice;
        this.store = store;
        this.settings = settings;
        this.chunk = info.chunkSize();
        this.shift = Integer.numberOfTrailingZeros(chunk);
        this.chunks = info.chunks();
        this.failureRecord = failureRecord;
        this.diff = new DiffStorage(diffDevice, chunk, info.slotCapacity(), settings.growStep());
        this.buffers = new Semaphore(settings.copyBuffers());
        this.zeros = ByteBuffer.allocateDirect(chunk);
        int n = Math.toIntExact(chunks);
        this.last = new AtomicLongArray(n);
        this.head = new int[n];
        Arrays.fill(head, -1);
        int slots = Math.toIntExact(info.slotCapacity());
        this.next = new int[slots];
        this.live = new Exception[slots];
        for (int s = 0; s < slots; s++) {
            Exception x = store.slot(s);
            if (x != null) {
                diff.use(s);
                link(s, x);
            }
        }
        for (int i = 0; i < info.tableCapacity(); i++) {
            Entry e = store.entry(i);
            if (e != null) {
                String why = e.state() == SnapshotStore.State.FAILED ? "failed before the last restart"
                        : e.id() <= failedUpTo ? failedWhy : null;
                Snap s = new Snap(e, i, why);
                byId.put(s.id, s);
                byName.put(s.name, s);
            }
        }
        this.newest = byId.isEmpty() ? 0 : byId.lastKey();
    }

    /**
     * Formats a new snapshot store for {@code origin} on a blank metadata device and opens it.
     *
     * @param diffDevice where the difference storage lives (a file grown as needed)
     */
    public static SnapshotVolume format(String name, BlockDevice origin, BlockDevice metaDevice, BlockDevice diffDevice,
                                        Settings settings, FailureRecord failureRecord) throws IOException {
        SnapshotStore store = SnapshotStore.format(metaDevice, info(origin, settings));
        return new SnapshotVolume(name, origin, metaDevice, store, diffDevice, settings, failureRecord, 0, null);
    }

    /** The info of a new store for {@code origin}. */
    static SnapshotStore.Info info(BlockDevice origin, Settings settings) {
        return new SnapshotStore.Info(java.util.UUID.randomUUID(), origin.size(), settings.chunkSize(),
                settings.tableCapacity(), settings.diffLimit() / settings.chunkSize(), 1, java.util.UUID.randomUUID());
    }

    /**
     * Opens an existing store. {@code failedUpTo} and {@code failedWhy} come from a failure
     * record: snapshots up to that id are failed even though the metadata could not say so.
     */
    public static SnapshotVolume open(String name, BlockDevice origin, BlockDevice metaDevice, BlockDevice diffDevice,
                                      Settings settings, FailureRecord failureRecord, long failedUpTo, String failedWhy)
            throws IOException {
        SnapshotStore store = SnapshotStore.open(metaDevice);
        Settings actual = new Settings(store.info().chunkSize(),
                store.info().slotCapacity() * store.info().chunkSize(), settings.growStep(),
                settings.lowSpacePercent(), store.info().tableCapacity(), settings.copyBuffers());
        return new SnapshotVolume(name, origin, metaDevice, store, diffDevice, actual, failureRecord, failedUpTo,
                failedWhy);
    }

    public String name() {
        return name;
    }

    /** The device LUNs of the volume write through: copy-on-write before the origin changes. */
    public BlockDevice origin() {
        return originView;
    }

    /** The device underneath. */
    public BlockDevice underlying() {
        return origin;
    }

    public int chunkSize() {
        return chunk;
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    /** Chunks being copied right now, by state. */
    public Map<Long, ChunkState> chunksInFlight() {
        return Map.copyOf(inFlight);
    }

    // ---- the in-core maps ------------------------------------------------------------------

    private void link(int slot, Exception x) {
        live[slot] = x;
        int c = (int) x.chunk();
        next[slot] = head[c];
        head[c] = slot;
        if (!x.privateCopy() && x.to() > last.get(c)) {
            last.set(c, x.to());
        }
    }

    private void unlink(int slot) {
        Exception x = live[slot];
        if (x == null) {
            return;
        }
        int c = (int) x.chunk();
        if (head[c] == slot) {
            head[c] = next[slot];
        } else {
            for (int s = head[c]; s >= 0; s = next[s]) {
                if (next[s] == slot) {
                    next[s] = next[slot];
                    break;
                }
            }
        }
        live[slot] = null;
    }

    /** The slot snapshot {@code id} reads chunk {@code c} from, or -1 for the origin. */
    private synchronized int source(long c, long id) {
        int shared = -1;
        for (int s = head[(int) c]; s >= 0; s = next[s]) {
            Exception x = live[s];
            if (x.privateCopy() && x.from() == id) {
                return s;
            }
            if (!x.privateCopy() && x.covers(id)) {
                shared = s;
            }
        }
        return shared;
    }

    private synchronized int privateSlot(long c, long id) {
        for (int s = head[(int) c]; s >= 0; s = next[s]) {
            Exception x = live[s];
            if (x.privateCopy() && x.from() == id) {
                return s;
            }
        }
        return -1;
    }

    private synchronized boolean anyValid(long from, long to) {
        for (Snap s : byId.subMap(from, true, to, true).values()) {
            if (s.failure == null) {
                return true;
            }
        }
        return false;
    }

    private synchronized void raiseLast(long c, long id) {
        if (last.get((int) c) < id) {
            last.set((int) c, id);
        }
    }

    // ---- commits ---------------------------------------------------------------------------

    private void commitOnce() throws IOException {
        TreeMap<Long, Exception> slots;
        TreeMap<Integer, Entry> table;
        SnapshotStore.Info info;
        synchronized (pendingLock) {
            slots = pendingSlots;
            table = pendingTable;
            info = pendingInfo;
            pendingSlots = new TreeMap<>();
            pendingTable = new TreeMap<>();
            pendingInfo = null;
        }
        // the failure first: a caller whose changes went into an earlier commit that failed shares this
        // (empty) one, and must hear of that failure, never that its changes are durable
        String failure = metadataFailure;
        if (failure != null) {
            throw new IOException("snapshot metadata of " + name + " takes no more commits: " + failure);
        }
        if (slots.isEmpty() && table.isEmpty() && info == null) {
            return;
        }
        try {
            diff.flush();
            store.commit(info, table, slots);
        } catch (IOException | RuntimeException e) {
            metadataFailure = e.getMessage();
            throw e;
        }
        List<Long> freed = new ArrayList<>();
        synchronized (this) {
            table.forEach((i, e) -> {
                Snap snap = e == null ? null : byId.get(e.id());
                if (snap != null && e.state() == SnapshotStore.State.FAILED) {
                    snap.failureDurable = true;
                }
            });
            slots.forEach((s, x) -> {
                unlink(Math.toIntExact(s));
                if (x == null) {
                    freed.add(s);
                } else {
                    link(Math.toIntExact(s), x);
                }
            });
        }
        for (long s : freed) {
            diff.free(s);
        }
        checkSpace();
    }

    private void enqueue(Long slot, Exception x, Integer index, Entry e, SnapshotStore.Info info) {
        synchronized (pendingLock) {
            if (slot != null) {
                pendingSlots.put(slot, x);
            }
            if (index != null) {
                pendingTable.put(index, e);
            }
            if (info != null) {
                pendingInfo = info;
            }
        }
    }

    private void checkSpace() {
        long free = (diff.capacity() - diff.slotsInUse()) * chunk;
        long limit = diff.capacity() * chunk;
        boolean low = free * 100 < limit * settings.lowSpacePercent();
        boolean raise;
        synchronized (this) {
            raise = low && !lowSpace;
            lowSpace = low;
        }
        if (raise) {
            LOG.warn("snapshots of {}: difference storage is low on space: {} of {} bytes free", name, free, limit);
            for (Listener l : listeners) {
                l.lowSpace(this, free, limit);
            }
        }
    }

    // ---- copy-on-write ---------------------------------------------------------------------

    private boolean needsCopy(long offset, long length) {
        long n = newest;
        if (n == 0 || length == 0) {
            return false;
        }
        for (long c = offset >>> shift; c <= (offset + length - 1) >>> shift; c++) {
            if (last.get((int) c) < n) {
                return true;
            }
        }
        return false;
    }

    /** Preserves, for the snapshots that need it, every chunk a change of {@code [offset, offset+length)} touches. */
    private void preserve(long offset, long length) throws IOException {
        long n = newest;
        if (n == 0 || length == 0) {
            return;
        }
        for (long c = offset >>> shift; c <= (offset + length - 1) >>> shift; c++) {
            if (last.get((int) c) < n) {
                preserveChunk(c, n);
            }
        }
    }

    private void preserveChunk(long c, long n) throws IOException {
        RegionClaims.Claim claim = claims.claim(c, u -> last.get((int) u) >= n);
        if (claim == null) {
            return;
        }
        try {
            long from = last.get((int) c) + 1;
            if (!anyValid(from, n)) {
                awaitFailuresDurable(from, n);
                raiseLast(c, n);
                return;
            }
            if (metadataFailure != null) {
                fail(from, n, "snapshot metadata cannot be committed: " + metadataFailure);
                raiseLast(c, n);
                return;
            }
            inFlight.put(c, ChunkState.LOADING);
            ByteBuffer buf = takeBuffer();
            long slot = -1;
            try {
                long start = c << shift;
                int len = (int) Math.min(chunk, origin.size() - start);
                buf.clear().limit(len);
                origin.read(start, buf);
                inFlight.put(c, ChunkState.BUFFER_READY);
                slot = diff.allocate();
                if (slot < 0) {
                    inFlight.put(c, ChunkState.FAILED);
                    fail(from, n, "the difference storage is full (" + diff.capacity() * chunk + " bytes)");
                    raiseLast(c, n);
                    return;
                }
                inFlight.put(c, ChunkState.STORING);
                buf.flip();
                if (isZero(buf) && diff.device().discardZeroesData()) {
                    diff.device().discard(slot * chunk, chunk); // a hole stays a hole: no space, reported unallocated
                } else {
                    diff.write(slot, 0, buf, false);
                }
                enqueue(slot, new Exception(c, from, n, false), null, null, null);
                beforeCopyCommit.accept(c);
                committer.commit();
                inFlight.put(c, ChunkState.STORED);
                copies.incrementAndGet();
                copiedBytes.addAndGet(len);
            } catch (IOException | RuntimeException e) {
                inFlight.put(c, ChunkState.FAILED);
                if (slot >= 0 && live[(int) slot] == null) {
                    diff.abandon(slot);
                }
                LOG.error("snapshots of {}: copy-on-write of chunk {} failed: {}", name, c, e.getMessage());
                fail(from, n, "copy-on-write of chunk " + c + " failed: " + e.getMessage());
                raiseLast(c, n);
            } finally {
                giveBuffer(buf);
            }
        } finally {
            inFlight.remove(c);
            claims.release(claim);
        }
    }

    /**
     * Marks the valid snapshots with ids in {@code [from, to]} failed, committed; when that commit
     * fails, in the failure record.
     *
     * @throws IOException when neither could record it (the origin write must not proceed)
     */
    private void fail(long from, long to, String reason) throws IOException {
        List<Snap> hit = new ArrayList<>();
        synchronized (this) {
            for (Snap s : byId.subMap(from, true, to, true).values()) {
                if (s.failure == null) {
                    s.failure = reason;
                    hit.add(s);
                    // queued under the same lock that marks it, so whoever sees the mark and waits for
                    // a commit finds the entry in it
                    enqueue(null, null, s.index, s.entry(), null);
                }
            }
        }
        for (Snap s : hit) {
            LOG.error("snapshot {}@{} failed: {}", name, s.name, reason);
        }
        awaitFailuresDurable(from, to);
        for (Snap s : hit) {
            for (Listener l : listeners) {
                l.failed(this, s.name, reason);
            }
        }
    }

    /**
     * Returns once every failure of a snapshot in {@code [from, to]} is durable (committed, or in
     * the failure record), so the origin may change what they would have needed.
     */
    private void awaitFailuresDurable(long from, long to) throws IOException {
        boolean pending = false;
        synchronized (this) {
            for (Snap s : byId.subMap(from, true, to, true).values()) {
                pending |= s.failure != null && !s.failureDurable;
            }
        }
        if (!pending) {
            return;
        }
        try {
            if (metadataFailure != null) {
                throw new IOException(metadataFailure);
            }
            committer.commit();
        } catch (IOException e) {
            failAll("snapshot metadata cannot be committed: " + e.getMessage());
        }
    }

    /** The metadata can no longer record anything: every snapshot fails, recorded outside it. */
    private void failAll(String reason) throws IOException {
        long upTo;
        synchronized (this) {
            for (Snap s : byId.values()) {
                if (s.failure == null) {
                    s.failure = reason;
                }
            }
            upTo = newest;
        }
        if (!failureRecord.record(upTo, reason)) {
            throw new MediumErrorException("snapshots of " + name + " cannot record their failure (" + reason
                    + "); refusing a write that would silently change them", true);
        }
        synchronized (this) {
            for (Snap s : byId.values()) {
                s.failureDurable = true;
            }
        }
    }

    // ---- creation and deletion -------------------------------------------------------------

    /** Checks a snapshot name: 1 to 64 of letters, digits, '.', '_' and '-', starting with a letter or digit. */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            return "snapshot name '" + name + "' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                    + "letter or digit";
        }
        return null;
    }

    /** Takes a snapshot of this volume alone. */
    public SnapshotInfo create(String snapshotName) throws IOException {
        return createGroup(List.of(this), snapshotName, "").getFirst();
    }

    /**
     * Takes one snapshot named {@code snapshotName} of every volume at one point in time: writes
     * to all of them are held (in-flight ones drain), each origin is flushed, each entry
     * committed, then writes go on. {@code group} names the group in each entry ("" for none).
     */
    public static List<SnapshotInfo> createGroup(List<SnapshotVolume> volumes, String snapshotName, String group)
            throws IOException {
        String problem = checkName(snapshotName);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        if (!group.isEmpty() && checkName(group) != null) {
            throw new IllegalArgumentException("group " + checkName(group).substring(9));
        }
        List<SnapshotVolume> ordered = new ArrayList<>(volumes);
        ordered.sort(Comparator.comparing(SnapshotVolume::name));
        for (int i = 1; i < ordered.size(); i++) {
            if (ordered.get(i) == ordered.get(i - 1)) {
                throw new IllegalArgumentException("volume " + ordered.get(i).name + " is named twice");
            }
        }
        for (SnapshotVolume v : ordered) {
            v.checkCanCreate(snapshotName);
        }
        for (SnapshotVolume v : ordered) {
            // most of what the flush under the gate would write, written while writes still flow (as a
            // file system is synced before it is frozen): the flush that holds them then has little to do
            v.origin.flush();
        }
        int locked = 0;
        long start = System.nanoTime();
        try {
            for (SnapshotVolume v : ordered) {
                v.gate.writeLock().lock();
                locked++;
            }
            for (SnapshotVolume v : ordered) {
                v.checkCanCreate(snapshotName);
                v.origin.flush();
                v.whileHeld.run();
            }
            List<SnapshotInfo> made = new ArrayList<>();
            long now = System.currentTimeMillis();
            for (SnapshotVolume v : volumes) {
                made.add(v.commitNew(snapshotName, now, group, group.isEmpty() ? 0 : volumes.size()));
            }
            return made;
        } finally {
            long held = System.nanoTime() - start;
            for (int i = locked - 1; i >= 0; i--) {
                ordered.get(i).lastHold = held;
                ordered.get(i).gate.writeLock().unlock();
            }
        }
    }

    private void checkCanCreate(String snapshotName) throws IOException {
        if (closed) {
            throw new ClosedDeviceException("snapshots of " + name + " are closed");
        }
        if (metadataFailure != null) {
            throw new IOException("snapshots of " + name + " cannot be taken: the metadata takes no more commits ("
                    + metadataFailure + ")");
        }
        if (byName.containsKey(snapshotName)) {
            throw new IllegalArgumentException("volume " + name + " already has a snapshot named " + snapshotName);
        }
        synchronized (this) {
            if (byId.size() >= store.info().tableCapacity()) {
                throw new IllegalArgumentException("volume " + name + " holds " + byId.size() + " snapshots, its limit");
            }
        }
    }

    /** Under the gate: commits a new entry and makes it the newest snapshot. */
    private SnapshotInfo commitNew(String snapshotName, long now, String group, int groupSize) throws IOException {
        int index;
        long id;
        synchronized (this) {
            id = store.info().nextId();
            synchronized (pendingLock) {
                if (pendingInfo != null) {
                    id = pendingInfo.nextId();
                }
            }
            boolean[] taken = new boolean[store.info().tableCapacity()];
            for (Snap s : byId.values()) {
                taken[s.index] = true;
            }
            index = -1;
            for (int i = 0; i < taken.length && index < 0; i++) {
                if (!taken[i]) {
                    index = i;
                }
            }
        }
        Entry e = new Entry(id, snapshotName, now, SnapshotStore.State.VALID, group, groupSize);
        enqueue(null, null, index, e, store.info().withNextId(id + 1));
        try {
            committer.commit();
        } catch (IOException | RuntimeException failure) {
            // the superblock may have reached the disk before the commit failed (its last flush), so the
            // entry may be there after a restart: keep it here as failed, and have the failure recorded up
            // to its id, or writes that go on would silently change a snapshot that comes back valid
            Snap lost = new Snap(e, index, "its creation could not be committed: " + failure.getMessage());
            lost.failureDurable = false;
            synchronized (this) {
                byId.put(id, lost);
                byName.put(snapshotName, lost);
                newest = id;
            }
            try {
                failAll("snapshot metadata cannot be committed: " + failure.getMessage());
            } catch (IOException unrecorded) {
                failure.addSuppressed(unrecorded); // later writes keep trying to record it, and fail until then
            }
            throw failure;
        }
        Snap s = new Snap(e, index, null);
        synchronized (this) {
            byId.put(id, s);
            byName.put(snapshotName, s);
            newest = id;
        }
        LOG.info("snapshot {}@{} taken (id {})", name, snapshotName, id);
        return describe(s);
    }

    /**
     * Holds a snapshot for {@code holder} (e.g. "clone vm2"): deleting it is refused, naming the
     * holder, until the returned action releases it (once; later calls do nothing).
     */
    public Runnable hold(String snapshotName, String holder) {
        synchronized (holders) {
            need(snapshotName); // under the lock delete marks it in: never a hold on a snapshot being deleted
            holders.computeIfAbsent(snapshotName, k -> new ArrayList<>()).add(holder);
        }
        java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                synchronized (holders) {
                    List<String> h = holders.get(snapshotName);
                    if (h != null) {
                        h.remove(holder);
                        if (h.isEmpty()) {
                            holders.remove(snapshotName);
                        }
                    }
                }
            }
        };
    }

    /**
     * Deletes a snapshot and frees what only it needed; every other snapshot still reads its
     * point in time. The caller has stopped serving its image.
     *
     * @throws IllegalStateException while something holds it ({@link #hold}), naming it
     */
    public void delete(String snapshotName) throws IOException {
        Snap s = byName.get(snapshotName);
        if (s == null) {
            throw new IllegalArgumentException("volume " + name + " has no snapshot named " + snapshotName);
        }
        synchronized (holders) {
            List<String> h = holders.get(snapshotName);
            if (h != null && !h.isEmpty()) {
                throw new IllegalStateException("snapshot " + name + "@" + snapshotName + " is the source of "
                        + String.join(", ", h) + ", which still hydrates from it; delete it once that is done");
            }
            if (s.deleted) {
                throw new IllegalArgumentException("volume " + name + " has no snapshot named " + snapshotName);
            }
            s.deleted = true;
        }
        gate.writeLock().lock();
        try {
            synchronized (this) {
                byId.remove(s.id);
                for (int slot = 0; slot < live.length; slot++) {
                    Exception x = live[slot];
                    if (x != null && x.covers(s.id) && (x.privateCopy() || byId.subMap(x.from(), true, x.to(), true)
                            .isEmpty())) {
                        enqueue((long) slot, null, null, null, null);
                    }
                }
            }
            enqueue(null, null, s.index, null, null);
            try {
                committer.commit();
            } catch (IOException e) {
                synchronized (this) {
                    byId.put(s.id, s);
                }
                s.deleted = false;
                throw e;
            }
            synchronized (this) {
                byName.remove(snapshotName);
                newest = byId.isEmpty() ? 0 : byId.lastKey();
            }
            LOG.info("snapshot {}@{} deleted", name, snapshotName);
        } finally {
            gate.writeLock().unlock();
        }
    }

    // ---- queries ---------------------------------------------------------------------------

    public List<SnapshotInfo> list() {
        List<Snap> all;
        synchronized (this) {
            all = new ArrayList<>(byId.values());
        }
        List<SnapshotInfo> out = new ArrayList<>();
        for (Snap s : all) {
            out.add(describe(s));
        }
        return out;
    }

    /** The snapshot of that name, or null. */
    public SnapshotInfo get(String snapshotName) {
        Snap s = byName.get(snapshotName);
        return s == null || s.deleted ? null : describe(s);
    }

    private SnapshotInfo describe(Snap s) {
        long stored = 0;
        long exclusive = 0;
        synchronized (this) {
            for (Exception x : live) {
                if (x != null && x.covers(s.id)) {
                    stored += chunk;
                    if (x.privateCopy() || byId.subMap(x.from(), true, x.to(), true).size() <= 1) {
                        exclusive += chunk;
                    }
                }
            }
        }
        return new SnapshotInfo(s.id, s.name, s.created, s.failure != null, s.failure, s.group, s.groupSize, stored,
                exclusive);
    }

    /** Snapshots that failed (cheap: for metrics at every scrape). */
    public synchronized int failedCount() {
        int n = 0;
        for (Snap s : byId.values()) {
            n += s.failure == null ? 0 : 1;
        }
        return n;
    }

    public Status status() {
        boolean low;
        synchronized (this) {
            low = lowSpace;
        }
        return new Status(byName.size(), chunk, diff.slotsInUse() * chunk, diff.allocatedSlots() * chunk,
                diff.capacity() * chunk, low, copies.get(), copiedBytes.get(), lastHold, store.commits(),
                store.info().trackingId(), metadataFailure);
    }

    /** Writes held by the last snapshot creation, in nanoseconds (drain, flush, commit). */
    public long lastHoldNanos() {
        return lastHold;
    }

    private Snap need(String snapshotName) {
        Snap s = byName.get(snapshotName);
        if (s == null || s.deleted) {
            throw new IllegalArgumentException("volume " + name + " has no snapshot named " + snapshotName);
        }
        return s;
    }

    /**
     * The extents whose data differs between snapshot {@code from} and snapshot {@code to}, in
     * chunks, merged and in order; with {@code from == null}, the extents of {@code to} that hold
     * data (allocated in the origin or stored in the difference storage).
     */
    public List<Extent> changes(String from, String to) throws IOException {
        Snap b = need(to);
        Snap a = from == null ? null : need(from);
        for (Snap s : a == null ? List.of(b) : List.of(a, b)) {
            if (s.failure != null) {
                throw new MediumErrorException("snapshot " + name + "@" + s.name + " failed: " + s.failure, false);
            }
        }
        List<Extent> out = new ArrayList<>();
        long runStart = -1;
        long runEnd = -1;
        for (long c = 0; c < chunks; c++) {
            boolean changed;
            int sb = source(c, b.id);
            if (a != null) {
                changed = source(c, a.id) != sb;
            } else {
                changed = sb >= 0 ? allocated(diff.device(), (long) sb * chunk, (long) sb * chunk + chunk)
                        : allocatedInOrigin(c);
            }
            long start = c << shift;
            long end = Math.min(origin.size(), start + chunk);
            if (changed) {
                if (runEnd == start) {
                    runEnd = end;
                } else {
                    if (runStart >= 0) {
                        out.add(new Extent(runStart, runEnd - runStart));
                    }
                    runStart = start;
                    runEnd = end;
                }
            }
        }
        if (runStart >= 0) {
            out.add(new Extent(runStart, runEnd - runStart));
        }
        return out;
    }

    private static boolean isZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    private boolean allocatedInOrigin(long c) throws IOException {
        long start = c << shift;
        return allocated(origin, start, Math.min(origin.size(), start + chunk));
    }

    /** Whether any byte of {@code [start, end)} of the device is allocated. */
    private static boolean allocated(BlockDevice device, long start, long end) throws IOException {
        for (long at = start; at < end; ) {
            BlockDevice.Extent e = device.extentAt(at);
            if (e.allocated()) {
                return true;
            }
            if (e.length() == 0) {
                return false;
            }
            at = e.offset() + e.length();
        }
        return false;
    }

    /**
     * The image of a snapshot as a device: read-only, or writable (its writes go to private
     * copies in the difference storage; the snapshot then no longer shows its point in time).
     */
    public BlockDevice image(String snapshotName, boolean writable) {
        return new Image(need(snapshotName), writable);
    }

    /** The image's content at {@code [offset, offset + dst.remaining())} for snapshot {@code s}. */
    private void readImage(Snap s, long offset, ByteBuffer dst) throws IOException {
        checkReadable(s);
        int end = dst.limit();
        long at = offset;
        while (dst.position() < end) {
            long c = at >>> shift;
            int in = (int) (at & (chunk - 1));
            int n = (int) Math.min(end - dst.position(), chunk - in);
            ByteBuffer piece = dst.duplicate().limit(dst.position() + n);
            int slot = source(c, s.id);
            if (slot >= 0) {
                diff.read(slot, in, piece);
            } else {
                RegionClaims.Claim claim = claims.claim(c, u -> false);
                try {
                    slot = source(c, s.id);
                    if (slot >= 0) {
                        diff.read(slot, in, piece);
                    } else {
                        origin.read(at, piece);
                    }
                } finally {
                    claims.release(claim);
                }
            }
            dst.position(dst.position() + n);
            at += n;
        }
        checkReadable(s);
    }

    private void checkReadable(Snap s) throws IOException {
        if (s.deleted || closed) {
            throw new ClosedDeviceException("snapshot " + name + "@" + s.name + " is deleted or closed");
        }
        if (s.failure != null) {
            throw new MediumErrorException("snapshot " + name + "@" + s.name + " failed: " + s.failure, false);
        }
    }

    private void writeImage(Snap s, long offset, ByteBuffer src, boolean fua) throws IOException {
        checkReadable(s);
        int end = src.limit();
        long at = offset;
        while (src.position() < end) {
            long c = at >>> shift;
            int in = (int) (at & (chunk - 1));
            int n = (int) Math.min(end - src.position(), chunk - in);
            ByteBuffer piece = src.duplicate().limit(src.position() + n);
            RegionClaims.Claim claim = claims.claim(c, u -> false);
            try {
                int slot = privateSlot(c, s.id);
                if (slot >= 0) {
                    diff.write(slot, in, piece, fua);
                } else {
                    copyUp(s, c, in, piece);
                }
            } finally {
                claims.release(claim);
            }
            src.position(src.position() + n);
            at += n;
        }
    }

    /** Under the chunk's claim: gives snapshot {@code s} its own copy of chunk {@code c} with {@code piece} in it. */
    private void copyUp(Snap s, long c, int in, ByteBuffer piece) throws IOException {
        ByteBuffer buf = takeBuffer();
        long slot = -1;
        try {
            long start = c << shift;
            int len = (int) Math.min(chunk, origin.size() - start);
            buf.clear().limit(len);
            int from = source(c, s.id);
            if (from >= 0) {
                diff.read(from, 0, buf);
            } else {
                origin.read(start, buf);
            }
            buf.clear().position(in);
            buf.put(piece.duplicate());
            buf.clear().limit(len);
            slot = diff.allocate();
            if (slot < 0) {
                throw new NoSpaceException("the difference storage of " + name + " is full (" + diff.capacity() * chunk
                        + " bytes); snapshot " + s.name + " cannot take this write");
            }
            diff.write(slot, 0, buf, false);
            enqueue(slot, new Exception(c, s.id, s.id, true), null, null, null);
            committer.commit();
        } catch (IOException | RuntimeException e) {
            if (slot >= 0 && live[(int) slot] == null) {
                diff.abandon(slot);
            }
            throw e;
        } finally {
            giveBuffer(buf);
        }
    }

    /** A chunk buffer from the bounded pool ({@code copyBuffers} at most): waits while all are in use. */
    private ByteBuffer takeBuffer() {
        buffers.acquireUninterruptibly();
        ByteBuffer buf = idleBuffers.poll();
        return buf != null ? buf : ByteBuffer.allocateDirect(chunk);
    }

    private void giveBuffer(ByteBuffer buf) {
        idleBuffers.add(buf);
        buffers.release();
    }

    @Override
    public void close() throws IOException {
        gate.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            gate.writeLock().unlock();
        }
        IOException failure = null;
        for (BlockDevice d : List.of(diff.device(), metaDevice)) {
            try {
                d.close();
            } catch (IOException e) {
                failure = failure == null ? e : failure;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** A device over the origin's geometry; the volume's owner closes what is underneath. */
    private abstract class View implements BlockDevice {
        @Override
        public long size() {
            return origin.size();
        }

        @Override
        public int logicalBlockSize() {
            return origin.logicalBlockSize();
        }

        @Override
        public int physicalBlockSize() {
            return origin.physicalBlockSize();
        }

        @Override
        public void close() {
            // the snapshot volume and the volume's owner close the devices
        }
    }

    /** One change of the origin, made once what it overwrites is preserved. */
    @FunctionalInterface
    private interface Change<T> {
        T apply() throws IOException;
    }

    /** Under the gate (shared): preserves what the snapshots need of the range, then changes it. */
    private <T> T change(long offset, long length, Change<T> change) throws IOException {
        Ranges.check(origin, offset, length);
        gate.readLock().lock();
        try {
            preserve(offset, length);
            return change.apply();
        } finally {
            gate.readLock().unlock();
        }
    }

    /** The origin as LUNs see it: every change preserves what the snapshots need first. */
    private final class Origin extends View {
        @Override
        public boolean isReadOnly() {
            return origin.isReadOnly();
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            origin.read(offset, dst);
        }

        @Override
        public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
            return origin.tryRead(offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            change(offset, src.remaining(), () -> {
                origin.write(offset, src, fua);
                return null;
            });
        }

        @Override
        public boolean tryWrite(long offset, ByteBuffer src) throws IOException {
            try {
                // the timed form honours fairness: a waiting snapshot creation is not overtaken
                if (!gate.readLock().tryLock(0, java.util.concurrent.TimeUnit.NANOSECONDS)) {
                    return false;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            try {
                return !needsCopy(offset, src.remaining()) && origin.tryWrite(offset, src);
            } finally {
                gate.readLock().unlock();
            }
        }

        @Override
        public void flush() throws IOException {
            origin.flush();
        }

        @Override
        public void discard(long offset, long length) throws IOException {
            change(offset, length, () -> {
                origin.discard(offset, length);
                return null;
            });
        }

        @Override
        public void writeZeroes(long offset, long length) throws IOException {
            change(offset, length, () -> {
                origin.writeZeroes(offset, length);
                return null;
            });
        }

        @Override
        public boolean discardZeroesData() {
            return origin.discardZeroesData();
        }

        @Override
        public Extent extentAt(long offset) throws IOException {
            return origin.extentAt(offset);
        }

        @Override
        public boolean copyFrom(BlockDevice source, long sourceOffset, long offset, long length) throws IOException {
            return change(offset, length, () -> origin.copyFrom(source, sourceOffset, offset, length));
        }

        @Override
        public void prefetch(long offset, long length) throws IOException {
            origin.prefetch(offset, length);
        }

        @Override
        public String describe() {
            return origin.describe();
        }
    }

    /** A snapshot's image. */
    private final class Image extends View {
        private final Snap snap;
        private final boolean writable;

        Image(Snap snap, boolean writable) {
            this.snap = snap;
            this.writable = writable;
        }

        @Override
        public boolean isReadOnly() {
            return !writable;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            Ranges.check(origin, offset, dst.remaining());
            readImage(snap, offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            Ranges.check(origin, offset, src.remaining());
            checkWritable();
            writeImage(snap, offset, src, fua);
        }

        private void checkWritable() throws ReadOnlyException {
            if (!writable) {
                throw new ReadOnlyException("snapshot " + name + "@" + snap.name + " is mapped read-only");
            }
        }

        @Override
        public void flush() throws IOException {
            if (writable) {
                diff.flush();
            }
        }

        @Override
        public void discard(long offset, long length) throws IOException {
            writeZeroes(offset, length);
        }

        @Override
        public void writeZeroes(long offset, long length) throws IOException {
            Ranges.check(origin, offset, length);
            checkWritable();
            for (long at = offset; at < offset + length; ) {
                int n = (int) Math.min(offset + length - at, chunk - (at & (chunk - 1)));
                writeImage(snap, at, zeros.duplicate().limit(n), false);
                at += n;
            }
        }

        @Override
        public boolean discardZeroesData() {
            return true;
        }

        @Override
        public String describe() {
            return "snapshot " + name + "@" + snap.name;
        }

    }

    /** For tests: runs while a creation holds this volume's writes (after the flush), e.g. to copy the origin. */
    void whileHeld(Runnable hook) {
        whileHeld = hook;
    }

    /** For tests: runs in a copy-on-write of chunk {@code c} after its exception is queued, before the commit. */
    void beforeCopyCommit(java.util.function.LongConsumer hook) {
        beforeCopyCommit = hook;
    }

    /** For tests and inspection: the durable exceptions as the store holds them. */
    SortedMap<Long, Exception> durableExceptions() {
        SortedMap<Long, Exception> m = new TreeMap<>();
        for (long s = 0; s < store.info().slotCapacity(); s++) {
            if (store.slot(s) != null) {
                m.put(s, store.slot(s));
            }
        }
        return m;
    }

    /** For tests: the snapshots by id. */
    synchronized NavigableMap<Long, String> ids() {
        TreeMap<Long, String> m = new TreeMap<>();
        byId.forEach((id, s) -> m.put(id, s.name));
        return m;
    }
}
