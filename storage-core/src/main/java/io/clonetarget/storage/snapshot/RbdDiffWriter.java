package io.clonetarget.storage.snapshot;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * Writes an rbd diff v1 stream ({@link RbdDiffFormat}) that {@code rbd import-diff} and
 * {@code rbd merge-diff} accept: the banner and metadata at construction, then data and zero
 * records in ascending, non-overlapping offset order inside the image size, then the end record
 * at {@link #close()}.
 *
 * <p>{@code close()} does <em>not</em> close the output stream: the caller owns it, and usually
 * has more to do with it (flush a digest, fsync the file) before closing it. Once a write to it
 * has failed the writer refuses further records and {@code close()} writes no end record, so a
 * stream cut short never looks complete to a reader. Not thread-safe: one owner writes.
 */
public final class RbdDiffWriter implements Closeable {
    private enum State { OPEN, CLOSED, FAILED }

    private static final int COPY_BYTES = 64 * 1024;

    private final OutputStream out;
    private final long imageSize;
    private final byte[] header = new byte[RbdDiffFormat.EXTENT_HEADER_BYTES];
    private byte[] copy;
    private long written;
    private long previousEnd;
    private State state = State.OPEN;

    /**
     * Writes the banner, the snapshot names ({@code 'f'} and {@code 't'}, each left out when
     * null) and the image size ({@code 's'}). For {@code rbd merge-diff A B}, A's to snapshot
     * must be B's from snapshot (both absent counts as equal).
     *
     * @throws IllegalArgumentException for an empty name, one over 4096 UTF-8 bytes or not valid
     *                                  Unicode, or a negative size
     */
    public RbdDiffWriter(OutputStream out, String fromSnap, String toSnap, long imageSize) throws IOException {
        if (imageSize < 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is negative");
        }
        ByteArrayOutputStream start = new ByteArrayOutputStream();
        start.writeBytes(RbdDiffFormat.BANNER);
        if (fromSnap != null) {
            name(start, RbdDiffTag.FROM_SNAP, RbdDiffFormat.encodeName("from", fromSnap));
        }
        if (toSnap != null) {
            name(start, RbdDiffTag.TO_SNAP, RbdDiffFormat.encodeName("to", toSnap));
        }
        start.write(RbdDiffTag.SIZE.wire());
        byte[] size = new byte[8];
        putLe64(size, 0, imageSize);
        start.writeBytes(size);
        this.out = out;
        this.imageSize = imageSize;
        emit(start.toByteArray(), 0, start.size());
    }

    /**
     * A {@code 'w'} record: the buffer's remaining bytes are the data at {@code offset}. The
     * buffer's position is left as it was.
     *
     * @throws IllegalArgumentException when the buffer is empty or the record starts before the
     *                                  end of the previous one or reaches past the image size
     */
    public void data(long offset, ByteBuffer data) throws IOException {
        int length = data.remaining();
        extent(RbdDiffTag.WRITE, offset, length);
        if (data.hasArray()) {
            emit(data.array(), data.arrayOffset() + data.position(), length);
            return;
        }
        if (copy == null) {
            copy = new byte[COPY_BYTES];
        }
        ByteBuffer view = data.duplicate();
        while (view.hasRemaining()) {
            int n = Math.min(view.remaining(), copy.length);
            view.get(copy, 0, n);
            emit(copy, 0, n);
        }
    }

    /**
     * A {@code 'z'} record: {@code length} bytes from {@code offset} read as zeros.
     *
     * @throws IllegalArgumentException as for {@link #data}
     */
    public void zero(long offset, long length) throws IOException {
        extent(RbdDiffTag.ZERO, offset, length);
    }

    /** The bytes written to the output stream so far. */
    public long bytesWritten() {
        return written;
    }

    /** The image size this stream declares. */
    public long imageSize() {
        return imageSize;
    }

    /**
     * Writes the end record and flushes the output stream, which stays open. Idempotent; after a
     * failed write, writes nothing.
     */
    @Override
    public void close() throws IOException {
        if (state != State.OPEN) {
            return;
        }
        header[0] = RbdDiffTag.END.wire();
        emit(header, 0, 1);
        try {
            out.flush();
        } catch (IOException | RuntimeException e) {
            state = State.FAILED;
            throw e;
        }
        state = State.CLOSED;
    }

    private void extent(RbdDiffTag tag, long offset, long length) throws IOException {
        if (state != State.OPEN) {
            throw new IllegalStateException("the rbd diff writer is " + state.name().toLowerCase()
                    + (state == State.FAILED ? " (a write to its stream failed)" : ""));
        }
        String range = "[" + offset + ", +" + length + ")";
        if (length <= 0) {
            throw new IllegalArgumentException("record " + tag + " " + range + " is empty");
        }
        if (offset < 0 || offset > imageSize || length > imageSize - offset) {
            throw new IllegalArgumentException("record " + tag + " " + range + " reaches outside the image size "
                    + imageSize);
        }
        if (offset < previousEnd) {
            throw new IllegalArgumentException("record " + tag + " " + range
                    + " starts before the end of the previous record, at " + previousEnd);
        }
        header[0] = tag.wire();
        putLe64(header, 1, offset);
        putLe64(header, 9, length);
        emit(header, 0, header.length);
        previousEnd = offset + length;
    }

    private void emit(byte[] b, int off, int len) throws IOException {
        try {
            out.write(b, off, len);
        } catch (IOException | RuntimeException e) {
            state = State.FAILED;
            throw e;
        }
        written += len;
    }

    private static void name(ByteArrayOutputStream to, RbdDiffTag tag, byte[] name) {
        to.write(tag.wire());
        int n = name.length;
        to.write(n);
        to.write(n >>> 8);
        to.write(n >>> 16);
        to.write(n >>> 24);
        to.writeBytes(name);
    }

    private static void putLe64(byte[] b, int at, long v) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }
}
