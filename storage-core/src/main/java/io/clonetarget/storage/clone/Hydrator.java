package io.clonetarget.storage.clone;

import io.clonetarget.storage.lock.RegionClaims;
import io.clonetarget.storage.time.Clock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background hydration of one clone.
 *
 * <p>A scheduler thread scans the region map from a rotating cursor for regions that are
 * neither hydrated nor claimed nor waiting for a retry, claims up to {@code batchSize} adjacent
 * ones, and hands the copy to one of {@code inFlight} workers. While user I/O is in flight only
 * one copy runs at a time (user I/O comes first). A {@link RateLimiter} paces copies by the
 * bytes actually claimed, waiting before the next claim. A failed source read is counted, shown
 * in status and retried after a delay that doubles from {@code retryMin} to {@code retryMax};
 * the whole hydrator also backs off by that delay after a failure, so a source that went away is
 * probed once per delay rather than region after region, while a single unreadable region does
 * not hold up the others for longer than one delay. A changed source stops hydration for good.
 * When the last region is in, the volume commits and announces completion.
 *
 * <p>Threads: the scheduler owns the cursor, the limiter and the batch it builds; each batch's
 * claims belong to the worker that copies it; retries and the backoff are shared under this
 * object's lock or in concurrent maps. Time comes from the injected {@link Clock}.
 */
final class Hydrator {
    private static final Logger LOG = LoggerFactory.getLogger(Hydrator.class);

    /** A region whose copy failed, and when to try again. */
    private record Retry(long dueNanos, Duration delay) {
    }

    private final CloneVolume volume;
    private final CloneMetadata meta;
    private final RegionGeometry geometry;
    private final HydrationSettings settings;
    private final Clock clock;
    private final RateLimiter limiter;
    private final RateMeter meter;
    private final Map<Long, Retry> retries = new ConcurrentHashMap<>();
    private final Semaphore slots;
    private final ExecutorService workers;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong rounds = new AtomicLong();
    private volatile String lastError;
    private volatile boolean paused;
    private volatile boolean stopped;
    private volatile boolean sourceChanged;
    private long cursor;
    private boolean announced;
    /** The current global backoff after failures, null while copies succeed (guarded by this). */
    private Duration backoff;
    private long backoffUntilNanos;
    private long failuresInBackoff;
    private Thread thread;

    Hydrator(CloneVolume volume, HydrationSettings settings, Clock clock) {
        this.volume = volume;
        this.meta = volume.metadata();
        this.geometry = volume.geometry();
        this.settings = settings;
        this.clock = clock;
        this.limiter = new RateLimiter(clock, settings.rateBytesPerSecond());
        this.meter = new RateMeter(clock);
        this.paused = settings.startPaused();
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

    /**
     * Pauses or resumes background copying. Once a pause returns, no new copy is claimed (copies
     * already running finish).
     */
    void setPaused(boolean p) {
        synchronized (this) {
            paused = p;
            notifyAll();
        }
        LOG.info("clone {}: hydration {}", volume.name(), p ? "paused" : "resumed");
    }

    boolean paused() {
        return paused;
    }

    void setRate(long bytesPerSecond) {
        limiter.setRate(bytesPerSecond);
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
        meter.add(bytes);
    }

    /** Rounds the scheduler has gone through (tests wait on it instead of on time). */
    long rounds() {
        return rounds.get();
    }

    /** Bytes copied since the volume was opened. */
    long copiedBytes() {
        return meter.total();
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
    long rate() {
        return meter.rate();
    }

    private synchronized void wake() {
        notifyAll();
    }

    /** Waits for a state change ({@link #wake}) or {@code millis}, whichever comes first. */
    private synchronized void idle(long millis) throws InterruptedException {
        wait(millis);
    }

    private void run() {
        try {
            while (!stopped) {
                rounds.incrementAndGet();
                meter.sample();
                if (paused || volume.isReadOnly() || sourceChanged) {
                    idle(200);
                    continue;
                }
                long backingOff = backoffRemainingMillis();
                if (backingOff > 0) {
                    idle(Math.min(backingOff, 200));
                    continue;
                }
                if (meta.allHydrated()) {
                    if (!announced && running.get() == 0) {
                        announced = true;
                        complete();
                    }
                    idle(1000);
                    continue;
                }
                int parallel = volume.userIoInFlight() > 0 ? 1 : settings.inFlight();
                if (settings.inFlight() - slots.availablePermits() >= parallel) {
                    idle(1);
                    continue;
                }
                limiter.awaitTurn(); // before claiming: claimed regions make user I/O to them wait
                slots.acquire();
                List<RegionClaims.Claim> batch;
                synchronized (this) { // a pause that returned is seen here
                    batch = paused || stopped ? List.of() : nextBatch();
                }
                if (batch.isEmpty()) {
                    slots.release();
                    idle(20);
                    continue;
                }
                long first = batch.getFirst().unit();
                limiter.charge(geometry.bytes(first, batch.size()));
                dispatch(batch);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("clone {}: hydrator stopped", volume.name(), e);
        }
    }

    private void complete() {
        volume.hydrationComplete();
        double seconds = Math.max(1e-3, meter.elapsedNanos() / 1e9);
        LOG.info(String.format(Locale.ROOT, "clone %s: hydration complete and committed, %.2f s after open; %d bytes "
                + "copied (%.1f MB/s)", volume.name(), seconds, meter.total(), meter.total() / seconds / 1e6));
    }

    /** Claims the next run of copyable regions from the cursor; empty when nothing can be copied now. */
    private List<RegionClaims.Claim> nextBatch() {
        long regions = meta.regions();
        long now = clock.nanoTime();
        RegionClaims claims = volume.claims();
        for (int pass = 0; pass < 2; pass++) {
            for (long r = meta.nextUnhydrated(cursor); r >= 0; r = meta.nextUnhydrated(r + 1)) {
                Retry retry = retries.get(r);
                if (retry != null && retry.dueNanos() - now > 0) {
                    continue;
                }
                RegionClaims.Claim first = claims.tryClaim(r, meta::isHydrated);
                if (first == null) {
                    continue;
                }
                List<RegionClaims.Claim> batch = new ArrayList<>(settings.batchSize());
                batch.add(first);
                while (batch.size() < settings.batchSize() && r + batch.size() < regions) {
                    long next = r + batch.size();
                    RegionClaims.Claim c = retries.containsKey(next) ? null : claims.tryClaim(next, meta::isHydrated);
                    if (c == null) {
                        break;
                    }
                    batch.add(c);
                }
                cursor = r + batch.size() >= regions ? 0 : r + batch.size();
                return batch;
            }
            cursor = 0;
        }
        return List.of();
    }

    private void dispatch(List<RegionClaims.Claim> batch) {
        long first = batch.getFirst().unit();
        int count = batch.size();
        running.incrementAndGet();
        workers.execute(() -> {
            try {
                volume.copier().copy(first, count);
                meta.markHydrated(first, count);
                copied(geometry.bytes(first, count));
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
                for (RegionClaims.Claim c : batch) {
                    volume.claims().release(c);
                }
                running.decrementAndGet();
                slots.release();
                wake();
            }
        });
    }

    private void failed(long first, long count, IOException e) {
        if (stopped) {
            LOG.debug("clone {}: copy of regions {}+{} ended by close: {}", volume.name(), first, count,
                    e.getMessage());
            return;
        }
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
        long now = clock.nanoTime();
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
        return backoff == null ? 0 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(backoffUntilNanos - clock.nanoTime()));
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

    /**
     * Stops scheduling and waits for running copies. A copy that does not end in time is left
     * to fail on the volume's closed devices, which refuse it; it can reach nothing else.
     */
    void stop() {
        stopped = true;
        wake();
        if (thread != null) {
            thread.interrupt(); // it may be waiting for its turn under the rate limit
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        workers.shutdown();
        try {
            if (!workers.awaitTermination(60, TimeUnit.SECONDS)) {
                LOG.warn("clone {}: {} copies still running after 60 s; closing without them", volume.name(),
                        running.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
