package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;

/**
 * Moves bytes from one block device to another for the copy managers (EXTENDED COPY, WRITE
 * USING TOKEN): in chunks, by {@code copy_file_range} where both are files
 * ({@link BlockDevice#copyFrom}), else through a pooled buffer; a copy within one device onto a
 * later overlapping range runs backwards, so the result is as if the source were read first.
 * The caller holds the destination blocks.
 */
final class BlockCopy {
    static final int CHUNK = 1 << 20;
    static final long READ_AHEAD = 8L << 20;

    private BlockCopy() {
    }

    /**
     * Copies {@code length} bytes, checking {@code stop} before each chunk.
     *
     * @return the bytes copied: {@code length}, or fewer when {@code stop} said so (the copied
     *     part is the first bytes, or for a backwards copy the last ones)
     */
    static long copy(BlockDevice in, long from, BlockDevice out, long to, long length, BufferSource buffers,
                     BooleanSupplier stop) throws IOException {
        boolean backwards = in == out && to > from && to < from + length;
        long done = 0;
        long asked = 0; // how much of the source the kernel has been asked to read ahead
        while (done < length) {
            if (stop.getAsBoolean()) {
                return done;
            }
            long n = Math.min(CHUNK, length - done);
            long at = backwards ? length - done - n : done;
            if (!backwards && asked < Math.min(length, done + READ_AHEAD)) {
                // keep READ_AHEAD of the source being read while this chunk is copied (a cold source
                // otherwise waits for each chunk's reads in turn)
                long end = Math.min(length, done + 2 * READ_AHEAD);
                in.prefetch(from + asked, end - asked);
                asked = end;
            }
            // copy_file_range refuses overlapping ranges of one file: such a chunk goes through a buffer
            boolean overlapping = in == out && Math.abs(to - from) < n;
            if (overlapping || !out.copyFrom(in, from + at, to + at, n)) {
                ByteBuffer buffer = buffers.acquire((int) n);
                try {
                    buffer.clear().limit((int) n);
                    in.read(from + at, buffer);
                    buffer.flip();
                    out.write(to + at, buffer, false);
                } finally {
                    buffers.release(buffer);
                }
            }
            done += n;
        }
        return done;
    }
}
