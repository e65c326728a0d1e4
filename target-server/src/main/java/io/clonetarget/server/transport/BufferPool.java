package io.clonetarget.server.transport;

import io.clonetarget.server.scsi.BufferSource;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Page-aligned direct buffers in power-of-two size classes from 4 KiB to 16 MiB, reused across
 * commands so that the data path allocates nothing in steady state. At most
 * {@code maxRetainedBytes} are kept idle; beyond that released buffers are left to the garbage
 * collector. Larger requests get an unpooled buffer. Thread-safe.
 */
public final class BufferPool implements BufferSource {
    private static final int MIN_SHIFT = 12;
    private static final int MAX_SHIFT = 24;
    private static final int PAGE = 4096;

    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedQueue<ByteBuffer>[] free = new ConcurrentLinkedQueue[MAX_SHIFT - MIN_SHIFT + 1];
    private final AtomicLong retained = new AtomicLong();
    private final long maxRetainedBytes;

    public BufferPool(long maxRetainedBytes) {
        this.maxRetainedBytes = maxRetainedBytes;
        for (int i = 0; i < free.length; i++) {
            free[i] = new ConcurrentLinkedQueue<>();
        }
    }

    private static int classOf(int size) {
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(Math.max(1, size) - 1));
        return shift - MIN_SHIFT;
    }

    @Override
    public ByteBuffer acquire(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("size " + size);
        }
        int c = classOf(size);
        if (c >= free.length) {
            return allocate(size);
        }
        ByteBuffer b = free[c].poll();
        if (b != null) {
            retained.addAndGet(-b.capacity());
            return b.clear().limit(size);
        }
        return allocate(1 << (c + MIN_SHIFT)).limit(size);
    }

    /**
     * A page-aligned direct buffer of exactly {@code capacity} bytes. The allocation is rounded
     * up to whole pages, so that the aligned slice always has room (sizes outside every pool
     * class, such as 32 MiB + 512, are as valid as powers of two).
     */
    static ByteBuffer allocate(int capacity) {
        long pages = ((long) capacity + PAGE - 1) / PAGE;
        int allocation = Math.toIntExact((pages + 1) * PAGE);
        return ByteBuffer.allocateDirect(allocation).alignedSlice(PAGE).limit(capacity).slice();
    }

    @Override
    public void release(ByteBuffer buffer) {
        if (buffer == null) {
            return;
        }
        int capacity = buffer.capacity();
        if (Integer.bitCount(capacity) != 1 || capacity < (1 << MIN_SHIFT)) {
            return;
        }
        int c = classOf(capacity);
        if (c >= free.length || retained.get() + capacity > maxRetainedBytes) {
            return;
        }
        retained.addAndGet(capacity);
        free[c].add(buffer);
    }

    /** Bytes held idle in the pool (for status). */
    public long retainedBytes() {
        return retained.get();
    }
}
