package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.DurableFiles;
import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.CloneInfo;
import io.clonetarget.storage.meta.CloneStore;
import io.clonetarget.storage.meta.MetadataInspection;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens clones whose destination and metadata are files, and creates them so that a crash at
 * any moment leaves something the next open understands.
 *
 * <p>Creation order: the metadata file first, formatted under a temporary name and linked into
 * place only when complete and flushed ({@link DurableFiles}); then the destination, sparse.
 * So metadata that exists is valid, and a crash between the two leaves valid metadata with
 * nothing hydrated and no destination, which the next open completes. Existing data is never
 * formatted over: a destination without valid metadata is refused unless the caller explicitly
 * asks to start a new clone over it.
 */
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

    /** {@link #open(String, String, Path, Path, CloneVolume.Settings, boolean)} without overwriting anything. */
    public static CloneVolume open(String name, String sourceLocation, Path dest, Path metadata,
                                   CloneVolume.Settings settings) throws IOException {
        return open(name, sourceLocation, dest, metadata, settings, false);
    }

    /**
     * Opens (or creates) a clone, as {@link ClonePlan} decides from the files.
     *
     * @param overwriteDestination start a new clone over a destination (and metadata file) that
     *     has no valid metadata, instead of refusing; valid metadata is always opened as it is
     * @throws IOException when the files disagree: metadata without its destination, a
     *     destination without metadata, sizes that do not match, a changed source
     */
    public static CloneVolume open(String name, String sourceLocation, Path dest, Path metadata,
                                   CloneVolume.Settings settings, boolean overwriteDestination) throws IOException {
        return open(name, sourceLocation, dest, metadata, settings, overwriteDestination, CloneFiles::openSource);
    }

    /** Opens a source named by its location (a path, a URL, or what the caller resolves). */
    @FunctionalInterface
    public interface SourceOpener {
        CloneSource open(String location) throws IOException;
    }

    /** The same, with the sources opened by {@code opener} (e.g. snapshots of the server's volumes). */
    public static CloneVolume open(String name, String sourceLocation, Path dest, Path metadata,
                                   CloneVolume.Settings settings, boolean overwriteDestination, SourceOpener opener)
            throws IOException {
        ClonePlan plan = ClonePlan.of(dest, metadata, overwriteDestination);
        if (plan.action() == ClonePlan.Action.OPEN && plan.complete()) {
            LOG.info("clone {}: fully hydrated; the source {} is not opened", name, sourceLocation);
            return open(name, new DetachedSource(plan.inspection().clone()), dest, metadata, settings, plan);
        }
        if (plan.action() == ClonePlan.Action.REFUSE) {
            throw new IOException("clone " + name + ": " + plan.problem());
        }
        CloneSource source = opener.open(sourceLocation);
        try {
            return open(name, source, dest, metadata, settings, plan);
        } catch (IOException | RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /** Opens (or creates) a clone of an open source; nothing is overwritten. */
    public static CloneVolume open(String name, CloneSource source, Path dest, Path metadata,
                                   CloneVolume.Settings settings) throws IOException {
        return open(name, source, dest, metadata, settings, ClonePlan.of(dest, metadata, false));
    }

    private static CloneVolume open(String name, CloneSource source, Path dest, Path metadata,
                                    CloneVolume.Settings settings, ClonePlan plan) throws IOException {
        long size = CloneVolume.sizeOf(source, settings);
        switch (plan.action()) {
            case REFUSE -> throw new IOException("clone " + name + ": " + plan.problem());
            case OPEN -> growForUpgrade(name, metadata, plan.inspection());
            case CREATE_DESTINATION -> {
                // an interrupted creation (metadata made, destination not yet): nothing was ever hydrated;
                // check that this is the clone the metadata describes before making anything
                CloneInfo info = plan.inspection().clone();
                source.checkSame(info.source());
                if (info.targetSize() != size) {
                    throw new IOException("clone " + name + ": the metadata describes " + info.targetSize()
                            + " bytes, the source has " + size);
                }
                LOG.info("clone {}: creating the destination {} for existing metadata with nothing hydrated", name,
                        dest);
                DurableFiles.createSparse(dest, size, settings.logicalBlockSize());
                growForUpgrade(name, metadata, plan.inspection());
            }
            case CREATE, OVERWRITE -> {
                if (plan.action() == ClonePlan.Action.OVERWRITE) {
                    LOG.warn("clone {}: starting a new clone over {}{}, as overwrite-destination says", name, dest,
                            plan.metadataExists() ? " and " + metadata : "");
                }
                createMetadata(source, metadata, settings, plan.metadataExists());
                if (!plan.destinationExists()) {
                    DurableFiles.createSparse(dest, size, settings.logicalBlockSize());
                }
            }
        }
        return openFiles(name, source, dest, metadata, settings, size);
    }

    /** Formats new metadata under a temporary name, then puts it in place (replacing only when told to). */
    private static void createMetadata(CloneSource source, Path metadata, CloneVolume.Settings settings,
                                       boolean replace) throws IOException {
        long size = CloneVolume.sizeOf(source, settings);
        if (size <= 0) {
            throw new IOException("clone source " + source.describe() + " is empty");
        }
        long bytes = CloneVolume.metadataBytes(size, settings.regionSize());
        if (!replace) {
            DurableFiles.create(metadata, bytes, 4096, d -> CloneVolume.format(source, d, settings)).close();
            return;
        }
        Path fresh = metadata.resolveSibling("." + metadata.getFileName() + ".fresh");
        Files.deleteIfExists(fresh);
        DurableFiles.create(fresh, bytes, 4096, d -> CloneVolume.format(source, d, settings)).close();
        Files.move(fresh, metadata, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        DurableFiles.syncDirectory(metadata.toAbsolutePath().getParent());
    }

    /**
     * Metadata of format 1 is upgraded when the clone opens, into blocks beyond its old layout:
     * extend the file first (zeroes at the end; format 1 never looks there).
     */
    private static void growForUpgrade(String name, Path metadata, MetadataInspection inspection) throws IOException {
        CloneInfo info = inspection.clone();
        long need = CloneStore.bytesNeeded(info.regionCount());
        if (inspection.formatVersion() == 1 && Files.size(metadata) < need) {
            LOG.info("clone {}: extending {} from {} to {} bytes to upgrade its metadata to format 2", name, metadata,
                    Files.size(metadata), need);
            try (RandomAccessFile f = new RandomAccessFile(metadata.toFile(), "rw")) {
                f.setLength(need);
                f.getFD().sync();
            }
        }
    }

    private static CloneVolume openFiles(String name, CloneSource source, Path dest, Path metadata,
                                         CloneVolume.Settings settings, long size) throws IOException {
        FileBlockDevice destDevice = FileBlockDevice.open(dest, false, settings.logicalBlockSize());
        FileBlockDevice metaDevice = null;
        try {
            if (destDevice.size() != size) {
                throw new IOException("clone " + name + ": destination " + dest + " is " + destDevice.size()
                        + " bytes, the source " + size);
            }
            metaDevice = FileBlockDevice.open(metadata, false, 4096);
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
