package io.clonetarget.storage.device;

import java.io.IOException;

/** A failed system call, with its errno. */
public class NativeIoException extends IOException {
    private final int errno;

    public NativeIoException(String call, int errno) {
        super(call + ": " + NativeIo.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
