package io.clonetarget.storage.clone;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background hydration of one clone.
 *
 * <p>A scheduler thread scans the region map from a rotating cursor for regions that are
 * neither hydrated nor claimed nor waiting for a retry, takes up to {@code batchSize} adjacent
 * ones, and hands the copy to one of {@code inFlight} workers. While user I/O is in flight only
 * one copy runs at a time (user I/O comes first). A rate limit paces copies. A failed source
 * read is counted, shown in status and retried after a delay that doubles from
 * {@code retryMin} to {@code retryMax}; the whole hydrator also backs off by that delay after a
 * failure, so a source that went away is probed once per delay rather than region after region,
 * while a single unreadable region does not hold up the others for longer than one delay. A
 * changed source stops hydration for good. When the last region is in, the volume commits and
 * announces completion.
 */
final class Hydrator {
    private static final Logger LOG = LoggerFactory.getLogger(Hydrator.class);
    private static final int RATE_WINDOW = 10;

    /** A region whose copy failed, and when to try again. */
    private record Retry(long dueNanos, Duration delay) {
    }

    private final CloneVolume volume;
    private final CloneMetadata meta;
    private final HydrationSettings settings;
    private final Map<Long, Retry> retries = new ConcurrentHashMap<>();
    private final Semaphore slots;
    private final ExecutorService workers;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong copiedBytes = new AtomicLong();
    private final long[] rateSamples = new long[RATE_WINDOW + 1];
    private final long[] rateTimes = new long[RATE_WINDOW + 1];
    private int rateIndex;
    private volatile String lastError;
    private volatile boolean paused;
    private volatile boolean stopped;
    private volatile boolean sourceChanged;
    private volatile long rateLimit;
    private long nextFreeNanos = System.nanoTime();
    private long cursor;
    private boolean announced;
    /** The current global backoff after failures, null while copies succeed. */
    private Duration backoff;
    private long backoffUntilNanos;
    private long failuresInBackoff;
    private Thread thread;
    private final long startedNanos = System.nanoTime();

    Hydrator(CloneVolume volume, HydrationSettings settings) {
        this.volume = volume;
        this.meta = volume.metadata();
        this.settings = settings;
        this.paused = settings.startPaused();
        this.rateLimit = settings.rateBytesPerSecond();
        this.slots = new Semaphore(settings.inFlight());
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(settings.inFlight(),
                r -> Thread.ofPlatform().daemon().name("clone-" + volume.name() + "-copy-" + n.incrementAndGet())
                        .unstarted(r));
    }

    void start() {
        if (meta.allHydrated()) {
            announced = true; // complete before this open: nothing to announce
        }
        thread = Thread.ofPlatform().daemon().name("clone-" + volume.name() + "-hydrator").start(this::run);
    }

    void setPaused(boolean p) {
        paused = p;
        LOG.info("clone {}: hydration {}", volume.name(), p ? "paused" : "resumed");
        wake();
    }

    boolean paused() {
        return paused;
    }

    void setRate(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("rate " + bytesPerSecond);
        }
        rateLimit = bytesPerSecond;
    }

    long errors() {
        return errors.get();
    }

    /** Regions waiting to be retried after a failed source read. */
    int retrying() {
        return retries.size();
    }

    /** What background hydration is doing while not complete: stopped, paused, retrying or hydrating. */
    String state() {
        if (sourceChanged) {
            return "stopped";
        }
        if (paused) {
            return "paused";
        }
        return retries.isEmpty() ? "hydrating" : "retrying";
    }

    String lastError() {
        return lastError;
    }

    /** Bytes copied by anyone (hydrator or user I/O), for the rate. */
    void copied(long bytes) {
        copiedBytes.addAndGet(bytes);
    }

    /**
     * A source read failed somewhere (counted in status).
     *
     * @return true for the first report of a changed source
     */
    boolean noteError(IOException e) {
        errors.incrementAndGet();
        lastError = e.getMessage();
        if (e instanceof SourceChangedException) {
            synchronized (this) {
                boolean first = !sourceChanged;
                sourceChanged = true;
                return first;
            }
        }
        return false;
    }

    /** Copy rate over the last ten seconds, bytes per second. */
    synchronized long rate() {
        sampleRate();
        int oldest = (rateIndex + 1) % rateSamples.length;
        long dt = rateTimes[rateIndex] - rateTimes[oldest];
        if (rateTimes[oldest] == 0 || dt <= 0) {
            long elapsed = System.nanoTime() - startedNanos;
            return elapsed > 0 ? copiedBytes.get() * 1_000_000_000L / elapsed : 0;
        }
        return (rateSamples[rateIndex] - rateSamples[oldest]) * 1_000_000_000L / dt;
    }

    private synchronized void sampleRate() {
        long now = System.nanoTime();
        if (rateTimes[rateIndex] != 0 && now - rateTimes[rateIndex] < 1_000_000_000L) {
            return;
        }
        rateIndex = (rateIndex + 1) % rateSamples.length;
        rateSamples[rateIndex] = copiedBytes.get();
        rateTimes[rateIndex] = now;
    }

    private synchronized void wake() {
        notifyAll();
    }

    private synchronized void sleep(long millis) throws InterruptedException {
        wait(millis);
    }

    private void run() {
        try {
            while (!stopped) {
                sampleRate();
                if (paused || volume.isReadOnly() || sourceChanged) {
                    sleep(200);
                    continue;
                }
                long backingOff = backoffRemainingMillis();
                if (backingOff > 0) {
                    sleep(Math.min(backingOff, 200));
                    continue;
                }
                if (meta.allHydrated()) {
                    if (!announced && running.get() == 0) {
                        announced = true;
                        volume.hydrationComplete();
                        double seconds = Math.max(1e-3, (System.nanoTime() - startedNanos) / 1e9);
                        LOG.info(String.format(java.util.Locale.ROOT, "clone %s: hydration complete and committed, "
                                + "%.2f s after open; %d bytes copied (%.1f MB/s)", volume.name(), seconds,
                                copiedBytes.get(), copiedBytes.get() / seconds / 1e6));
                    }
                    sleep(1000);
                    continue;
                }
                int parallel = volume.userIoInFlight() > 0 ? 1 : settings.inFlight();
                if (settings.inFlight() - slots.availablePermits() >= parallel) {
                    sleep(1);
                    continue;
                }
                slots.acquire();
                // pace before claiming: claimed regions make user I/O to them wait
                pace(Math.min(volume.size(), settings.batchSize() * volume.settings().regionSize()));
                long[] batch = nextBatch();
                if (batch == null) {
                    slots.release();
                    sleep(20);
                    continue;
                }
                dispatch(batch[0], batch[1]);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("clone {}: hydrator stopped", volume.name(), e);
        }
    }

    private long bytes(long first, long count) {
        return volume.regionEnd(first + count - 1) - volume.regionStart(first);
    }

    /** Reserves {@code bytes} against the rate limit, sleeping as long as the limit says. */
    private void pace(long bytes) throws InterruptedException {
        long limit = rateLimit;
        if (limit <= 0) {
            return;
        }
        long now = System.nanoTime();
        long start = Math.max(nextFreeNanos, now - 1_000_000_000L);
        nextFreeNanos = start + bytes * 1_000_000_000L / limit;
        long wait = start - now;
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }

    /**
     * Claims the next run of copyable regions from the cursor.
     *
     * @return {first, count} or null when nothing can be copied now
     */
    private long[] nextBatch() {
        long regions = meta.regions();
        long now = System.nanoTime();
        for (int pass = 0; pass < 2; pass++) {
            long r = meta.nextUnhydrated(cursor);
            while (r >= 0) {
                Retry retry = retries.get(r);
                if ((retry == null || retry.dueNanos() - now <= 0)) {
                    CompletableFuture<Void> first = volume.tryClaim(r);
                    if (first != null) {
                        pendingClaims.put(r, first);
                        long count = 1;
                        while (count < settings.batchSize() && r + count < regions) {
                            long next = r + count;
                            if (retries.containsKey(next)) {
                                break;
                            }
                            CompletableFuture<Void> c = volume.tryClaim(next);
                            if (c == null) {
                                break;
                            }
                            pendingClaims.put(next, c);
                            count++;
                        }
                        cursor = r + count >= regions ? 0 : r + count;
                        return new long[]{r, count};
                    }
                }
                r = meta.nextUnhydrated(r + 1);
            }
            cursor = 0;
        }
        return null;
    }

    private final Map<Long, CompletableFuture<Void>> pendingClaims = new ConcurrentHashMap<>();

    private void dispatch(long first, long count) {
        running.incrementAndGet();
        workers.execute(() -> {
            try {
                volume.copy(first, count, buffer());
                meta.markHydrated(first, count);
                copied(bytes(first, count));
                for (long r = first; r < first + count; r++) {
                    retries.remove(r);
                }
                recovered();
            } catch (IOException e) {
                failed(first, count, e);
            } catch (RuntimeException e) {
                LOG.error("clone {}: copying regions {}+{} failed", volume.name(), first, count, e);
                failed(first, count, new IOException(e));
            } finally {
                for (long r = first; r < first + count; r++) {
                    CompletableFuture<Void> c = pendingClaims.remove(r);
                    if (c != null) {
                        volume.release(r, c);
                    }
                }
                running.decrementAndGet();
                slots.release();
                wake();
            }
        });
    }

    private void failed(long first, long count, IOException e) {
        boolean firstChange = noteError(e);
        if (e instanceof SourceChangedException) {
            if (firstChange) {
                LOG.error("clone {}: {}; hydration stopped", volume.name(), e.getMessage());
                volume.sourceError(e);
            }
            return;
        }
        Retry before = retries.get(first);
        Duration delay = before == null ? settings.retryMin() : before.delay().multipliedBy(2);
        if (delay.compareTo(settings.retryMax()) > 0) {
            delay = settings.retryMax();
        }
        long now = System.nanoTime();
        long due = now + delay.toNanos();
        for (long r = first; r < first + count; r++) {
            retries.put(r, new Retry(due, delay));
        }
        boolean entering;
        Duration global;
        synchronized (this) {
            entering = backoff == null;
            if (backoff == null) {
                backoff = settings.retryMin();
            } else if (now - backoffUntilNanos >= 0) {
                // a failure of a copy started after the last backoff ended: back off longer
                backoff = backoff.multipliedBy(2).compareTo(settings.retryMax()) > 0 ? settings.retryMax()
                        : backoff.multipliedBy(2);
            }
            backoffUntilNanos = Math.max(backoffUntilNanos, now + backoff.toNanos());
            failuresInBackoff++;
            global = backoff;
        }
        if (entering) {
            LOG.warn("clone {}: copying regions {}+{} failed ({}); backing off, retrying from {} ms up to {} ms apart",
                    volume.name(), first, count, e.getMessage(), global.toMillis(), settings.retryMax().toMillis());
        } else {
            LOG.debug("clone {}: copying regions {}+{} failed ({}); next try in {} ms", volume.name(), first, count,
                    e.getMessage(), global.toMillis());
        }
        volume.sourceError(e);
    }

    private synchronized long backoffRemainingMillis() {
        return backoff == null ? 0 : Math.max(0, (backoffUntilNanos - System.nanoTime()) / 1_000_000L);
    }

    /** A copy succeeded: the source works (again). */
    private void recovered() {
        long failures;
        synchronized (this) {
            if (backoff == null) {
                return;
            }
            backoff = null;
            failures = failuresInBackoff;
            failuresInBackoff = 0;
        }
        LOG.info("clone {}: source reads work again after {} failed copies; hydration goes on", volume.name(), failures);
    }

    private static final ThreadLocal<ByteBuffer> BUFFERS = new ThreadLocal<>();

    private ByteBuffer buffer() {
        int want = (int) Math.min((long) settings.batchSize() * volume.settings().regionSize(), CloneVolume.COPY_CHUNK);
        ByteBuffer b = BUFFERS.get();
        if (b == null || b.capacity() < want) {
            b = ByteBuffer.allocateDirect(want);
            BUFFERS.set(b);
        }
        return b;
    }

    /** Stops scheduling and waits for running copies. */
    void stop() {
        stopped = true;
        wake();
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        workers.shutdown();
        try {
            workers.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
