package io.clonetarget.storage.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RangeLockTest {
    @Test
    void sharedRangesNeverWaitAndExclusiveOnesExcludeOverlapsOnly() {
        RangeLock l = new RangeLock();
        RangeLock.Range a = l.tryLock(0, 100, RangeLock.Mode.SHARED);
        RangeLock.Range b = l.tryLock(50, 150, RangeLock.Mode.SHARED);
        assertNotNull(a);
        assertNotNull(b);
        assertNull(l.tryLock(99, 100, RangeLock.Mode.EXCLUSIVE), "overlaps a shared range");
        RangeLock.Range c = l.tryLock(150, 200, RangeLock.Mode.EXCLUSIVE);
        assertNotNull(c, "[150, 200) touches [50, 150) but does not overlap it");
        assertNull(l.tryLock(199, 300, RangeLock.Mode.SHARED));
        a.close();
        b.close();
        c.close();
        assertEquals(0, l.size());
        assertNotNull(l.tryLock(0, 1000, RangeLock.Mode.EXCLUSIVE));
    }

    @Test
    void anExclusiveRequestIsNotStarvedBySharedOnesArrivingAfterIt() throws Exception {
        RangeLock l = new RangeLock();
        RangeLock.Range first = l.lock(0, 10, RangeLock.Mode.SHARED);
        CompletableFuture<RangeLock.Range> exclusive = CompletableFuture.supplyAsync(() -> {
            try {
                return l.lock(0, 10, RangeLock.Mode.EXCLUSIVE);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Await.until(Duration.ofSeconds(10), () -> "the exclusive request queued", () -> l.size() == 2);
        assertNull(l.tryLock(5, 6, RangeLock.Mode.SHARED), "a later shared request queues behind the exclusive one");
        assertNotNull(l.tryLock(10, 20, RangeLock.Mode.SHARED), "outside its range nothing waits");
        first.close();
        RangeLock.Range x = exclusive.get();
        assertFalse(exclusive.isCompletedExceptionally());
        x.close();
    }

    @Test
    void anInterruptedWaiterLeavesNothingBehind() throws Exception {
        RangeLock l = new RangeLock();
        RangeLock.Range held = l.lock(0, 10, RangeLock.Mode.EXCLUSIVE);
        Thread waiter = Thread.ofPlatform().start(() -> {
            try {
                l.lock(0, 10, RangeLock.Mode.SHARED);
            } catch (InterruptedException expected) {
                // the point of the test
            }
        });
        Await.until(Duration.ofSeconds(10), () -> "waiting", () -> l.size() == 2);
        waiter.interrupt();
        waiter.join(10_000);
        assertEquals(1, l.size());
        held.close();
        assertEquals(0, l.size());
    }

    /** Many threads, seeded: no two conflicting ranges are ever held at once. */
    @Test
    void conflictingRangesAreNeverHeldTogether() throws Exception {
        RangeLock l = new RangeLock();
        int[] holders = new int[64]; // per unit: >0 shared holders, -1 exclusive
        AtomicInteger violations = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            Random random = new Random(1000 + t);
            done.add(pool.submit(() -> {
                for (int i = 0; i < 3000; i++) {
                    int from = random.nextInt(60);
                    int to = from + 1 + random.nextInt(4);
                    boolean exclusive = random.nextInt(4) == 0;
                    try (RangeLock.Range r = l.lock(from, to, exclusive ? RangeLock.Mode.EXCLUSIVE
                            : RangeLock.Mode.SHARED)) {
                        synchronized (holders) {
                            for (int u = from; u < to; u++) {
                                if (exclusive ? holders[u] != 0 : holders[u] < 0) {
                                    violations.incrementAndGet();
                                }
                                holders[u] = exclusive ? -1 : holders[u] + 1;
                            }
                        }
                        Thread.onSpinWait();
                        synchronized (holders) {
                            for (int u = from; u < to; u++) {
                                holders[u] = exclusive ? 0 : holders[u] - 1;
                            }
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        pool.shutdown();
        assertEquals(0, violations.get());
        assertEquals(0, l.size());
        assertTrue(l.tryLock(0, 64, RangeLock.Mode.EXCLUSIVE) != null);
    }

    @Test
    void optimisticReadFailsWhileOrAfterAnExclusiveRangeWasGranted() throws Exception {
        RangeLock l = new RangeLock();
        long quiet = l.tryOptimisticRead();
        assertTrue(quiet >= 0);
        try (RangeLock.Range shared = l.lock(0, 100, RangeLock.Mode.SHARED)) {
            assertTrue(l.validate(quiet), "shared holders do not disturb readers");
        }
        RangeLock.Range exclusive = l.lock(500, 600, RangeLock.Mode.EXCLUSIVE);
        assertFalse(l.validate(quiet), "an exclusive grant after the stamp invalidates it");
        assertEquals(-1, l.tryOptimisticRead(), "no optimistic read while an exclusive range is held");
        assertFalse(l.validate(-1));
        exclusive.close();
        exclusive.close();
        long after = l.tryOptimisticRead();
        assertTrue(after >= 0, "released twice counts once");
        assertTrue(l.validate(after));
        RangeLock.Range tried = l.tryLock(0, 8, RangeLock.Mode.EXCLUSIVE);
        assertNotNull(tried);
        assertFalse(l.validate(after), "tryLock grants count too");
        tried.close();
    }
}
