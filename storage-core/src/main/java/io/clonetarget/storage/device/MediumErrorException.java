package io.clonetarget.storage.device;

import java.io.IOException;

/**
 * Data could not be read or written because the medium behind it failed (EIO, an unreachable
 * clone source). Reported to initiators as MEDIUM ERROR, never retried forever.
 */
public class MediumErrorException extends IOException {
    private final boolean write;

    public MediumErrorException(String message, boolean write, Throwable cause) {
        super(message, cause);
        this.write = write;
    }

    public MediumErrorException(String message, boolean write) {
        this(message, write, null);
    }

    /** Whether the failed operation was a write (WRITE ERROR) rather than a read. */
    public boolean isWrite() {
        return write;
    }
}
