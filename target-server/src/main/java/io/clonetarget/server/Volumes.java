package io.clonetarget.server;

import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens the volumes a configuration describes. */
public final class Volumes {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Volumes.class);
    private Volumes() {
    }

    /** Opens a volume of any type. */
    public static OpenVolume open(VolumeConfig v) throws IOException {
        return switch (v.type()) {
            case FILE -> openFile(v);
            case CLONE -> CloneVolumes.open(v);
        };
    }

    private static OpenVolume openFile(VolumeConfig v) throws IOException {
        Path path = Path.of(v.path());
        FileBlockDevice device;
        String missing = Files.exists(path) ? null : missingFile(v);
        if (missing != null) {
            throw new IOException("volume " + v.name() + ": " + missing);
        }
        if (v.size() != null && !v.readOnly()) {
            device = FileBlockDevice.openOrCreate(path, v.size().bytes(), v.blockSize());
        } else {
            // read-only: O_RDONLY with a shared lock, never created, never resized
            device = FileBlockDevice.open(path, v.readOnly(), v.blockSize());
        }
        if (v.size() != null && device.size() > v.size().bytes() && !v.readOnly() && neverWrittenPast(device, v)) {
            // a growth the server prepared (file extended and fsynced) but a crash kept it from
            // saving: nothing was ever served past the configured size, so taking it back loses nothing
            long actual = device.size();
            device.close();
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(path,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(v.size().bytes());
                ch.force(true);
            }
            LOG.warn("volume {}: {} was {} bytes, beyond its configured size {} and never written there (a growth "
                    + "interrupted before it was saved); cut back to {} bytes", v.name(), path, actual, v.size(),
                    v.size().bytes());
            device = FileBlockDevice.openOrCreate(path, v.size().bytes(), v.blockSize());
        }
        if (v.size() != null && device.size() != v.size().bytes()) {
            long actual = device.size();
            device.close();
            throw new IOException("volume " + v.name() + ": " + path + " exists with " + actual
                    + " bytes, but the configuration says size " + v.size() + " (" + v.size().bytes()
                    + " bytes); remove the size or fix it");
        }
        if (device.size() == 0) {
            device.close();
            throw new IOException("volume " + v.name() + ": " + path + " is empty");
        }
        return new OpenVolume(v.name(), device, LunIdentity.fromSeed(fileSeed(path), "file"), device,
                "file " + path);
    }

    /** Whether everything of the file past the configured size is a hole (never written). */
    private static boolean neverWrittenPast(FileBlockDevice device, VolumeConfig v) throws IOException {
        io.clonetarget.storage.device.BlockDevice.Extent tail = device.extentAt(v.size().bytes());
        return !tail.allocated() && tail.offset() + tail.length() >= device.size();
    }

    /**
     * Why a file volume whose file does not exist cannot be opened, or null when {@code serve}
     * creates it (a writable volume with a size).
     */
    static String missingFile(VolumeConfig v) {
        if (v.readOnly()) {
            return v.path() + " does not exist, and a read-only volume is never created; create the file first"
                    + (v.size() == null ? "" : ", or drop read-only to create it with size " + v.size());
        }
        if (v.size() == null) {
            return v.path() + " does not exist (give a size to create it)";
        }
        return null;
    }

    /** A seed that stays the same while the file does, and changes when it is replaced. */
    static String fileSeed(Path path) throws IOException {
        Path real = path.toRealPath();
        Object inode = Files.getAttribute(real, "unix:ino");
        Object device = Files.getAttribute(real, "unix:dev");
        return "file:" + real + ":" + device + ":" + inode;
    }
}
