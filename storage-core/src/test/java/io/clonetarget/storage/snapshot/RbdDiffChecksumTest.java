package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An exported diff with its FILE.sha256 sidecar, as export-diff writes and import-diff checks it. */
class RbdDiffChecksumTest {
    @TempDir
    Path dir;

    @Test
    void sidecarIsOneSha256sumLine() throws IOException {
        Path f = dir.resolve("abc.diff");
        Files.writeString(f, "abc");
        Path sidecar = StreamChecksum.writeSidecar(f);
        assertEquals(dir.resolve("abc.diff.sha256"), sidecar);
        // SHA-256("abc") from FIPS 180-2
        String abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assertEquals(abc + "  abc.diff\n", Files.readString(sidecar));
        assertEquals(abc, StreamChecksum.verify(f));
        assertEquals(List.of("abc.diff", "abc.diff.sha256"), names(), "no temporary file is left");
    }

    @Test
    void aDigestTakenWhileWritingMatchesTheFile() throws IOException {
        Path f = dir.resolve("a2b.diff");
        MessageDigest md = StreamChecksum.sha256();
        byte[] data = new byte[100_000];
        new Random(1).nextBytes(data);
        try (OutputStream out = new DigestOutputStream(Files.newOutputStream(f), md);
             RbdDiffWriter w = new RbdDiffWriter(out, "a", "b", 1 << 20)) {
            w.data(4096, ByteBuffer.wrap(data));
            w.zero(200_000, 4096);
        }
        StreamChecksum.writeSidecar(f, md.digest());
        assertEquals(StreamChecksum.sha256Hex(f), StreamChecksum.verify(f));
        assertEquals(1, RbdDiffReader.verify(Files.newInputStream(f)).dataRecords());
    }

    @Test
    void aChangedByteIsAMismatchNamingTheFileAndBothDigests() throws IOException {
        Path f = dir.resolve("b2c.diff");
        Files.write(f, DiffModel.write("b", "c", 8192, DiffModel.randomExtents(new Random(3), 8192, 10)));
        StreamChecksum.writeSidecar(f);
        String good = StreamChecksum.sha256Hex(f);
        byte[] b = Files.readAllBytes(f);
        b[b.length / 2] ^= 0x10;
        Files.write(f, b);
        ChecksumMismatchException e = assertThrows(ChecksumMismatchException.class, () -> StreamChecksum.verify(f));
        String bad = StreamChecksum.sha256Hex(f);
        assertEquals(good, e.expected());
        assertEquals(bad, e.actual());
        assertEquals(f, e.file());
        assertEquals(f + ": SHA-256 is " + bad + " but " + f + ".sha256 records " + good, e.getMessage());
    }

    @Test
    void aMissingMalformedOrForeignSidecarIsRefused() throws IOException {
        Path f = dir.resolve("x.diff");
        Files.writeString(f, "x");
        assertThrows(NoSuchFileException.class, () -> StreamChecksum.verify(f));
        Path sidecar = StreamChecksum.sidecarOf(f);
        Files.writeString(sidecar, "not a digest  x.diff\n");
        IOException e = assertThrows(IOException.class, () -> StreamChecksum.verify(f));
        assertTrue(e.getMessage().contains("not a sha256sum line"), e.getMessage());
        Files.writeString(sidecar, "0".repeat(64) + "  y.diff\n");
        e = assertThrows(IOException.class, () -> StreamChecksum.verify(f));
        assertEquals(sidecar + ": records the digest of y.diff, not of x.diff", e.getMessage());
        // sha256sum's binary-mode line (a star) and uppercase digits are accepted
        Files.writeString(sidecar, StreamChecksum.sha256Hex(f).toUpperCase() + " *x.diff\n");
        StreamChecksum.verify(f);
    }

    @Test
    void sha256sumChecksOurSidecar() throws Exception {
        ExternalTool.require("sha256sum", "coreutils");
        Path f = dir.resolve("c.diff");
        Files.write(f, DiffModel.write(null, "c", 4096, List.of(DiffModel.Extent.zero(0, 4096))));
        StreamChecksum.writeSidecar(f);
        ExternalTool.Result ok = ExternalTool.run(dir, Map.of(), List.of("sha256sum", "-c", "c.diff.sha256"));
        assertEquals(0, ok.exitCode(), ok.output());
        assertEquals("c.diff: OK\n", ok.output());
        Files.writeString(f, "changed", StandardCharsets.US_ASCII);
        ExternalTool.Result bad = ExternalTool.run(dir, Map.of(), List.of("sha256sum", "-c", "c.diff.sha256"));
        assertEquals(1, bad.exitCode(), bad.output());
    }

    private List<String> names() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
