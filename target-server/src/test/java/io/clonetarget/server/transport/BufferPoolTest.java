package io.clonetarget.server.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BufferPoolTest {
    /** Sizes inside and outside every pool class, odd and even, up to the largest a command can ask for. */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {0, 1, 511, 512, 4095, 4096, 4097, 65536 + 512, (16 << 20) - 1, 16 << 20, (16 << 20) + 1,
            (32 << 20) + 512, (64 << 20) - 512, 64 << 20})
    void everySizeIsServedPageAlignedAndWhole(int size) {
        BufferPool pool = new BufferPool(64L << 20);
        ByteBuffer b = pool.acquire(size);
        assertEquals(size, b.remaining());
        assertTrue(b.isDirect());
        assertEquals(0, b.alignmentOffset(0, 4096), "page-aligned");
        while (b.hasRemaining()) {
            b.put((byte) 1);
        }
        pool.release(b);
        assertTrue(pool.retainedBytes() <= 64L << 20);
    }
}
