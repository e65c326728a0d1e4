package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Copies regions from a clone's source to its destination: inside the kernel when both are
 * files ({@code copy_file_range}, as {@code cp} does), else through a per-thread direct buffer
 * of at most {@value #CHUNK} bytes. The caller holds the regions' claims. Thread-safe.
 */
final class CopyEngine {
    static final int CHUNK = 4 << 20;
    private static final ThreadLocal<ByteBuffer> BUFFERS = new ThreadLocal<>();
    private final CloneSource source;
    private final BlockDevice dest;
    private final RegionGeometry geometry;

    CopyEngine(CloneSource source, BlockDevice dest, RegionGeometry geometry) {
        this.source = source;
        this.dest = dest;
        this.geometry = geometry;
    }

    /** Copies regions {@code [first, first + count)}; not durable until the destination is flushed. */
    void copy(long first, long count) throws IOException {
        long from = geometry.start(first);
        long to = geometry.end(first + count - 1);
        if (source.copyTo(dest, from, to - from)) {
            return;
        }
        ByteBuffer buffer = buffer((int) Math.min(CHUNK, to - from));
        for (long off = from; off < to; ) {
            int n = (int) Math.min(buffer.capacity(), to - off);
            buffer.clear().limit(n);
            source.read(off, buffer);
            buffer.flip();
            dest.write(off, buffer, false);
            off += n;
        }
    }

    private static ByteBuffer buffer(int want) {
        ByteBuffer b = BUFFERS.get();
        if (b == null || b.capacity() < want) {
            b = ByteBuffer.allocateDirect(Math.max(want, b == null ? 0 : b.capacity()));
            BUFFERS.set(b);
        }
        return b;
    }
}
