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
 * <p><b>Creation</b> takes the write gate exclusively: in-flight changes of the origin drain
 * and the new entry is queued; new writes wait only that long (copies run outside the gate, so
 * the drain waits for no commit). The commit that first carries the entry flushes the origin
 * before anything else, so a durable snapshot never lacks data acknowledged before it; every
 * first write after the creation waits for that commit (its copy shares it), and creation
 * returns once it is durable. <b>Deletion</b> (any snapshot) frees the slots no other snapshot
 * needs, in one commit, under both gates.
 *
 * <p><b>Overflow.</b> When the difference storage is full at its limit, the snapshots the copy
 * was for are marked failed (committed) and the origin write proceeds: the origin never loses
 * or fails a write because of a snapshot. A failed snapshot's image answers medium errors. When
 * metadata cannot be committed at all, every snapshot is failed and the failure is recorded
 * outside the metadata ({@link FailureRecord}) before the origin is written; only when even that
 * fails does the origin write fail, since completing it would silently corrupt a snapshot.
 *
 * <p>Locks: {@code creating} (one creation at a time, from its first check to its last commit;
 * close) → {@code copyGate} (copies shared, delete and close exclusive) → chunk claims
 * (ascending) → {@code gate} (changes of the origin shared, create/delete/close exclusive) →
 * {@code this} (the in-core maps, short sections) / {@code pendingLock}. One exception: a copy
 * from a snapshot image into the origin holds the gate shared while the image takes claims;
 * nothing waits for the gate while it holds a claim, so that cannot deadlock. A change of the origin
 * preserves its chunks first (under the copy gate), then takes the write gate and checks that
 * no creation came in between (else it preserves again). Thread-safe.
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
                               int groupSize, long storedBytes, long exclusiveBytes, String of) {
        /** {@code of}: for a snapshot of another snapshot's image, that snapshot's name ("" otherwise). */
        public SnapshotInfo {
            of = of == null ? "" : of;
        }
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
        /** 0, or for a snapshot of another snapshot's image, that snapshot's id. */
        final long base;
        volatile String failure;
        /** Whether the failure is committed or recorded (only then may the origin change what it lost). */
        volatile boolean failureDurable;
        volatile boolean deleted;
        /** Whether its creation is committed, and for a group every member's (before that, only copy-on-write knows of it). */
        volatile boolean committed;
        /** A member of a group snapshot not yet marked complete (durably so while its entry says so). */
        volatile boolean groupPending;

        Snap(Entry e, int index, String failure) {
            this.id = e.id();
            this.name = e.name();
            this.created = e.createdMillis();
            this.group = e.group();
            this.groupSize = e.groupSize();
            this.index = index;
            this.base = e.base();
            this.failure = failure;
            this.failureDurable = failure != null;
            this.groupPending = e.groupPending();
            this.committed = !groupPending;
        }

        /** The id whose point in time it reads from the volume (its own, or its base's). */
        long point() {
            return base == 0 ? id : base;
        }

        Entry entry() {
            Entry e = new Entry(id, name, created, SnapshotStore.State.VALID, group, groupSize, groupPending, base);
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
    private final ReentrantReadWriteLock copyGate = new ReentrantReadWriteLock(true);
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
    /** Bytes written to the origin since writeback of it was last started. */
    private final AtomicLong unwritten = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicBoolean writingBack = new java.util.concurrent.atomic.AtomicBoolean();
    /** Starts writeback of the origin, one request at a time (at most one queued, see {@link #wrote}). */
    private final java.util.concurrent.ExecutorService writeback = java.util.concurrent.Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().daemon().name("snapshot-writeback").unstarted(r));
    /** Writeback of the origin is started every this many bytes written, so that a creation's flush has little to do. */
    static final long WRITEBACK_BYTES = 8L << 20;

    // guarded by this
    private final AtomicLongArray last;
    private final int[] head;
    private final int[] next;
    private final Exception[] live;
    private final TreeMap<Long, Snap> byId = new TreeMap<>();
    /** Snapshots of snapshots, by base id (the base itself may be deleted); guarded by this. */
    private final TreeMap<Long, List<Snap>> members = new TreeMap<>();
    private final Map<String, Snap> byName = new ConcurrentHashMap<>();
    private boolean lowSpace;

    // guarded by pendingLock
    private final Object pendingLock = new Object();
    private TreeMap<Long, Exception> pendingSlots = new TreeMap<>();
    private TreeMap<Integer, Entry> pendingTable = new TreeMap<>();
    private SnapshotStore.Info pendingInfo;
    /** New snapshots whose entries the next commit carries: it flushes the origin first. */
    private List<Snap> pendingNew = new ArrayList<>();

    private volatile long newest;
    /** The id the next snapshot gets (the store's advances only with a commit); guarded by this. */
    private long nextId;
    /** Held by a creation from its first check to its last commit: creations of a volume one at a time. */
    private final java.util.concurrent.locks.ReentrantLock creating = new java.util.concurrent.locks.ReentrantLock();
    private volatile String metadataFailure;
    private volatile long lastHold;
    /** Time the last creation spent flushing the origin: before holding writes, and in its commit. */
    private volatile long lastPreFlush;
    private volatile long lastCommitFlush;
    private volatile boolean closed;
    private volatile Runnable whileHeld = () -> { };
    private volatile java.util.function.LongConsumer beforeCopyCommit = c -> { };
    private volatile Runnable beforeGroupComplete = () -> { };
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
                addMember(s);
                byName.put(s.name, s);
            }
        }
        this.newest = newestPoint();
        this.nextId = info.nextId();
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

    /**
     * The slot snapshot {@code id} reads chunk {@code c} from, or -1 for the origin: its own
     * private copy; else, along its line (a snapshot and the snapshots of its image), the private
     * copy of the newest member older than it (for the line's head: of any member); else the
     * shared exception covering its point in time.
     */
    private synchronized int source(long c, long id) {
        Snap k = byId.get(id);
        long line = k == null || k.base == 0 ? id : k.base;
        long upper = k == null || k.base == 0 ? Long.MAX_VALUE : id;
        int shared = -1;
        int inherited = -1;
        long inheritedFrom = 0;
        for (int s = head[(int) c]; s >= 0; s = next[s]) {
            Exception x = live[s];
            if (x.privateCopy()) {
                if (x.from() == id) {
                    return s;
                }
                if (x.from() < upper && x.from() > inheritedFrom) {
                    Snap owner = byId.get(x.from());
                    if (owner != null && owner.base == line) {
                        inherited = s;
                        inheritedFrom = x.from();
                    }
                }
            } else if (x.covers(line)) {
                shared = s;
            }
        }
        return inherited >= 0 ? inherited : shared;
    }

    /** {@link #atPoints} without {@code but}. */
    private List<Snap> atPointsBut(long from, long to, Snap but) {
        List<Snap> out = atPoints(from, to);
        out.remove(but);
        return out;
    }

    /** The snapshots whose point in time is in {@code [from, to]} (of the volume, or the base of theirs). */
    private List<Snap> atPoints(long from, long to) {
        List<Snap> out = new ArrayList<>();
        for (Snap s : byId.subMap(from, true, to, true).values()) {
            if (s.base == 0) {
                out.add(s);
            }
        }
        for (List<Snap> m : members.subMap(from, true, to, true).values()) {
            out.addAll(m);
        }
        return out;
    }

    /** The newest point in time any snapshot reads from the volume (0 for none); under this. */
    private long newestPoint() {
        long n = 0;
        for (Snap s : byId.descendingMap().values()) {
            if (s.base == 0) {
                n = s.id;
                break;
            }
        }
        return members.isEmpty() ? n : Math.max(n, members.lastKey());
    }

    private void addMember(Snap s) {
        if (s.base != 0) {
            members.computeIfAbsent(s.base, k -> new ArrayList<>()).add(s);
        }
    }

    private void removeMember(Snap s) {
        List<Snap> m = members.get(s.base);
        if (m != null) {
            m.remove(s);
            if (m.isEmpty()) {
                members.remove(s.base);
            }
        }
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

    /** Whether a valid snapshot's point in time is in {@code [from, to]} (on the copy path: allocates nothing). */
    private synchronized boolean anyValid(long from, long to) {
        for (Snap s : byId.subMap(from, true, to, true).values()) {
            if (s.base == 0 && s.failure == null) {
                return true;
            }
        }
        for (List<Snap> m : members.subMap(from, true, to, true).values()) {
            for (Snap s : m) {
                if (s.failure == null) {
                    return true;
                }
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
        List<Snap> fresh;
        synchronized (pendingLock) {
            slots = pendingSlots;
            table = pendingTable;
            info = pendingInfo;
            fresh = pendingNew;
            pendingSlots = new TreeMap<>();
            pendingTable = new TreeMap<>();
            pendingInfo = null;
            pendingNew = new ArrayList<>();
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
        if (!fresh.isEmpty()) {
            flushForNew(fresh, table);
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

    /**
     * Makes what was acknowledged before the new snapshots' point in time durable before the
     * entries that make them read it from the origin. When the origin cannot be flushed, only
     * those snapshots fail (their entries in {@code table} say so): the others and the metadata
     * go on.
     */
    private void flushForNew(List<Snap> fresh, TreeMap<Integer, Entry> table) {
        long t0 = System.nanoTime();
        try {
            origin.flush();
        } catch (IOException | RuntimeException e) {
            String why = "the volume could not be flushed when it was taken: " + e.getMessage();
            LOG.error("snapshots of {}: {}", name, why);
            synchronized (this) {
                for (Snap s : fresh) {
                    if (s.failure == null) {
                        s.failure = why;
                    }
                    if (!s.deleted) {
                        table.put(s.index, s.entry());
                    }
                }
            }
        }
        lastCommitFlush = System.nanoTime() - t0;
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
        if (!needsCopy(offset, length)) {
            return;
        }
        copyGate.readLock().lock();
        try {
            long n = newest;
            for (long c = offset >>> shift; c <= (offset + length - 1) >>> shift; c++) {
                if (last.get((int) c) < n) {
                    preserveChunk(c, n);
                }
            }
        } finally {
            copyGate.readLock().unlock();
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
            for (Snap s : atPoints(from, to)) {
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
            for (Snap s : atPoints(from, to)) {
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
            upTo = nextId - 1; // every id handed out (newest is a point in time; a snapshot of a snapshot is newer)
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

    /**
     * Takes a snapshot of snapshot {@code of}'s image as it is now (of a writable snapshot: with
     * the writes made through it). Metadata only: {@code of}'s private copies become the new
     * snapshot's, read by {@code of} through it from then on, in the commit that records it.
     * Writes to {@code of}'s image and copies wait meanwhile (the copy gate). The new snapshot
     * is read-only, and cannot itself be the base of another.
     */
    public SnapshotInfo createOf(String snapshotName, String of) throws IOException {
        String problem = checkName(snapshotName);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        creating.lock();
        try {
            checkCanCreate(snapshotName);
            Snap x = need(of);
            if (x.base != 0) {
                throw new IllegalArgumentException("snapshot " + name + "@" + of + " is itself a snapshot of a snapshot; "
                        + "take the new one of " + name + "@" + byIdName(x.base) + " instead");
            }
            if (x.failure != null) {
                throw new MediumErrorException("snapshot " + name + "@" + of + " failed: " + x.failure, false);
            }
            Snap made;
            copyGate.writeLock().lock();
            long start = System.nanoTime();
            try {
                whileHeld.run();
                synchronized (this) {
                    // again, now that nothing can change it: a deletion or a failure may have come in between
                    if (x.deleted || byId.get(x.id) != x) {
                        throw new IllegalArgumentException("volume " + name + " has no snapshot named " + of);
                    }
                    if (x.failure != null) {
                        throw new MediumErrorException("snapshot " + name + "@" + of + " failed: " + x.failure, false);
                    }
                    long id = nextId++;
                    int index = freeIndex();
                    Entry e = new Entry(id, snapshotName, System.currentTimeMillis(), SnapshotStore.State.VALID, "", 0,
                            false, x.id);
                    made = new Snap(e, index, null);
                    made.committed = false;
                    int moved = 0;
                    for (int slot = 0; slot < live.length; slot++) {
                        Exception p = live[slot];
                        if (p != null && p.privateCopy() && p.from() == x.id) {
                            enqueue((long) slot, new Exception(p.chunk(), id, id, true), null, null, null);
                            moved++;
                        }
                    }
                    enqueue(null, null, index, e, store.info().withNextId(nextId));
                    byId.put(id, made);
                    byName.put(snapshotName, made);
                    addMember(made);
                    LOG.info("snapshot {}@{}: of {}, {} private copies handed over", name, snapshotName, of, moved);
                }
                commitNew(made);
            } finally {
                lastHold = System.nanoTime() - start;
                copyGate.writeLock().unlock();
            }
            return describe(made);
        } finally {
            creating.unlock();
        }
    }

    private String byIdName(long id) {
        Snap s;
        synchronized (this) {
            s = byId.get(id);
        }
        return s == null ? "(deleted, id " + id + ")" : s.name;
    }

    /** A free index in the snapshot table; under this. */
    private int freeIndex() {
        boolean[] taken = new boolean[store.info().tableCapacity()];
        for (Snap s : byId.values()) {
            taken[s.index] = true;
        }
        for (int i = 0; i < taken.length; i++) {
            if (!taken[i]) {
                return i;
            }
        }
        return -1;
    }

    /** Takes a snapshot of this volume alone. */
    public SnapshotInfo create(String snapshotName) throws IOException {
        return createGroup(List.of(this), snapshotName, "").getFirst();
    }

    /**
     * Takes one snapshot named {@code snapshotName} of every volume at one point in time: writes
     * to all of them are held while in-flight ones drain and the new entries are queued; then
     * writes go on, and each volume's entry is committed (its origin flushed first). A write
     * after the point in time waits for that commit only where it changes a chunk, which it must
     * preserve first anyway. {@code group} names the group in each entry ("" for none).
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
        int creating = 0;
        try {
            for (SnapshotVolume v : ordered) {
                v.creating.lock();
                creating++;
            }
            return createHeld(volumes, ordered, snapshotName, group);
        } finally {
            for (int i = creating - 1; i >= 0; i--) {
                ordered.get(i).creating.unlock();
            }
        }
    }

    /** {@link #createGroup} once it holds every volume's creation lock. */
    private static List<SnapshotInfo> createHeld(List<SnapshotVolume> volumes, List<SnapshotVolume> ordered,
                                                 String snapshotName, String group) throws IOException {
        for (SnapshotVolume v : ordered) {
            v.checkCanCreate(snapshotName);
        }
        for (SnapshotVolume v : ordered) {
            // most of what the commit's flush would write, written while writes still flow (as a file
            // system is synced before it is frozen): the flush that then delays first writes has little to do
            long t0 = System.nanoTime();
            v.origin.flush();
            v.lastPreFlush = System.nanoTime() - t0;
        }
        List<Snap> made = new ArrayList<>();
        int locked = 0;
        long start = System.nanoTime();
        try {
            for (SnapshotVolume v : ordered) {
                v.gate.writeLock().lock();
                locked++;
            }
            for (SnapshotVolume v : ordered) {
                v.checkCanCreate(snapshotName);
            }
            long now = System.currentTimeMillis();
            for (SnapshotVolume v : volumes) {
                v.whileHeld.run();
                made.add(v.queueNew(snapshotName, now, group, group.isEmpty() ? 0 : volumes.size()));
            }
        } finally {
            long held = System.nanoTime() - start;
            for (int i = locked - 1; i >= 0; i--) {
                ordered.get(i).lastHold = held;
                ordered.get(i).gate.writeLock().unlock();
            }
        }
        IOException failed = null;
        List<Integer> durable = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            try {
                volumes.get(i).commitNew(made.get(i));
                durable.add(i);
            } catch (IOException e) {
                failed = failed == null ? e : failed;
            }
        }
        if (failed != null) {
            if (!group.isEmpty()) {
                // a group is all or nothing: the members that are durable go again (pending, so a crash
                // before that is undone at the next start, see resolveGroups)
                for (int i : durable) {
                    try {
                        volumes.get(i).drop(made.get(i));
                    } catch (IOException e) {
                        failed.addSuppressed(e);
                    }
                }
            }
            throw failed;
        }
        if (!group.isEmpty()) {
            // every member is durable (pending): now mark them complete; a crash from here on keeps the
            // group, since resolveGroups completes the rest once one member is complete. So it is decided:
            // every member is marked (and shown) even when one of the commits fails
            for (int i = 0; i < volumes.size(); i++) {
                volumes.get(i).beforeGroupComplete.run();
                try {
                    volumes.get(i).completeGroup(made.get(i));
                } catch (IOException e) {
                    failed = failed == null ? e : failed;
                }
            }
            if (failed != null) {
                throw failed;
            }
        }
        List<SnapshotInfo> out = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            out.add(volumes.get(i).describe(made.get(i)));
        }
        return out;
    }

    /**
     * At start, after a crash: settles group snapshots whose creation did not finish. A group
     * with a member marked complete was durable on every volume (members are marked only then),
     * so its pending members are completed; a group with none, all of whose members are seen
     * pending, was never acknowledged, so its members are deleted. A group with none complete and
     * fewer members seen than it had (a volume not open) is left pending, undecided. One creation
     * is told from another of the same names by its creation time and size, which all its members
     * share.
     *
     * @param opened volumes just opened, whose pending members are settled
     * @param others the other volumes open (whose complete members count; a creation may be under way in them)
     * @return what was done, one line per member, for the log; a member that could not be settled says why
     */
    public static List<String> resolveGroups(java.util.Collection<SnapshotVolume> opened,
                                             java.util.Collection<SnapshotVolume> others) {
        Map<String, Integer> complete = new java.util.HashMap<>();
        Map<String, Integer> seen = new java.util.HashMap<>();
        List<Map.Entry<SnapshotVolume, Snap>> pending = new ArrayList<>();
        List<SnapshotVolume> all = new ArrayList<>(opened);
        all.addAll(others);
        for (SnapshotVolume v : all) {
            synchronized (v) {
                for (Snap s : v.byId.values()) {
                    if (s.group.isEmpty() || s.groupPending && !opened.contains(v)) {
                        continue;
                    }
                    seen.merge(groupKey(s), 1, Integer::sum);
                    if (s.groupPending) {
                        pending.add(Map.entry(v, s));
                    } else {
                        complete.merge(groupKey(s), 1, Integer::sum);
                    }
                }
            }
        }
        List<String> done = new ArrayList<>();
        for (Map.Entry<SnapshotVolume, Snap> p : pending) {
            SnapshotVolume v = p.getKey();
            Snap s = p.getValue();
            String key = groupKey(s);
            String what = "group snapshot " + v.name + "@" + s.name + " (group " + s.group + " of " + s.groupSize + ")";
            try {
                if (complete.containsKey(key)) {
                    v.completeGroup(s);
                    done.add(what + ": its creation was interrupted after every member was durable; completed");
                } else if (seen.get(key) >= s.groupSize) {
                    v.drop(s);
                    done.add(what + ": its creation was interrupted before every member was durable; deleted");
                } else {
                    done.add(what + ": its creation was interrupted, and only " + seen.get(key) + " of its "
                            + s.groupSize + " members are open; left pending until the others are");
                }
            } catch (IOException e) {
                done.add(what + ": could not be settled: " + e.getMessage());
            }
        }
        return done;
    }

    private static String groupKey(Snap s) {
        return s.group + "\0" + s.name + "\0" + s.created + "\0" + s.groupSize;
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

    /**
     * Under the write gate: makes a new snapshot the newest, so every later change of the origin
     * preserves for it, and queues its entry for a commit that flushes the origin first.
     */
    private Snap queueNew(String snapshotName, long now, String group, int groupSize) {
        synchronized (this) {
            long id = nextId++;
            int index = freeIndex();
            Entry e = new Entry(id, snapshotName, now, SnapshotStore.State.VALID, group, groupSize, groupSize > 0);
            Snap s = new Snap(e, index, null);
            s.committed = false;
            synchronized (pendingLock) {
                enqueue(null, null, index, e, store.info().withNextId(nextId));
                pendingNew.add(s);
            }
            byId.put(id, s);
            byName.put(snapshotName, s);
            newest = id;
            return s;
        }
    }

    /** After the write gate: returns once the new snapshot's entry is durable (for a group, as pending). */
    private void commitNew(Snap s) throws IOException {
        try {
            committer.commit();
        } catch (IOException | RuntimeException failure) {
            // the superblock may have reached the disk before the commit failed (its last flush), so the
            // entry may be there after a restart: keep it here as failed, and have the failure recorded up
            // to its id, or writes that go on would silently change a snapshot that comes back valid
            synchronized (this) {
                if (s.failure == null) {
                    s.failure = "its creation could not be committed: " + failure.getMessage();
                }
            }
            s.committed = true;
            try {
                failAll("snapshot metadata cannot be committed: " + failure.getMessage());
            } catch (IOException unrecorded) {
                failure.addSuppressed(unrecorded); // later writes keep trying to record it, and fail until then
            }
            throw failure;
        }
        if (s.failure != null) {
            s.committed = true; // durably failed (the commit carried it so): shown, and deleted by the user
            throw new IOException("snapshot " + name + "@" + s.name + " could not be taken: " + s.failure);
        }
        if (!s.groupPending) {
            s.committed = true;
        }
        LOG.info("snapshot {}@{} taken (id {}{})", name, s.name, s.id, s.groupPending ? ", group pending" : "");
    }

    /** Marks a member of a group snapshot complete, durably. */
    private void completeGroup(Snap s) throws IOException {
        synchronized (this) {
            s.groupPending = false;
            enqueue(null, null, s.index, s.entry(), null);
        }
        try {
            committer.commit();
        } finally {
            s.committed = true; // visible either way: a metadata failure fails every snapshot from here
        }
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
        if (s == null || !s.committed) {
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
        drop(s);
    }

    /**
     * Under this, with {@code s} (a snapshot of a snapshot) already out of the maps: the
     * snapshot of its line that read its private copy of chunk {@code c} (the next newer member,
     * or the line's head when none is newer) and has none of its own, or null.
     */
    private Snap heir(Snap s, long c) {
        if (s.base == 0) {
            return null; // a head's copies are read by nothing else
        }
        Snap next = null;
        for (Snap m : members.getOrDefault(s.base, List.of())) {
            if (m != s && m.id > s.id && (next == null || m.id < next.id)) {
                next = m;
            }
        }
        if (next == null) {
            Snap headSnap = byId.get(s.base);
            next = headSnap != null && headSnap.base == 0 ? headSnap : null;
        }
        return next == null || privateSlot(c, next.id) >= 0 ? null : next;
    }

    /** Deletes {@code s}, already marked deleted or never visible, in one commit under both gates. */
    private void drop(Snap s) throws IOException {
        s.deleted = true;
        String snapshotName = s.name;
        copyGate.writeLock().lock();
        gate.writeLock().lock();
        try {
            int freeing = 0;
            synchronized (this) {
                // s stays in the maps until the commit has relinked its copies: a reader of its line
                // meanwhile still finds them through it
                for (int slot = 0; slot < live.length; slot++) {
                    Exception x = live[slot];
                    if (x == null) {
                        continue;
                    }
                    if (x.privateCopy()) {
                        if (x.from() == s.id) {
                            Snap heir = heir(s, x.chunk());
                            // the copy goes to whoever of its line read it through s, or is freed
                            enqueue((long) slot, heir == null ? null : new Exception(x.chunk(), heir.id, heir.id, true),
                                    null, null, null);
                            freeing += heir == null ? 1 : 0;
                        }
                    } else if (x.covers(s.point()) && atPointsBut(x.from(), x.to(), s).isEmpty()) {
                        enqueue((long) slot, null, null, null, null);
                        freeing++;
                    }
                }
            }
            enqueue(null, null, s.index, null, null);
            LOG.info("snapshot {}@{}: deleting, {} slots to free", name, snapshotName, freeing);
            try {
                committer.commit();
            } catch (IOException e) {
                s.deleted = false;
                throw e;
            }
            synchronized (this) {
                byId.remove(s.id);
                removeMember(s);
                byName.remove(snapshotName);
                newest = newestPoint();
            }
            LOG.info("snapshot {}@{} deleted", name, snapshotName);
        } finally {
            gate.writeLock().unlock();
            copyGate.writeLock().unlock();
        }
    }

    // ---- queries ---------------------------------------------------------------------------

    /**
     * Every snapshot, oldest first, with the data it holds: one pass over the slots, whatever
     * the number of snapshots (a shared slot adds to the snapshots of its id range at once).
     */
    public List<SnapshotInfo> list() {
        List<SnapshotInfo> out = new ArrayList<>();
        synchronized (this) {
            List<Snap> heads = new ArrayList<>();
            for (Snap sn : byId.values()) {
                if (sn.base == 0) {
                    heads.add(sn);
                }
            }
            long[] ids = new long[heads.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = heads.get(i).id;
            }
            long[] storedDelta = new long[ids.length + 1];
            long[] exclusive = new long[ids.length];
            for (Exception x : live) {
                if (x == null) {
                    continue;
                }
                int first = ceilingIndex(ids, x.from());
                int end = ceilingIndex(ids, x.to() + 1); // the snapshots it covers: [first, end)
                if (x.privateCopy()) {
                    end = first < ids.length && ids[first] == x.from() ? first + 1 : first;
                }
                if (first < end) {
                    storedDelta[first] += chunk;
                    storedDelta[end] -= chunk;
                    if (end - first == 1 && (x.privateCopy() || members.subMap(x.from(), true, x.to(), true).isEmpty())) {
                        exclusive[first] += chunk;
                    }
                }
            }
            Map<Long, SnapshotInfo> heads2 = new java.util.HashMap<>();
            long stored = 0;
            for (int i = 0; i < ids.length; i++) {
                stored += storedDelta[i];
                Snap sn = heads.get(i);
                heads2.put(sn.id, info(sn, stored, exclusive[i]));
            }
            for (Snap sn : byId.values()) {
                if (sn.committed) {
                    out.add(sn.base == 0 ? heads2.get(sn.id) : describe(sn));
                }
            }
        }
        return out;
    }

    private SnapshotInfo info(Snap s, long stored, long exclusive) {
        Snap of = s.base == 0 ? null : byId.get(s.base);
        return new SnapshotInfo(s.id, s.name, s.created, s.failure != null, s.failure, s.group, s.groupSize, stored,
                exclusive, s.base == 0 ? "" : of != null ? of.name : "(deleted, id " + s.base + ")");
    }

    /** The index of the first of the ascending {@code ids} at or above {@code id} ({@code ids.length} if none). */
    private static int ceilingIndex(long[] ids, long id) {
        int i = Arrays.binarySearch(ids, id);
        return i >= 0 ? i : -i - 1;
    }

    /** The snapshot of that name, or null. */
    public SnapshotInfo get(String snapshotName) {
        Snap s = byName.get(snapshotName);
        return s == null || s.deleted || !s.committed ? null : describe(s);
    }

    private SnapshotInfo describe(Snap s) {
        long stored = 0;
        long exclusive = 0;
        synchronized (this) {
            if (s.base != 0) {
                // a snapshot of a snapshot: what it reads from the difference storage, and its own copies
                for (long c = 0; c < chunks; c++) {
                    if (head[(int) c] < 0) {
                        continue; // read from the volume
                    }
                    int slot = source(c, s.id);
                    if (slot >= 0) {
                        stored += chunk;
                        exclusive += live[slot].privateCopy() && live[slot].from() == s.id ? chunk : 0;
                    }
                }
                return info(s, stored, exclusive);
            }
            for (Exception x : live) {
                if (x != null && x.covers(s.id) && (!x.privateCopy() || x.from() == s.id)) {
                    stored += chunk;
                    if (x.privateCopy() || atPoints(x.from(), x.to()).size() <= 1) {
                        exclusive += chunk;
                    }
                }
            }
            return info(s, stored, exclusive);
        }
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
        int shown = 0;
        for (Snap s : byName.values()) {
            shown += s.committed && !s.deleted ? 1 : 0;
        }
        return new Status(shown, chunk, diff.slotsInUse() * chunk, diff.allocatedSlots() * chunk,
                diff.capacity() * chunk, low, copies.get(), copiedBytes.get(), lastHold, store.commits(),
                store.info().trackingId(), metadataFailure);
    }

    /** Writes held by the last snapshot creation, in nanoseconds (the drain of in-flight changes). */
    public long lastHoldNanos() {
        return lastHold;
    }

    /**
     * Time the last creation spent flushing the origin (what the load had dirtied), in
     * nanoseconds: before writes were held, and in the commit that made it durable. Writes are
     * not held for it; it is most of a creation's time under a write load.
     */
    public long lastFlushNanos() {
        return lastPreFlush + lastCommitFlush;
    }

    private Snap need(String snapshotName) {
        Snap s = byName.get(snapshotName);
        if (s == null || s.deleted || !s.committed) {
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
        Snap s = need(snapshotName);
        if (writable && s.base != 0) {
            throw new IllegalArgumentException("snapshot " + name + "@" + snapshotName + " is a snapshot of "
                    + name + "@" + byIdName(s.base) + ", which reads through it: it can only be mapped read-only");
        }
        return new Image(s, writable);
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
        copyGate.readLock().lock();
        try {
            writeImageChunks(s, offset, src, fua);
        } finally {
            copyGate.readLock().unlock();
        }
    }

    /** Under the copy gate (shared), so no deletion frees what a copy-up is about to record. */
    private void writeImageChunks(Snap s, long offset, ByteBuffer src, boolean fua) throws IOException {
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

    /**
     * Counts bytes written to the origin; every {@link #WRITEBACK_BYTES} starts writeback of it
     * on the volume's writeback thread (a hint to the page cache, waiting for nothing), so the dirty data a
     * snapshot creation must flush stays small under a write load.
     */
    private void wrote(long bytes) {
        if (unwritten.addAndGet(bytes) < WRITEBACK_BYTES || !writingBack.compareAndSet(false, true)) {
            return;
        }
        unwritten.set(0);
        try {
            writeback.execute(() -> {
                try {
                    origin.startWriteback();
                } catch (IOException | RuntimeException e) {
                    LOG.debug("snapshots of {}: starting writeback: {}", name, e.getMessage()); // a flush reports it
                } finally {
                    writingBack.set(false);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            writingBack.set(false);
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
        creating.lock(); // a creation finishes its commits first
        copyGate.writeLock().lock();
        gate.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            gate.writeLock().unlock();
            copyGate.writeLock().unlock();
            creating.unlock();
        }
        writeback.shutdown();
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
        public Space space() throws IOException {
            return origin.space();
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

    /**
     * Preserves what the snapshots need of the range, then changes it under the write gate
     * (shared), once no creation came in between: a creation's drain waits for origin writes, never
     * for a copy and its commit.
     */
    private <T> T change(long offset, long length, Change<T> change) throws IOException {
        Ranges.check(origin, offset, length);
        while (true) {
            preserve(offset, length);
            gate.readLock().lock();
            try {
                if (!needsCopy(offset, length)) {
                    return change.apply();
                }
            } finally {
                gate.readLock().unlock();
            }
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
            int n = src.remaining();
            change(offset, n, () -> {
                origin.write(offset, src, fua);
                return null;
            });
            if (!fua) {
                wrote(n);
            }
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
            int n = src.remaining();
            boolean done;
            try {
                done = !needsCopy(offset, n) && origin.tryWrite(offset, src);
            } finally {
                gate.readLock().unlock();
            }
            if (done) {
                wrote(n);
            }
            return done;
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

    /** For tests: runs before this volume's member of a group snapshot is marked complete (e.g. to stop there, as a crash). */
    void beforeGroupComplete(Runnable hook) {
        beforeGroupComplete = hook;
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
