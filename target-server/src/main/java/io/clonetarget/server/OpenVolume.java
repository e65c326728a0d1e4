package io.clonetarget.server;

import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.Closeable;

/**
 * A volume opened for serving: the device a LUN reads and writes, its identity, what to close
 * when the server stops (the device itself, or a clone with its metadata), and the write-range
 * lock every LUN of the volume shares.
 */
public record OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description,
                         RangeLock ranges) {
    public OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description) {
        this(name, device, identity, owner, description, new RangeLock());
    }
}
