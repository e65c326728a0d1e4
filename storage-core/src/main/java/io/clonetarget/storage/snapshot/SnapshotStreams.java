package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.DurableFiles;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * Incremental streams of snapshots in Ceph's {@code rbd diff v1} format: what {@code rbd
 * export-diff} writes and {@code rbd import-diff} and {@code rbd merge-diff} read.
 *
 * <p>Export: the extents that differ between two snapshots ({@link SnapshotVolume#changes}), or
 * the allocated extents of one, chunk by chunk from the newer image: an all-zero chunk becomes a
 * zero record, anything else a data record. Written to a file, with a {@code FILE.sha256}
 * sidecar in {@code sha256sum} format.
 *
 * <p>Import, as {@code rbd import-diff}: the stream's checksum (the sidecar) and its whole
 * structure are verified before any byte is applied; its image size must be the volume's; a
 * from-snapshot must be the volume's latest snapshot, and the to-snapshot must not exist yet. The
 * records are then written through the volume's copy-on-write origin, flushed, and the
 * to-snapshot is created.
 */
public final class SnapshotStreams {
    private static final int PIECE = 1 << 20;

    private SnapshotStreams() {
    }

    /** Told how far a long export or import is: bytes of the volume done, of {@code total}. */
    @FunctionalInterface
    public interface Progress {
        void at(long done, long total);

        Progress NONE = (done, total) -> { };
    }

    /** What an export wrote. */
    public record Exported(long bytes, long dataBytes, long zeroBytes, String sha256, Path checksumFile) {
    }

    /** What an import applied. */
    public record Imported(String fromSnap, String toSnap, long dataBytes, long zeroBytes, String sha256) {
    }

    /**
     * Writes the stream from {@code from} (null: from nothing) to {@code to}; {@code progress}
     * hears the bytes of the volume done so far.
     */
    public static void export(SnapshotVolume volume, String from, String to, OutputStream out, Progress progress)
            throws IOException {
        List<SnapshotVolume.Extent> extents = volume.changes(from, to);
        long total = 0;
        for (SnapshotVolume.Extent e : extents) {
            total += e.length();
        }
        BlockDevice image = volume.image(to, false);
        int chunk = volume.chunkSize();
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        byte[] heap = new byte[chunk];
        RbdDiffWriter w = new RbdDiffWriter(out, from, to, image.size());
        long done = 0;
        for (SnapshotVolume.Extent e : extents) {
            long zeroStart = -1;
            for (long at = e.offset(); at < e.offset() + e.length(); at += chunk) {
                int n = (int) Math.min(chunk, e.offset() + e.length() - at);
                buf.clear().limit(n);
                image.read(at, buf);
                buf.flip();
                boolean zero = isZero(buf);
                done += n;
                progress.at(done, total);
                if (zero && from != null) {
                    zeroStart = zeroStart < 0 ? at : zeroStart;
                    continue;
                }
                if (zeroStart >= 0) {
                    w.zero(zeroStart, at - zeroStart);
                    zeroStart = -1;
                }
                if (!zero) {
                    buf.get(0, heap, 0, n);
                    w.data(at, ByteBuffer.wrap(heap, 0, n));
                }
            }
            if (zeroStart >= 0) {
                w.zero(zeroStart, e.offset() + e.length() - zeroStart);
            }
        }
        w.close();
        out.flush();
    }

    /** Exports to {@code file} (which must not exist) and writes {@code file.sha256} beside it. */
    public static Exported exportToFile(SnapshotVolume volume, String from, String to, Path file) throws IOException {
        return exportToFile(volume, from, to, file, Progress.NONE);
    }

    public static Exported exportToFile(SnapshotVolume volume, String from, String to, Path file,
                                        Progress progress) throws IOException {
        if (Files.exists(file)) {
            throw new IOException(file + " exists; an export never writes over a file");
        }
        MessageDigest sha = StreamChecksum.sha256();
        long[] counts = new long[2];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             OutputStream raw = java.nio.channels.Channels.newOutputStream(ch);
             DigestOutputStream out = new DigestOutputStream(new BufferedOutputStream(raw, PIECE), sha)) {
            export(volume, from, to, out, progress);
            out.flush();
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
        byte[] digest = sha.digest();
        Path sidecar = StreamChecksum.writeSidecar(file, digest);
        DurableFiles.syncDirectory(file.toAbsolutePath().getParent());
        RbdDiffReader.Summary s;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), PIECE)) {
            s = RbdDiffReader.verify(in);
        }
        counts[0] = s.dataBytes();
        counts[1] = s.zeroBytes();
        return new Exported(Files.size(file), counts[0], counts[1], HexFormat.of().formatHex(digest), sidecar);
    }

    /**
     * Applies the stream in {@code file} to {@code volume} after verifying its checksum and
     * structure (nothing is written if either fails), then takes its to-snapshot.
     */
    public static Imported importFile(SnapshotVolume volume, Path file) throws IOException {
        return importFile(volume, file, Progress.NONE);
    }

    public static Imported importFile(SnapshotVolume volume, Path file, Progress progress) throws IOException {
        String sha = StreamChecksum.verify(file);
        RbdDiffReader.Summary s;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), PIECE)) {
            s = RbdDiffReader.verify(in);
        }
        RbdDiffReader.Header h = s.header();
        BlockDevice origin = volume.origin();
        if (h.imageSize() != origin.size()) {
            throw new IOException(file + " is a stream of an image of " + h.imageSize() + " bytes; volume "
                    + volume.name() + " has " + origin.size() + " (resize it first)");
        }
        if (h.toSnap() == null) {
            throw new IOException(file + " names no to-snapshot; an import takes one");
        }
        String latest = volume.list().isEmpty() ? null : volume.list().getLast().name();
        if (h.fromSnap() != null && !h.fromSnap().equals(latest)) {
            throw new IOException(file + " starts from snapshot " + h.fromSnap() + ", but the latest snapshot of volume "
                    + volume.name() + " is " + (latest == null ? "none (it has no snapshots)" : latest));
        }
        if (volume.get(h.toSnap()) != null) {
            throw new IOException("volume " + volume.name() + " already has snapshot " + h.toSnap()
                    + ", which the stream " + file + " would create");
        }
        String problem = SnapshotVolume.checkName(h.toSnap());
        if (problem != null) {
            throw new IOException(file + ": its to-snapshot: " + problem);
        }
        long[] applied = new long[2];
        long total = s.dataBytes() + s.zeroBytes();
        ByteBuffer buf = ByteBuffer.allocateDirect(PIECE);
        byte[] heap = new byte[PIECE];
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), PIECE)) {
            RbdDiffReader.read(in, new RbdDiffReader.Visitor() {
                @Override
                public void write(long offset, long length, InputStream data) throws IOException {
                    for (long done = 0; done < length; ) {
                        int n = (int) Math.min(PIECE, length - done);
                        data.readNBytes(heap, 0, n);
                        buf.clear().put(heap, 0, n).flip();
                        origin.write(offset + done, buf, false);
                        done += n;
                    }
                    applied[0] += length;
                    progress.at(applied[0] + applied[1], total);
                }

                @Override
                public void zero(long offset, long length) throws IOException {
                    origin.writeZeroes(offset, length);
                    applied[1] += length;
                    progress.at(applied[0] + applied[1], total);
                }
            });
        }
        origin.flush();
        volume.create(h.toSnap());
        return new Imported(h.fromSnap(), h.toSnap(), applied[0], applied[1], sha);
    }

    private static boolean isZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) {
            if (b.get(i) != 0) {
                return false;
            }
        }
        return true;
    }
}
