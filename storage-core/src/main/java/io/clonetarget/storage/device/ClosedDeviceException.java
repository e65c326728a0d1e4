package io.clonetarget.storage.device;

import java.io.IOException;

/** A call on a device that has been closed (or is being closed). */
public class ClosedDeviceException extends IOException {
    public ClosedDeviceException(String message) {
        super(message);
    }
}
