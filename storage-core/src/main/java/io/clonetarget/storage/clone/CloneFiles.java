package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.MetadataInspection;
import io.clonetarget.storage.meta.Superblock;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Opens clones whose destination and metadata are files. */
public final class CloneFiles {
    private static final Logger LOG = LoggerFactory.getLogger(CloneFiles.class);

    private CloneFiles() {
    }

    /** Opens a source: an http(s) URL, or a file or block device path. */
    public static CloneSource openSource(String location) throws IOException {
        if (location.startsWith("http://") || location.startsWith("https://")) {
            try {
                return HttpSource.open(URI.create(location));
            } catch (IllegalArgumentException e) {
                throw new IOException("not a valid URL: " + location, e);
            }
        }
        Path path = Path.of(location);
        if (!Files.exists(path)) {
            throw new IOException("clone source " + location + " does not exist");
        }
        return FileSource.open(path);
    }

    /**
     * Opens (or creates) a clone.
     *
     * @throws IOException when files disagree: metadata without its destination, sizes that do
     *     not match, a changed source; nothing is reformatted or overwritten silently
     */
    public static CloneVolume open(String name, String sourceLocation, Path dest, Path metadata,
                                   CloneVolume.Settings settings) throws IOException {
        Superblock complete = completeClone(metadata);
        if (complete != null && Files.exists(dest)) {
            LOG.info("clone {}: fully hydrated; the source {} is not opened", name, sourceLocation);
            return open(name, new DetachedSource(complete), dest, metadata, settings);
        }
        CloneSource source = openSource(sourceLocation);
        try {
            return open(name, source, dest, metadata, settings);
        } catch (IOException | RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** The superblock of existing, intact metadata whose every region is hydrated, else null. */
    private static Superblock completeClone(Path metadata) throws IOException {
        if (!Files.exists(metadata) || Files.size(metadata) == 0) {
            return null;
        }
        MetadataInspection inspection;
        try (FileBlockDevice m = FileBlockDevice.open(metadata, true, 512)) {
            inspection = MetadataInspection.of(m);
        }
        Superblock sb = inspection.current();
        return inspection.opens() && sb != null && inspection.hydratedRegions() == sb.regionCount() ? sb : null;
    }

    public static CloneVolume open(String name, CloneSource source, Path dest, Path metadata,
                                   CloneVolume.Settings settings) throws IOException {
        long size = source.size() - source.size() % settings.logicalBlockSize();
        boolean metaExisted = Files.exists(metadata) && Files.size(metadata) > 0;
        boolean destExisted = Files.exists(dest);
        if (metaExisted && !destExisted) {
            throw new IOException("clone " + name + ": metadata " + metadata + " exists but the destination " + dest
                    + " does not; refusing to serve hydrated regions from nothing (remove the metadata to start over)");
        }
        if (destExisted && !metaExisted) {
            LOG.warn("clone {}: destination {} exists without metadata; starting a new clone over it", name, dest);
        }
        FileBlockDevice destDevice = FileBlockDevice.openOrCreate(dest, size, settings.logicalBlockSize());
        FileBlockDevice metaDevice = null;
        try {
            if (destDevice.size() != size) {
                throw new IOException("clone " + name + ": destination " + dest + " is " + destDevice.size()
                        + " bytes, the source " + size);
            }
            long metaBytes = CloneVolume.metadataBytes(size, settings.regionSize());
            metaDevice = FileBlockDevice.openOrCreate(metadata, metaBytes, 4096);
            if (metaDevice.size() < metaBytes) {
                throw new IOException("clone " + name + ": metadata " + metadata + " is " + metaDevice.size()
                        + " bytes, it needs " + metaBytes);
            }
            return CloneVolume.open(name, source, destDevice, metaDevice, settings);
        } catch (IOException | RuntimeException e) {
            destDevice.close();
            if (metaDevice != null) {
                metaDevice.close();
            }
            throw e;
        }
    }
}
