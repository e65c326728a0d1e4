package io.clonetarget.server;

import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens the volumes a configuration describes. */
public final class Volumes {
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
