package io.clonetarget.server;

import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.storage.clone.ClonePlan;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What opening the volumes of a configuration would fail on, found without creating or changing
 * anything (a clone's metadata is only read, under a shared lock), so that {@code config check}
 * reports it and {@code serve} refuses before it has created a single file.
 *
 * <p>It looks at what the file system says cheaply: files that must exist and do not, files
 * whose size differs from the configuration, files that could not be created (the directory, the
 * permission, a size the file system refuses: {@link FileBlockDevice#checkCanCreate}), a clone's
 * destination without valid metadata (read, never locked for writing), hydrated metadata without
 * its destination, two volumes on one file. What only opening can tell (a changed source, a URL
 * source, files a running server has locked) is left to {@code serve}.
 * Volumes whose values are invalid are not looked at here; validation reports them.
 */
final class VolumeChecks {
    /** A probe big enough to ask whether a file can be made at all, before asking about its size. */
    private static final long SMALL = 4096;

    private final List<String> problems = new ArrayList<>();
    /** Files a volume writes (or reads), by absolute normalized path, with the volume that does. */
    private final Map<Path, Use> uses = new HashMap<>();

    private record Use(String field, boolean writes) {
    }

    private VolumeChecks() {
    }

    /** Every problem found, each as {@code volume[i].field: message}. */
    static List<String> problems(ServerConfig config) {
        VolumeChecks checks = new VolumeChecks();
        for (int i = 0; i < config.volumes().size(); i++) {
            VolumeConfig v = config.volumes().get(i);
            String at = "volume[" + i + "]";
            try {
                switch (v.type()) {
                    case FILE -> checks.file(at, v);
                    case CLONE -> checks.clone(at, v);
                }
            } catch (InvalidPathException e) {
                checks.problems.add(at + ": not a file name: " + e.getMessage());
            } catch (IOException | RuntimeException e) {
                checks.problems.add(at + ": cannot be checked: " + e.getMessage());
            }
        }
        return checks.problems;
    }

    private void file(String at, VolumeConfig v) throws IOException {
        if (v.path() == null) {
            return;
        }
        Path path = Path.of(v.path());
        use(at + ".path", path, !v.readOnly());
        if (Files.isDirectory(path)) {
            problems.add(at + ".path: " + path + " is a directory, not an image file or block device");
        } else if (Files.exists(path)) {
            if (!Files.isReadable(path) || !v.readOnly() && !Files.isWritable(path)) {
                problems.add(at + ".path: no permission to " + (v.readOnly() ? "read " : "read and write ") + path);
            } else if (Files.isRegularFile(path)) {
                long bytes = Files.size(path);
                if (v.size() != null && bytes != v.size().bytes()) {
                    problems.add(at + ".size: " + path + " exists with " + bytes + " bytes, but the configuration says"
                            + " size " + v.size() + " (" + v.size().bytes() + " bytes); remove the size or fix it");
                } else if (bytes < v.blockSize()) {
                    problems.add(at + ".path: " + path + " is empty" + (bytes == 0 ? "" : " (less than one block)"));
                }
            }
        } else {
            String missing = Volumes.missingFile(v);
            if (missing != null) {
                // with a size, read-only is what keeps serve from creating it
                problems.add(at + (v.size() == null ? ".path: " : ".read-only: ") + missing);
            } else {
                canCreate(at + ".path", at + ".size", path, v.size().bytes());
            }
        }
    }

    private void clone(String at, VolumeConfig v) throws IOException {
        if (v.path() == null || v.metadata() == null || v.source() == null) {
            return;
        }
        Path dest = Path.of(v.path());
        Path metadata = Path.of(v.metadata());
        use(at + ".path", dest, true);
        use(at + ".metadata", metadata, true);
        ClonePlan plan;
        try {
            plan = ClonePlan.of(dest, metadata, v.overwriteDestination());
        } catch (IOException | RuntimeException e) {
            plan = null; // unreadable, typically because a running server holds it locked
        }
        boolean destExists = Files.exists(dest);
        // a complete clone is opened without its source; an unknown one (in use) may be complete
        Long sourceBytes = plan != null && plan.complete() ? null : source(at, v, plan != null);
        if (plan != null && plan.action() == ClonePlan.Action.REFUSE) {
            problems.add(at + (destExists ? ".path: " : ".metadata: ") + plan.problem());
        }
        if (destExists && sourceBytes != null && Files.isRegularFile(dest) && Files.size(dest) != sourceBytes) {
            problems.add(at + ".path: " + dest + " is " + Files.size(dest) + " bytes, but the source " + v.source()
                    + " is " + sourceBytes);
        }
        if (!destExists) {
            canCreate(at + ".path", at + ".path", dest, sourceBytes != null ? sourceBytes : SMALL);
        }
        if (!Files.exists(metadata)) {
            canCreate(at + ".metadata", at + ".metadata", metadata, SMALL);
        }
    }

    /**
     * Checks a clone's source on the file system; its usable size when it is a regular file,
     * else null (a URL or a block device: only opening it tells).
     */
    private Long source(String at, VolumeConfig v, boolean metadataKnown) throws IOException {
        String location = v.source();
        if (location.startsWith("http://") || location.startsWith("https://")
                || location.startsWith(io.clonetarget.config.VolumeConfig.SNAPSHOT_SOURCE)) {
            return null; // a URL is checked when it is opened; a snapshot when its volume is
        }
        Path source = Path.of(location);
        if (!Files.exists(source)) {
            if (metadataKnown) {
                problems.add(at + ".source: " + source + " does not exist");
            }
            return null;
        }
        if (Files.isDirectory(source)) {
            problems.add(at + ".source: " + source + " is a directory, not an image file, block device or URL");
            return null;
        }
        if (!Files.isReadable(source)) {
            problems.add(at + ".source: no permission to read " + source);
            return null;
        }
        if (!Files.isRegularFile(source)) {
            return null;
        }
        long bytes = Files.size(source);
        long usable = bytes - bytes % v.blockSize();
        if (usable == 0) {
            problems.add(at + ".source: " + source + " is " + (bytes == 0 ? "empty" : "smaller than one block"));
            return null;
        }
        return usable;
    }

    /**
     * Whether a file of {@code size} bytes could be made at {@code path}: first whether any file
     * can be made there (a problem of {@code pathField}), then whether one of that size can (a
     * problem of {@code sizeField}).
     */
    private void canCreate(String pathField, String sizeField, Path path, long size) {
        try {
            FileBlockDevice.checkCanCreate(path, Math.min(size, SMALL));
        } catch (IOException e) {
            problems.add(pathField + ": " + e.getMessage());
            return;
        }
        try {
            FileBlockDevice.checkCanCreate(path, size);
        } catch (IOException e) {
            problems.add(sizeField + ": " + e.getMessage());
        }
    }

    /** Two volumes on one file: the second cannot lock it unless both only read it. */
    private void use(String field, Path path, boolean writes) throws IOException {
        Path key = Files.exists(path) ? path.toRealPath() : path.toAbsolutePath().normalize();
        Use earlier = uses.putIfAbsent(key, new Use(field, writes));
        if (earlier != null && (writes || earlier.writes())) {
            problems.add(field + ": " + path + " is also " + earlier.field() + "; a file can be written by one volume"
                    + " only");
        }
    }
}
