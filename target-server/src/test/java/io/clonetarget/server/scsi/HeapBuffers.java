package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/** Unpooled buffers for tests. */
final class HeapBuffers implements BufferSource {
    @Override
    public ByteBuffer acquire(int size) {
        return ByteBuffer.allocateDirect(size);
    }

    @Override
    public void release(ByteBuffer buffer) {
    }
}
