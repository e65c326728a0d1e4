package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.DurableFiles;
import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.SnapshotStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A volume's snapshots kept in a directory of their own:
 *
 * <pre>
 * DIR/snapshots.meta   the snapshot metadata (transactional, see SnapshotStore)
 * DIR/diff.data        the difference storage, grown in steps up to the limit
 * DIR/FAILED           only after the metadata could not record a failure: "ID\nREASON\n"
 * </pre>
 *
 * Creation order: the difference storage first, then the metadata file, formatted under a
 * temporary name and linked into place when complete and flushed. So a metadata file that exists
 * is valid, and a difference file without one was never used (an interrupted creation): it is
 * removed and made anew. A directory whose metadata exists is always opened as it is, never
 * formatted over.
 */
public final class SnapshotFiles {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFiles.class);
    public static final String META = "snapshots.meta";
    public static final String DIFF = "diff.data";
    public static final String FAILED = "FAILED";

    private SnapshotFiles() {
    }

    /** Whether {@code dir} holds a volume's snapshot metadata. */
    public static boolean exists(Path dir) {
        return Files.exists(dir.resolve(META));
    }

    /**
     * Opens the snapshots of {@code origin} kept in {@code dir}, creating the directory's files
     * when there is no metadata yet.
     */
    public static SnapshotVolume open(String name, BlockDevice origin, Path dir, SnapshotVolume.Settings settings)
            throws IOException {
        Path meta = dir.resolve(META);
        Path diff = dir.resolve(DIFF);
        FailureFile failures = new FailureFile(dir.resolve(FAILED));
        if (!Files.exists(meta)) {
            if (Files.exists(diff)) {
                LOG.warn("snapshots of {}: {} has no metadata beside it (an interrupted creation); making it anew",
                        name, diff);
                Files.delete(diff);
            }
            long first = Math.min(settings.diffLimit() / settings.chunkSize(),
                    Math.max(1, settings.growStep() / settings.chunkSize())) * settings.chunkSize();
            FileBlockDevice diffDevice = DurableFiles.create(diff, first, 4096, d -> { });
            try {
                SnapshotStore.Info info = SnapshotVolume.info(origin, settings);
                long bytes = SnapshotStore.bytesNeeded(info.tableCapacity(), info.slotCapacity());
                FileBlockDevice metaDevice = DurableFiles.create(meta, bytes, 4096,
                        d -> SnapshotStore.format(d, info));
                try {
                    return SnapshotVolume.open(name, origin, metaDevice, diffDevice, settings, failures, 0, null);
                } catch (IOException | RuntimeException e) {
                    metaDevice.close();
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                diffDevice.close();
                throw e;
            }
        }
        if (!Files.exists(diff)) {
            throw new IOException("snapshots of " + name + ": " + meta + " exists but its difference storage " + diff
                    + " is missing");
        }
        FileBlockDevice metaDevice = FileBlockDevice.open(meta, false, 4096);
        FileBlockDevice diffDevice = null;
        try {
            diffDevice = FileBlockDevice.open(diff, false, 4096);
            long[] failedUpTo = {0};
            String why = failures.read(failedUpTo);
            return SnapshotVolume.open(name, origin, metaDevice, diffDevice, settings, failures, failedUpTo[0], why);
        } catch (IOException | RuntimeException e) {
            metaDevice.close();
            if (diffDevice != null) {
                diffDevice.close();
            }
            throw e;
        }
    }

    /** The failure record as a small file made durably (replaced only by one covering newer snapshots). */
    static final class FailureFile implements SnapshotVolume.FailureRecord {
        private final Path path;

        FailureFile(Path path) {
            this.path = path;
        }

        /**
         * Records the failure; a record that already covers {@code newestId} stands, an older one
         * (of a failure before a restart) is replaced atomically by one that covers it.
         */
        @Override
        public boolean record(long newestId, String reason) {
            byte[] text = (newestId + "\n" + reason.replace('\n', ' ') + "\n").getBytes(StandardCharsets.UTF_8);
            try {
                if (Files.exists(path)) {
                    long[] upTo = {0};
                    read(upTo);
                    if (upTo[0] >= newestId) {
                        return true;
                    }
                    // made complete and durable beside it, then renamed over it: a crash leaves one or the other
                    Path next = path.resolveSibling(path.getFileName() + ".next");
                    Files.deleteIfExists(next);
                    DurableFiles.create(next, 4096, 4096, d -> d.write(0, ByteBuffer.wrap(java.util.Arrays.copyOf(
                            text, 4096)), false)).close();
                    Files.move(next, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    DurableFiles.syncDirectory(path.toAbsolutePath().getParent());
                    return true;
                }
                DurableFiles.create(path, 4096, 4096, d -> d.write(0, ByteBuffer.wrap(java.util.Arrays.copyOf(text,
                        4096)), false)).close();
                return true;
            } catch (IOException | RuntimeException e) {
                LOG.error("cannot record the snapshot failure in {}: {}", path, e.getMessage());
                return false;
            }
        }

        /** The reason recorded, or null; the id goes to {@code upTo[0]}. */
        String read(long[] upTo) throws IOException {
            if (!Files.exists(path)) {
                return null;
            }
            String[] lines = new String(Files.readAllBytes(path), StandardCharsets.UTF_8).replace("\0", "").split("\n");
            try {
                upTo[0] = Long.parseLong(lines[0].trim());
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                upTo[0] = Long.MAX_VALUE;
            }
            return "failed before the last restart: " + (lines.length > 1 ? lines[1] : "reason unknown");
        }
    }
}
