package io.clonetarget.server;

import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import io.clonetarget.storage.snapshot.SnapshotVolume;
import java.io.Closeable;

/**
 * A volume opened for serving: the device underneath (a file or a clone), its identity, what to
 * close when the server stops (the device itself, or a clone with its metadata), the write-range
 * lock every LUN of the volume shares, and its snapshots when it has them ({@code [volume.snapshots]}).
 */
public record OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description,
                         RangeLock ranges, SnapshotVolume snapshots) {
    public OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description) {
        this(name, device, identity, owner, description, new RangeLock(), null);
    }

    /** The same volume with its snapshots attached. */
    public OpenVolume withSnapshots(SnapshotVolume s) {
        return new OpenVolume(name, device, identity, owner, description, ranges, s);
    }

    /** What LUNs of the volume read and write: through copy-on-write when it has snapshots. */
    public BlockDevice served() {
        return snapshots == null ? device : snapshots.origin();
    }
}
