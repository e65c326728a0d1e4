package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.DurableFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A {@link ReservationStore} in one file, replaced atomically: the content goes to a temporary
 * file in the same directory, which is fsynced, renamed over the old file, and then the
 * directory is fsynced. A crash at any point leaves the old content or the new one, never a mix;
 * {@link ReservationFile}'s checksum catches what a file system does not guarantee. Directories
 * it makes are mode 0700 and made durable in their parents. Not thread-safe: one caller at a time.
 */
public final class FileReservationStore implements ReservationStore {
    private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> PRIVATE_DIRECTORY =
            PosixFilePermissions.fromString("rwx------");
    private final Path file;

    public FileReservationStore(Path file) {
        this.file = file.toAbsolutePath();
    }

    public Path file() {
        return file;
    }

    @Override
    public boolean persistent() {
        return true;
    }

    @Override
    public byte[] load() throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public void save(byte[] content) throws IOException {
        DurableFiles.createDirectories(file.getParent(), PRIVATE_DIRECTORY);
        DurableFiles.replace(file, content, PosixFilePermissions.fromString("rw-------"));
    }

    @Override
    public void remove() throws IOException {
        if (Files.deleteIfExists(file)) {
            DurableFiles.syncDirectory(file.getParent());
        }
    }

    @Override
    public String setAside() throws IOException {
        Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
        try {
            Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (NoSuchFileException e) {
            return null;
        }
        DurableFiles.syncDirectory(file.getParent());
        return aside.toString();
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
