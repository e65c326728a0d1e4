package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The thin-provisioning soft threshold of one unit: after writes, at most once a second, the
 * free space of the pool its device allocates from is compared with the configured warning
 * level; falling below it reports once (the unit then raises THIN PROVISIONING SOFT THRESHOLD
 * REACHED, 06h/38h/07h, for every nexus), and rising 10% above it arms the warning again.
 *
 * <p>Thread safety: {@link #below} is decided by compare-and-set, so one crossing reports once
 * however many writers see it; the other fields are volatile or final.
 */
final class SpaceWatch {
    static final long INTERVAL_NANOS = 1_000_000_000L;

    private final BlockDevice device;
    private final LongSupplier clock;
    private final int exponent;
    private volatile long warnBelow;
    /** When the next look is due, on {@link #clock}: the first write looks at once. */
    private final AtomicLong nextCheck;
    private final java.util.concurrent.atomic.AtomicBoolean below = new java.util.concurrent.atomic.AtomicBoolean();

    SpaceWatch(BlockDevice device, LongSupplier clock) {
        this.device = device;
        this.clock = clock;
        this.nextCheck = new AtomicLong(clock.getAsLong());
        int e = 0;
        try {
            e = device.space() != null ? LogPages.thresholdExponent(device.logicalBlockSize()) : 0;
        } catch (IOException ignored) {
            // a pool we cannot ask about has no threshold sets to report
        }
        this.exponent = e;
    }

    /** The THRESHOLD EXPONENT of VPD B2h: 0 when the device has no pool. */
    int exponent() {
        return exponent;
    }

    /** Warn when free space falls below {@code bytes} (0: never). */
    void warnBelow(long bytes) {
        warnBelow = bytes;
    }

    /** Called after writes: whether free space has just fallen below the warning level. */
    boolean crossed() {
        long level = warnBelow;
        if (level <= 0 || exponent == 0) {
            return false;
        }
        long now = clock.getAsLong();
        long due = nextCheck.get();
        if (now - due < 0 || !nextCheck.compareAndSet(due, now + INTERVAL_NANOS)) {
            return false;
        }
        long available;
        try {
            available = device.space().availableBytes();
        } catch (IOException e) {
            return false;
        }
        if (available < level) {
            return below.compareAndSet(false, true);
        }
        if (available > level + level / 10) {
            below.set(false);
        }
        return false;
    }
}
