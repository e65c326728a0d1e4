package io.clonetarget.server;

import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.JournaledDevice;
import io.clonetarget.storage.lock.RangeLock;
import io.clonetarget.storage.snapshot.SnapshotVolume;
import java.io.Closeable;

/**
 * A volume opened for serving: the device underneath (a file or a clone), its identity, what to
 * close when the server stops (the device itself, or a clone with its metadata), the write-range
 * lock every LUN of the volume shares, its snapshots when it has them ({@code [volume.snapshots]}),
 * and the atomic-write journal over what it serves (null for a read-only volume).
 */
public record OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description,
                         RangeLock ranges, SnapshotVolume snapshots, JournaledDevice atomic) {
    public OpenVolume(String name, BlockDevice device, LunIdentity identity, Closeable owner, String description) {
        this(name, device, identity, owner, description, new RangeLock(), null, null);
    }

    /** The same volume with its snapshots attached (before the journal: it goes over the origin view). */
    public OpenVolume withSnapshots(SnapshotVolume s) {
        if (atomic != null) {
            throw new IllegalStateException("volume " + name + ": snapshots go under the atomic journal");
        }
        return new OpenVolume(name, device, identity, owner, description, ranges, s, null);
    }

    /** The same volume served through an atomic-write journal over {@link #served()}. */
    public OpenVolume withAtomic(JournaledDevice j) {
        return new OpenVolume(name, device, identity, owner, description, ranges, snapshots, j);
    }

    /**
     * What LUNs of the volume read and write: through the atomic journal when it has one, over
     * copy-on-write when it has snapshots (so a replayed record is copied on write like any other).
     */
    public BlockDevice served() {
        if (atomic != null) {
            return atomic;
        }
        return snapshots == null ? device : snapshots.origin();
    }
}
