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

    private static ByteBuffer allocate(int capacity) {
        return ByteBuffer.allocateDirect(capacity + 4096).alignedSlice(4096).limit(capacity).slice();
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
