package io.clonetarget.server.admin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Files only their owner may read (mode 0600 from their first byte), replaced atomically: a
 * temporary file in the same directory, written and flushed, renamed over the old one, the
 * directory flushed. A crash leaves the old file or the new one, never a mix or an empty one.
 */
final class PrivateFiles {
    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {
    }

    static void write(Path file, byte[] content) throws IOException {
        io.clonetarget.storage.device.DurableFiles.createDirectories(file.toAbsolutePath().getParent());
        io.clonetarget.storage.device.DurableFiles.replace(file, content, OWNER_ONLY);
    }

    /** Refuses a file that others may read or write: it holds a key or a token. */
    static void checkPrivate(Path file) throws IOException {
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
        for (PosixFilePermission p : mode) {
            if (!OWNER_ONLY.contains(p) && p != PosixFilePermission.OWNER_EXECUTE) {
                throw new IOException(file + " may be used by other users (" + PosixFilePermissions.toString(mode)
                        + "); it holds a secret: chmod 600 " + file);
            }
        }
    }
}
