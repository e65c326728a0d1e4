package io.clonetarget.storage.device;

import java.io.IOException;

/** The storage behind a device ran out of space (ENOSPC) while allocating for a write. */
public class NoSpaceException extends IOException {
    public NoSpaceException(String message) {
        super(message);
    }
}
