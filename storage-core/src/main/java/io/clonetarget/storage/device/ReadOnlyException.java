package io.clonetarget.storage.device;

import java.io.IOException;

/** A write reached a device (or a volume in read-only mode) that refuses writes. */
public class ReadOnlyException extends IOException {
    public ReadOnlyException(String message) {
        super(message);
    }
}
