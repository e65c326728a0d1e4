package io.clonetarget.server;

import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.BlockDevice;
import java.io.Closeable;

/**
 * A volume opened for serving: the device a LUN reads and writes, its identity, and what to
 * close when the server stops (the device itself, or a clone with its metadata).
 */
public record OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description) {
}
