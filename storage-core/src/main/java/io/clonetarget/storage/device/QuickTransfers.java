package io.clonetarget.storage.device;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Transfers that must not wait for storage, for answering a command on the thread that received
 * it. With RWF_NOWAIT the kernel declines what would wait. Where it has no RWF_NOWAIT for a file
 * (buffered writes on ext4, reads on tmpfs) the transfer is made optimistically, because a cached
 * read or a buffered write only waits when the kernel throttles dirty pages; a {@link
 * LatencyGuard} stops that for a while after a transfer slower than 2 ms.
 * Thread-safe: the flags only ever go from "try" to "do not"; the guard is thread-safe.
 */
final class QuickTransfers {
    private static final Logger LOG = LoggerFactory.getLogger(QuickTransfers.class);
    private final Path path;
    private final LatencyGuard guard = new LatencyGuard(System.nanoTime());
    private volatile boolean nowaitReads = true;
    private volatile boolean nowaitWrites = true;

    QuickTransfers(Path path) {
        this.path = path;
    }

    /**
     * Transfers all of {@code buffer} at {@code offset} of {@code fd}, or nothing (position
     * unchanged) when that would wait.
     */
    boolean transfer(int fd, long offset, ByteBuffer buffer, boolean write) throws NativeIoException {
        int start = buffer.position();
        long want = buffer.remaining();
        boolean nowait = write ? nowaitWrites : nowaitReads;
        if (nowait) {
            long n = NativeIo.tryTransfer(fd, buffer, offset, write);
            if (n == want) {
                return true;
            }
            buffer.position(start);
            if (n >= 0) {
                return false;
            }
            if (write) {
                nowaitWrites = false;
            } else {
                nowaitReads = false;
            }
        }
        long now = System.nanoTime();
        if (!guard.open(now)) {
            return false;
        }
        if (write) {
            NativeIo.pwrite(fd, buffer, offset);
        } else if (NativeIo.pread(fd, buffer, offset) != want) {
            buffer.position(start);
            return false;
        }
        long took = System.nanoTime() - now;
        long backoff = guard.record(now, took);
        if (backoff > 0) {
            LOG.debug("{}: a {} took {} us; no optimistic transfers for {} ms", path, write ? "write" : "read",
                    took / 1000, backoff / 1_000_000);
        }
        return true;
    }

}
