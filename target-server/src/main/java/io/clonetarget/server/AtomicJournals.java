package io.clonetarget.server;

import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.storage.device.JournaledDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Where a volume's atomic-write journal lives, and opening it (docs/formats/atomic-journal.md).
 *
 * <p>Next to the image, {@code IMAGE.atomic}, when the image is a regular file: the journal is on
 * the same file system as the data it protects (no power-loss domain of its own), goes with the
 * image when an operator lists, moves or backs up the directory, and needs no state directory
 * (file volumes are served without one). A clone's image is its destination file. A block device
 * image has no directory of its own ({@code /dev} is a memory file system): its journal goes to
 * {@code STATE-DIR/atomic/NAME.atomic}, and without a state directory it has none (no atomic
 * writes offered). Read-only volumes have no journal.
 */
final class AtomicJournals {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AtomicJournals.class);

    private AtomicJournals() {
    }

    /** The journal path of {@code v}, or null when it has none. */
    static Path location(ServerConfig desired, VolumeConfig v) {
        if (v.readOnly()) {
            return null;
        }
        Path image = Path.of(v.path());
        if (Files.isRegularFile(image)) {
            return image.resolveSibling(image.getFileName() + ".atomic");
        }
        String stateDir = desired.server().stateDir();
        if (stateDir == null) {
            LOG.info("volume {}: {} is not a regular file and there is no state directory: no atomic writes",
                    v.name(), image);
            return null;
        }
        return Path.of(stateDir).resolve("atomic").resolve(v.name() + ".atomic");
    }

    /** Opens (replaying) or makes the journal over what {@code opened} serves. */
    static JournaledDevice open(VolumeConfig v, OpenVolume opened, Path journal) throws IOException {
        // the image's identity (a file's device and inode, a clone's UUID): records of another image are refused
        long identity = UUID.nameUUIDFromBytes(opened.identity().naa()).getMostSignificantBits();
        try {
            return JournaledDevice.openFile(opened.served(), journal, identity);
        } catch (IOException e) {
            throw new IOException("volume " + v.name() + ": " + e.getMessage(), e);
        }
    }
}
