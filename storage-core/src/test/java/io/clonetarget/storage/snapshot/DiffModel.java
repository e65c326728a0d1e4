package io.clonetarget.storage.snapshot;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Streams made of extents, and an image in a byte array to apply them to. */
final class DiffModel {
    private DiffModel() {
    }

    /** A data record (data not null) or a zero record. */
    record Extent(long offset, long length, byte[] data) {
        static Extent zero(long offset, long length) {
            return new Extent(offset, length, null);
        }

        static Extent data(long offset, byte[] data) {
            return new Extent(offset, data.length, data);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Extent e && e.offset == offset && e.length == length && Arrays.equals(e.data, data);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(offset) * 31 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return (data == null ? "z" : "w") + "[" + offset + ", +" + length + ")";
        }
    }

    /** Ascending, non-overlapping, sometimes adjacent extents inside {@code size}. */
    static List<Extent> randomExtents(Random rnd, long size, int max) {
        List<Extent> out = new ArrayList<>();
        long at = 0;
        for (int i = 0; i < max && at < size; i++) {
            at += rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(3 * 512);
            if (at >= size) {
                break;
            }
            int length = (int) Math.min(size - at, 1 + rnd.nextInt(4 * 512));
            if (rnd.nextBoolean()) {
                byte[] d = new byte[length];
                rnd.nextBytes(d);
                out.add(Extent.data(at, d));
            } else {
                out.add(Extent.zero(at, length));
            }
            at += length;
        }
        return out;
    }

    /** The stream our writer makes of these extents. */
    static byte[] write(String from, String to, long size, List<Extent> extents) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (RbdDiffWriter w = new RbdDiffWriter(out, from, to, size)) {
            for (Extent e : extents) {
                if (e.data() == null) {
                    w.zero(e.offset(), e.length());
                } else {
                    w.data(e.offset(), ByteBuffer.wrap(e.data()));
                }
            }
        }
        return out.toByteArray();
    }

    /** Everything a visitor sees, as header, extents, and whether the end came. */
    static final class Recording implements RbdDiffReader.Visitor {
        RbdDiffReader.Header header;
        final List<Extent> extents = new ArrayList<>();
        boolean ended;

        @Override
        public void header(String fromSnap, String toSnap, long imageSize) {
            if (header != null || !extents.isEmpty() || ended) {
                throw new AssertionError("header out of place");
            }
            header = new RbdDiffReader.Header(fromSnap, toSnap, imageSize);
        }

        @Override
        public void write(long offset, long length, InputStream data) throws IOException {
            if (header == null || ended) {
                throw new AssertionError("write out of place");
            }
            extents.add(Extent.data(offset, data.readAllBytes()));
        }

        @Override
        public void zero(long offset, long length) {
            if (header == null || ended) {
                throw new AssertionError("zero out of place");
            }
            extents.add(Extent.zero(offset, length));
        }

        @Override
        public void end() {
            ended = true;
        }
    }

    static Recording record(byte[] stream) throws IOException {
        return record(new ByteArrayInputStream(stream));
    }

    static Recording record(InputStream stream) throws IOException {
        Recording r = new Recording();
        RbdDiffReader.read(stream, r);
        return r;
    }

    /**
     * The image after applying the stream, as rbd import-diff does: resized to the stream's size
     * first (new bytes are zeros), then each record written.
     */
    static byte[] apply(byte[] image, byte[] stream) throws IOException {
        Recording r = record(stream);
        byte[] out = Arrays.copyOf(image, Math.toIntExact(r.header.imageSize()));
        for (Extent e : r.extents) {
            int at = Math.toIntExact(e.offset());
            if (e.data() == null) {
                Arrays.fill(out, at, at + (int) e.length(), (byte) 0);
            } else {
                System.arraycopy(e.data(), 0, out, at, e.data().length);
            }
        }
        return out;
    }
}
