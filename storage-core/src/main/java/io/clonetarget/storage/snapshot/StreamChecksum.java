package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.device.DurableFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The SHA-256 of an exported file in a sidecar {@code FILE.sha256}, in {@code sha256sum}'s
 * format ({@code "<64 hex>  <file name>\n"}, so {@code sha256sum -c FILE.sha256} checks it in
 * the file's directory), and the check of a file against its sidecar. Stateless.
 */
public final class StreamChecksum {
    /** What the sidecar's name adds to the file's. */
    public static final String SUFFIX = ".sha256";

    /** One line of sha256sum output: digest, space, space (text) or star (binary), name. */
    private static final Pattern LINE = Pattern.compile("([0-9a-fA-F]{64}) [ *](.+)\n?");

    private static final HexFormat HEX = HexFormat.of();

    private StreamChecksum() {
    }

    /** A new SHA-256 digest, for example for a {@link java.security.DigestOutputStream}. */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JDK has no SHA-256", e);
        }
    }

    /** {@code FILE.sha256} next to {@code file}. */
    public static Path sidecarOf(Path file) {
        return file.resolveSibling(file.getFileName() + SUFFIX);
    }

    /** The SHA-256 of the file's bytes, lowercase hex. */
    public static String sha256Hex(Path file) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HEX.formatHex(md.digest());
    }

    /** Computes the file's SHA-256 and writes its sidecar; returns the sidecar. */
    public static Path writeSidecar(Path file) throws IOException {
        return writeSidecar(file, HEX.parseHex(sha256Hex(file)));
    }

    /**
     * Writes the sidecar of {@code file} with a digest computed while the file was written:
     * to a temporary file, fsynced, renamed over any old sidecar, directory fsynced.
     */
    public static Path writeSidecar(Path file, byte[] sha256) throws IOException {
        if (sha256.length != 32) {
            throw new IllegalArgumentException("a SHA-256 digest has 32 bytes, not " + sha256.length);
        }
        String name = file.getFileName().toString();
        if (name.indexOf('\n') >= 0 || name.indexOf('\\') >= 0) {
            // sha256sum escapes such names with a leading backslash; we make none of them
            throw new IllegalArgumentException("file name " + name + " needs escaping in a sha256sum line");
        }
        byte[] line = (HEX.formatHex(sha256) + "  " + name + "\n").getBytes(StandardCharsets.UTF_8);
        Path sidecar = sidecarOf(file);
        Path tmp = sidecar.resolveSibling("." + sidecar.getFileName() + ".new");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(line));
            ch.force(true);
        }
        try {
            Files.move(tmp, sidecar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        DurableFiles.syncDirectory(sidecar.toAbsolutePath().getParent());
        return sidecar;
    }

    /**
     * Checks {@code file} against {@code FILE.sha256}; returns the digest.
     *
     * @throws ChecksumMismatchException when the digests differ (it names the file and both)
     * @throws IOException               when the sidecar is missing, is not one sha256sum line, or
     *                                   names another file
     */
    public static String verify(Path file) throws IOException {
        Path sidecar = sidecarOf(file);
        byte[] raw;
        try (InputStream in = Files.newInputStream(sidecar)) {
            raw = in.readNBytes(64 + 2 + 4096 + 2);
        }
        String text = new String(raw, StandardCharsets.UTF_8);
        Matcher m = LINE.matcher(text);
        if (!m.matches()) {
            throw new IOException(sidecar + ": not a sha256sum line (\"<64 hex digits>  <file name>\")");
        }
        String name = file.getFileName().toString();
        if (!m.group(2).equals(name)) {
            throw new IOException(sidecar + ": records the digest of " + m.group(2) + ", not of " + name);
        }
        String expected = m.group(1).toLowerCase(Locale.ROOT);
        String actual = sha256Hex(file);
        if (!expected.equals(actual)) {
            throw new ChecksumMismatchException(file, sidecar, expected, actual);
        }
        return actual;
    }
}
