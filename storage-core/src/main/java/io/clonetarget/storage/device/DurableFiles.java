package io.clonetarget.storage.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Creating files so that a crash never leaves a half-made one behind, and a file that exists is
 * durable in its directory before it holds anything.
 *
 * <p>A new file is made under a temporary name in its final directory ({@code .NAME.XXXX.new}),
 * sized, filled by the caller if it wants (a clone's metadata is formatted there), flushed, and
 * then linked to its final name with {@code link(2)}, which fails rather than replace an
 * existing file. The temporary name is removed and the directory fsynced before the caller gets
 * the file. So the final name either does not exist or names a complete, durable file; a failure
 * at any step removes the temporary file. Missing parent directories are created the same way:
 * each one is fsynced into its parent.
 */
public final class DurableFiles {
    /** Permissions of the images we create: the owner writes, the group may read. */
    static final int MODE = 0640;

    private DurableFiles() {
    }

    /** What the caller does with the new file before it gets its final name. */
    @FunctionalInterface
    public interface Initializer {
        void fill(FileBlockDevice device) throws IOException;
    }

    /**
     * Creates {@code path} as a sparse file of {@code size} bytes, filled by {@code initializer},
     * and returns it open for writing (locked exclusively).
     *
     * @throws FileAlreadyExistsException when {@code path} exists (it is left as it was)
     * @throws IOException naming the step that failed; nothing is left behind
     */
    public static FileBlockDevice create(Path path, long size, int logicalBlockSize, Initializer initializer)
            throws IOException {
        if (size <= 0 || size % logicalBlockSize != 0) {
            throw new IllegalArgumentException("size " + size + " must be a positive multiple of " + logicalBlockSize);
        }
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        createDirectories(dir);
        if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(target.toString());
        }
        Path tmp = temporaryName(target);
        FileBlockDevice device = null;
        boolean linked = false;
        try {
            int fd;
            try {
                fd = NativeIo.open(tmp, NativeIo.O_RDWR | NativeIo.O_CREAT | NativeIo.O_EXCL, MODE);
            } catch (NativeIoException e) {
                throw FileBlockDevice.describeOpenFailure(dir, e);
            }
            try {
                NativeIo.ftruncate(fd, size);
            } catch (NativeIoException e) {
                NativeIo.close(fd);
                throw new IOException("cannot create " + target + " of " + size + " bytes: " + e.getMessage(), e);
            }
            device = FileBlockDevice.adopt(target, fd, logicalBlockSize);
            initializer.fill(device);
            device.fsync();
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                throw new FileAlreadyExistsException(target.toString());
            }
            linked = true;
            Files.delete(tmp);
            syncDirectory(dir);
            return device;
        } catch (IOException | RuntimeException e) {
            if (device != null) {
                closeQuietly(device);
            }
            Files.deleteIfExists(tmp);
            if (linked) {
                // linked but the directory could not be synced: the file is complete, but its name may not be
                // durable; leave it, the caller reports the failure
                syncQuietly(dir);
            }
            throw e;
        }
    }

    /** Creates a sparse file of {@code size} bytes at {@code path} if there is none (see the class description). */
    public static void createSparse(Path path, long size, int logicalBlockSize) throws IOException {
        create(path, size, logicalBlockSize, d -> { }).close();
    }

    /**
     * Checks, without leaving anything behind, that a file of {@code size} bytes could be made at
     * {@code path}: the nearest existing ancestor is a writable directory, and its file system
     * accepts a (sparse) file of that size.
     *
     * @throws IOException saying what would fail
     */
    public static void checkCanCreate(Path path, long size) throws IOException {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing)) {
            throw new IOException("cannot create " + target + ": " + (existing == null ? dir : existing)
                    + " is not a directory");
        }
        if (!Files.isWritable(existing)) {
            throw new IOException("cannot create " + target + ": no permission to write in " + existing);
        }
        Path probe = temporaryName(existing.resolve(target.getFileName()));
        int fd;
        try {
            fd = NativeIo.open(probe, NativeIo.O_RDWR | NativeIo.O_CREAT | NativeIo.O_EXCL, MODE);
        } catch (NativeIoException e) {
            throw new IOException("cannot create " + target + ": " + e.getMessage(), e);
        }
        try {
            NativeIo.ftruncate(fd, size);
        } catch (NativeIoException e) {
            throw new IOException("cannot create " + target + " of " + size + " bytes: the file system refuses that "
                    + "size (" + NativeIo.strerror(e.errno()) + ")", e);
        } finally {
            NativeIo.close(fd);
            Files.deleteIfExists(probe);
        }
    }

    /**
     * Replaces {@code file} with {@code content} atomically and durably: written to a temporary
     * file of mode {@code mode} in the same directory, fsynced, renamed over the file, and the
     * directory fsynced. A crash leaves the old content or the new, never a mix; a failure leaves
     * the old file and no temporary one.
     */
    public static void replace(Path file, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(mode));
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + file + " atomically", e);
            }
            syncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Creates missing directories of {@code dir}, each one made durable in its parent. */
    public static void createDirectories(Path dir) throws IOException {
        createDirectories(dir, null);
    }

    /** As {@link #createDirectories(Path)}, each new directory of mode {@code mode} (null: the umask's). */
    public static void createDirectories(Path dir, Set<PosixFilePermission> mode) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir.toAbsolutePath(); p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.add(p);
        }
        for (Path p : missing.reversed()) {
            try {
                if (mode == null) {
                    Files.createDirectory(p);
                } else {
                    Files.createDirectory(p, PosixFilePermissions.asFileAttribute(mode));
                }
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw new IOException("cannot create directory " + p + ": a file of that name exists", e);
                }
            }
            syncDirectory(p.getParent());
        }
    }

    /** fsync of a directory: what makes the names in it durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void syncQuietly(Path dir) {
        try {
            syncDirectory(dir);
        } catch (IOException ignored) {
            // already failing; the caller reports the first error
        }
    }

    private static void closeQuietly(FileBlockDevice device) {
        try {
            device.close();
        } catch (IOException ignored) {
            // already failing; the caller reports the first error
        }
    }

    private static Path temporaryName(Path target) {
        return target.resolveSibling("." + target.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL) + ".new");
    }
}
