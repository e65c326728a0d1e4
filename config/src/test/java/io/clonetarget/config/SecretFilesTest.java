package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretFilesTest {
    @TempDir
    Path dir;

    Path secret(String content, String mode) throws Exception {
        Path f = Files.writeString(dir.resolve("s" + content.length() + mode.hashCode()), content);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    String refused(Path file) {
        return assertThrows(SecretFiles.SecretFileException.class, () -> SecretFiles.read("t.secret-file", file))
                .getMessage();
    }

    @Test
    void readsTheSecretOfAFileOnlyItsOwnerAndGroupCanRead() throws Exception {
        assertEquals("twelve-chars-secret", SecretFiles.read("f", secret("twelve-chars-secret\n", "rw-------")));
        assertEquals("twelve-chars-secret", SecretFiles.read("f", secret("  twelve-chars-secret  ", "r--r-----")));
    }

    @Test
    void refusesAFileOtherUsersCanReadOrWrite() throws Exception {
        Path readable = secret("twelve-chars-secret", "rw-r--r--");
        assertEquals("t.secret-file: " + readable + " is readable by other users (rw-r--r--); a CHAP secret must not be:"
                + " chmod 600 " + readable, refused(readable));
        Path writable = secret("twelve-chars-secret", "rw-rw--w-");
        assertEquals("t.secret-file: " + writable + " is writable by other users (rw-rw--w-); a CHAP secret must not be:"
                + " chmod 600 " + writable, refused(writable));
        Path both = secret("twelve-chars-secret", "rw-rw-rw-");
        assertEquals("t.secret-file: " + both + " is readable and writable by other users (rw-rw-rw-); a CHAP secret"
                + " must not be: chmod 600 " + both, refused(both));
    }

    @Test
    void refusesWhatIsNotASecret() throws Exception {
        Path shortOne = secret("short\n", "rw-------");
        assertEquals("t.secret-file: " + shortOne + " holds 5 characters; CHAP secrets need 12 to 255 (Windows accepts"
                + " 12 to 16)", refused(shortOne));
        assertEquals("t.secret-file: " + dir.resolve("none") + " does not exist", refused(dir.resolve("none")));
        assertEquals("t.secret-file: " + dir + " is not a regular file", refused(dir));
    }

    @Test
    void checkNamesEverySecretFileOfTheConfiguration() throws Exception {
        Path good = secret("twelve-chars-secret", "rw-------");
        Path open = secret("another-secret-x", "rw-r--r--");
        ServerConfig config = new ServerConfig(null, null, new ChapConfig("d", null, open.toString(), null, null, null),
                null, List.of(new TargetConfig("iqn.2026-11.com.example:t", null, null,
                        new ChapConfig("u", null, good.toString(), "m", null, good.toString()), null)));
        assertEquals(List.of(
                "discovery.secret-file: " + open + " is readable by other users (rw-r--r--); a CHAP secret must not be:"
                        + " chmod 600 " + open,
                "target[0].chap.mutual-secret-file: must differ from the secret (initiators refuse equal secrets)"),
                SecretFiles.check(config));
    }
}
