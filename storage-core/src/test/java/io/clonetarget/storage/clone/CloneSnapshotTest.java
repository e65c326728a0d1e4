package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.meta.SnapshotStore;
import io.clonetarget.storage.snapshot.SnapshotVolume;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A snapshot of a clone while it hydrates: the image is the clone's logical content at creation
 * (source where unhydrated, written data elsewhere), hydration never causes a copy-on-write, and
 * the image stays exact after hydration completes and the clone is written again.
 */
class CloneSnapshotTest {
    static final long REGION = 16 * 1024;
    static final long SIZE = 64 * REGION;
    static final int CHUNK = 16 * 1024;

    @Test
    void aSnapshotOfAHydratingCloneIsItsLogicalContentAndHydrationCopiesNothing() throws Exception {
        try (CloneFixture f = new CloneFixture(SIZE, REGION, false, CloneFixture.paused())) {
            f.volume.write(3 * REGION + 512, CloneFixture.filled(4096, 0x5a), false);
            f.volume.write(10 * REGION, CloneFixture.filled((int) REGION, 0x6b), false);
            RecordingBlockDevice meta = new RecordingBlockDevice("snapmeta", f.journal,
                    SnapshotStore.bytesNeeded(8, SIZE / CHUNK), 4096);
            RecordingBlockDevice diff = new RecordingBlockDevice("diff", f.journal, SIZE, 4096);
            SnapshotVolume snaps = SnapshotVolume.format("clone", f.volume, meta, diff,
                    new SnapshotVolume.Settings(CHUNK, SIZE, CHUNK * 4L, 10, 8, 4), (id, why) -> true);
            ByteBuffer atCreation = f.read(0, (int) SIZE);
            snaps.create("t0");
            f.volume.resume();
            f.awaitHydrated(Duration.ofSeconds(20));
            assertEquals(0, snaps.status().copies(), "hydration does not change the logical content: no copies");
            // writes through the snapshot volume's origin after hydration: copied once each
            snaps.origin().write(3 * REGION, CloneFixture.filled(512, 0x11), false);
            snaps.origin().write(40 * REGION, CloneFixture.filled((int) REGION, 0x22), false);
            assertEquals(2, snaps.status().copies());
            ByteBuffer image = ByteBuffer.allocateDirect((int) SIZE);
            snaps.image("t0", false).read(0, image);
            image.flip();
            assertEquals(atCreation, image, "the image is the clone's content at creation");
            assertTrue(f.read(40 * REGION, 512).get(0) == 0x22, "the clone has the new data");
            snaps.close();
        }
    }
}
