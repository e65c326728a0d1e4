package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/** Scratch buffers for commands that read before they write or compare (VERIFY, WRITE SAME). */
public interface BufferSource {
    /** A direct buffer with at least {@code size} bytes, position 0, limit {@code size}. */
    ByteBuffer acquire(int size);

    void release(ByteBuffer buffer);
}
