package io.clonetarget.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code config check}: the values, and what {@code serve} would fail on, without creating anything. */
class ConfigCheckTest {
    @TempDir
    Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    int run(String... args) {
        return Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    }

    Path config(String toml) throws IOException {
        return Files.writeString(dir.resolve("clonetarget.toml"), toml.replace("DIR", dir.toString()));
    }

    List<Path> files() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void catchesEverythingServeWouldFailOnAndCreatesNothing() throws Exception {
        Files.write(dir.resolve("small.img"), new byte[1 << 20]);
        Files.write(dir.resolve("golden.img"), new byte[1 << 20]);
        Files.write(dir.resolve("vm.img"), new byte[1 << 20]);
        Files.write(dir.resolve("plain"), new byte[1]);
        Path file = config("""
                [[volume]]
                name = "huge"
                path = "DIR/huge.img"
                size = "999999T"
                [[volume]]
                name = "missing"
                path = "DIR/missing.img"
                [[volume]]
                name = "resized"
                path = "DIR/small.img"
                size = "2M"
                [[volume]]
                name = "orphan"
                type = "clone"
                source = "DIR/no-such-golden.img"
                path = "DIR/orphan.img"
                [[volume]]
                name = "ro"
                path = "DIR/ro.img"
                size = "1M"
                read-only = true
                [[volume]]
                name = "vm"
                type = "clone"
                source = "DIR/golden.img"
                path = "DIR/vm.img"
                [[volume]]
                name = "nodir"
                path = "DIR/plain/x.img"
                size = "1M"
                """);
        List<Path> before = files();
        assertEquals(ExitCodes.CONFIG, run("config", "check", file.toString()));
        String e = err.toString();
        assertTrue(e.contains("clonetarget: invalid configuration " + file + ": 7 problems:"), e);
        assertTrue(e.contains("volume[0].size: cannot create " + dir.resolve("huge.img") + " of "
                + (999_999L << 40) + " bytes: the file system refuses that size"), e);
        assertTrue(e.contains("volume[1].path: " + dir.resolve("missing.img") + " does not exist (give a size to create"
                + " it) (line 7)"), e);
        assertTrue(e.contains("volume[2].size: " + dir.resolve("small.img") + " exists with 1048576 bytes, but the"
                + " configuration says size 2M (2097152 bytes); remove the size or fix it (line 11)"), e);
        assertTrue(e.contains("volume[3].source: " + dir.resolve("no-such-golden.img") + " does not exist (line 15)"), e);
        assertTrue(e.contains("volume[4].read-only: " + dir.resolve("ro.img") + " does not exist, and a read-only volume"
                + " is never created; create the file first, or drop read-only to create it with size 1M (line 21)"), e);
        assertTrue(e.contains("volume[5].path: the destination " + dir.resolve("vm.img") + " exists but "
                + dir.resolve("vm.img.meta") + " does not exist; it may hold data, so it is not formatted over."), e);
        assertTrue(e.contains("set overwrite-destination = true for this volume"), e);
        assertTrue(e.contains("volume[6].path: cannot create " + dir.resolve("plain/x.img") + ": "
                + dir.resolve("plain") + " is not a directory (line 29)"), e);
        assertEquals(before, files(), "nothing created, nothing left behind");
    }

    @Test
    void aCloneThatServeWouldCreateOrOpenPasses() throws Exception {
        Files.write(dir.resolve("golden.img"), new byte[1 << 20]);
        Files.write(dir.resolve("vm.img"), new byte[1 << 20]);
        Path file = config("""
                [[volume]]
                name = "new"
                type = "clone"
                source = "DIR/golden.img"
                path = "DIR/sub/new.img"
                [[volume]]
                name = "over"
                type = "clone"
                source = "DIR/golden.img"
                path = "DIR/vm.img"
                overwrite-destination = true
                [[volume]]
                name = "disk"
                path = "DIR/disk.img"
                size = "1G"
                """);
        assertEquals(ExitCodes.OK, run("config", "check", file.toString()), err.toString());
        assertTrue(out.toString().contains("valid (3 volumes, 0 targets)"), out.toString());
        assertTrue(Files.notExists(dir.resolve("sub")) && Files.notExists(dir.resolve("disk.img")), "nothing created");
    }

    @Test
    void twoVolumesCannotWriteOneFile() throws Exception {
        Files.write(dir.resolve("a.img"), new byte[1 << 20]);
        Path file = config("""
                [[volume]]
                name = "a"
                path = "DIR/a.img"
                [[volume]]
                name = "b"
                path = "DIR/./a.img"
                [[volume]]
                name = "c"
                path = "DIR/a.img"
                read-only = true
                """);
        assertEquals(ExitCodes.CONFIG, run("config", "check", file.toString()));
        assertTrue(err.toString().contains("volume[1].path: " + dir + "/./a.img is also volume[0].path; a file can be"
                + " written by one volume only (line 6)"), err.toString());
        assertTrue(err.toString().contains("volume[2].path: " + dir + "/a.img is also volume[0].path"), err.toString());
    }

    @Test
    void aSecretFileOthersCanReadOrWriteIsRefused() throws Exception {
        Path secret = Files.writeString(dir.resolve("host1.secret"), "twelve-chars-secret\n");
        Path file = config("""
                [[target]]
                iqn = "iqn.2026-11.com.example:t"
                chap = { user = "host1", secret-file = "DIR/host1.secret" }
                """);
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(ExitCodes.CONFIG, run("config", "check", file.toString()));
        assertTrue(err.toString().contains("target[0].chap.secret-file: " + secret + " is readable by other users"
                + " (rw-r--r--); a CHAP secret must not be: chmod 600 " + secret + " (line 3)"), err.toString());
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-----w-"));
        assertEquals(ExitCodes.CONFIG, run("config", "check", file.toString()));
        assertTrue(err.toString().contains(secret + " is writable by other users (rw-----w-)"), err.toString());
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r-----"));
        assertEquals(ExitCodes.OK, run("config", "check", file.toString()), "group-readable is fine: " + err);
    }
}
