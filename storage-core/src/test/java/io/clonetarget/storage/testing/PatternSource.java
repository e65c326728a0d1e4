package io.clonetarget.storage.testing;

import io.clonetarget.storage.clone.CloneSource;
import io.clonetarget.storage.clone.SourceChangedException;
import io.clonetarget.storage.device.MediumErrorException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clone source whose every byte is a function of its offset and a seed, with no zero bytes (so
 * a destination hole can never pass for source data). Counts reads, can fail or delay them, and
 * can pretend to have changed.
 */
public final class PatternSource implements CloneSource {
    private final long size;
    private final int seed;
    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private volatile long failFrom = -1;
    private volatile long failTo = -1;
    private volatile boolean changed;
    private volatile long delayMillis;

    public PatternSource(long size, int seed) {
        this.size = size;
        this.seed = seed;
    }

    /** The source byte at {@code offset}. */
    public byte at(long offset) {
        long x = offset * 0x9E3779B97F4A7C15L + seed;
        x ^= x >>> 29;
        int v = (int) (x & 0xff);
        return (byte) (v == 0 ? 1 : v);
    }

    /** Reads overlapping {@code [from, to)} fail with a medium error; {@code failNothing()} ends it. */
    public void failRange(long from, long to) {
        failTo = to;
        failFrom = from;
    }

    public void failNothing() {
        failFrom = -1;
        failTo = -1;
    }

    public void setChanged(boolean c) {
        changed = c;
    }

    public void setDelay(long millis) {
        delayMillis = millis;
    }

    public long reads() {
        return reads.get();
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (changed) {
            throw new SourceChangedException("pattern source changed");
        }
        if (failFrom >= 0 && offset < failTo && offset + dst.remaining() > failFrom) {
            throw new MediumErrorException("injected source error at " + offset, false);
        }
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        reads.incrementAndGet();
        bytesRead.addAndGet(dst.remaining());
        int n = dst.remaining();
        for (int i = 0; i < n; i++) {
            dst.put(at(offset + i));
        }
    }

    @Override
    public String descriptor() {
        return "kind=pattern\nsize=" + size + "\nseed=" + seed + "\n";
    }

    @Override
    public void checkSame(String recorded) throws IOException {
        if (!recorded.equals(descriptor())) {
            throw new SourceChangedException("pattern source is not the recorded one: " + recorded);
        }
    }

    @Override
    public String describe() {
        return "pattern(" + seed + ")";
    }

    @Override
    public void close() {
    }
}
