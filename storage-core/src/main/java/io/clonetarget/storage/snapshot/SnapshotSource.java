package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.clone.CloneSource;
import io.clonetarget.storage.clone.SourceChangedException;
import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A snapshot as the source of a clone: an instant, hydrating copy of a point in time. While the
 * source is open the snapshot is held ({@link SnapshotVolume#hold}): deleting it is refused with
 * the clone's name. Its descriptor records the volume, the snapshot's name and id and the store's
 * tracking id, so a snapshot deleted and taken again under the same name is refused as changed.
 */
public final class SnapshotSource implements CloneSource {
    private final SnapshotVolume volume;
    private final String snapshot;
    private final BlockDevice image;
    private final Map<String, String> identity;
    private final Runnable release;

    private SnapshotSource(SnapshotVolume volume, String snapshot, BlockDevice image, Map<String, String> identity,
                           Runnable release) {
        this.volume = volume;
        this.snapshot = snapshot;
        this.image = image;
        this.identity = identity;
        this.release = release;
    }

    /** Opens snapshot {@code snapshot} of {@code volume} as the source of the clone {@code clone}. */
    public static SnapshotSource open(SnapshotVolume volume, String snapshot, String clone) {
        SnapshotVolume.SnapshotInfo info = volume.get(snapshot);
        if (info == null) {
            throw new IllegalArgumentException("volume " + volume.name() + " has no snapshot named " + snapshot);
        }
        Runnable release = volume.hold(snapshot, "clone " + clone);
        Map<String, String> id = new LinkedHashMap<>();
        id.put("kind", "snapshot");
        id.put("location", volume.name() + "@" + snapshot);
        id.put("size", Long.toString(volume.underlying().size()));
        id.put("snapshot-id", Long.toString(info.id()));
        id.put("tracking-id", volume.status().trackingId().toString());
        return new SnapshotSource(volume, snapshot, volume.image(snapshot, false), id, release);
    }

    @Override
    public long size() {
        return image.size();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        image.read(offset, dst);
    }

    @Override
    public String descriptor() {
        return CloneSource.formatDescriptor(identity);
    }

    @Override
    public void checkSame(String recorded) throws IOException {
        Map<String, String> then = CloneSource.parseDescriptor(recorded);
        for (String key : new String[]{"location", "size", "snapshot-id", "tracking-id"}) {
            if (!Objects.equals(then.get(key), identity.get(key))) {
                throw new SourceChangedException("source snapshot " + volume.name() + "@" + snapshot + " is not the one "
                        + "the clone was made from: " + key + " was " + then.get(key) + ", is " + identity.get(key));
            }
        }
    }

    @Override
    public String describe() {
        return "snapshot " + volume.name() + "@" + snapshot;
    }

    @Override
    public void close() {
        release.run();
    }
}
