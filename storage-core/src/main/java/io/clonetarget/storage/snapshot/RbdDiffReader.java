package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.snapshot.RbdDiffException.Problem;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Objects;

/**
 * Parses an rbd diff v1 stream ({@link RbdDiffFormat}) and hands its records to a
 * {@link Visitor}, checking every rule on the way: any malformation is an
 * {@link RbdDiffException} naming the byte of the stream and the problem.
 *
 * <p>Memory is bounded whatever the stream says: one 64 KiB buffer, snapshot names of at most
 * 4 KiB, and the data of a {@code 'w'} record passed to the visitor as an {@link InputStream}
 * of exactly its length, read through that buffer (a record claiming 1 TiB costs no more).
 *
 * <p>The visitor sees records as they are parsed, so a malformation near the end is found after
 * the records before it were handed on. To apply a stream only when all of it is good, read it
 * twice: first with {@link Visitor#DISCARD} ({@link #verify}), which reads and checks every
 * byte, then with the visitor that applies it. {@link Visitor#end()} is called only once the
 * whole stream, end record and end of input included, has been checked.
 *
 * <p>Stateless; each call owns its parse. The input stream is read to its end and not closed.
 */
public final class RbdDiffReader {
    /** The stream's metadata records: snapshot names (null when absent) and the image size. */
    public record Header(String fromSnap, String toSnap, long imageSize) {
    }

    /**
     * What a whole, well-formed stream held.
     *
     * @param header       its metadata
     * @param dataRecords  how many {@code 'w'} records
     * @param dataBytes    the bytes those records carry
     * @param zeroRecords  how many {@code 'z'} records
     * @param zeroBytes    the bytes those records zero
     * @param streamBytes  the length of the stream, banner and end record included
     */
    public record Summary(Header header, long dataRecords, long dataBytes, long zeroRecords, long zeroBytes,
                          long streamBytes) {
    }

    /**
     * Receives a stream's records in stream order: {@code header} once, before any data record;
     * then {@code write} and {@code zero} in ascending offset order; then {@code end}. An
     * exception thrown here stops the parse and reaches the caller of {@link #read} as it is.
     */
    public interface Visitor {
        /** A visitor that checks and drops everything: the verification pass. */
        Visitor DISCARD = (offset, length, data) -> data.skipNBytes(length);

        /** The metadata, once all of it is known. */
        default void header(String fromSnap, String toSnap, long imageSize) throws IOException {
        }

        /**
         * A {@code 'w'} record: {@code data} yields exactly {@code length} bytes and must be read
         * (or skipped) to its end before returning; it is valid only during this call, and
         * closing it does nothing. A truncated stream shows as an {@link RbdDiffException} from
         * its read methods.
         *
         * @throws IllegalStateException (from the reader, after the call) when bytes were left
         */
        void write(long offset, long length, InputStream data) throws IOException;

        /** A {@code 'z'} record: the range reads as zeros. */
        default void zero(long offset, long length) throws IOException {
        }

        /** The end record, with nothing after it: the whole stream is well formed. */
        default void end() throws IOException {
        }
    }

    private enum Phase { METADATA, DATA }

    private final DiffSource src;
    private final Visitor visitor;
    private final byte[] scratch = new byte[16];
    private Phase phase = Phase.METADATA;
    private String fromSnap;
    private String toSnap;
    private boolean sawFrom;
    private boolean sawTo;
    private long imageSize = -1;
    private long previousOffset;
    private long previousEnd;
    private long dataRecords;
    private long dataBytes;
    private long zeroRecords;
    private long zeroBytes;

    private RbdDiffReader(InputStream in, Visitor visitor) {
        this.src = new DiffSource(in);
        this.visitor = visitor;
    }

    /** Parses the whole of {@code in}, handing its records to {@code visitor}. */
    public static Summary read(InputStream in, Visitor visitor) throws IOException {
        return new RbdDiffReader(in, visitor).run();
    }

    /** Reads and checks the whole of {@code in}, keeping nothing but the summary. */
    public static Summary verify(InputStream in) throws IOException {
        return read(in, Visitor.DISCARD);
    }

    private Summary run() throws IOException {
        readBanner();
        while (true) {
            long at = src.position();
            int b = src.read();
            if (b < 0) {
                throw new RbdDiffException(Problem.MISSING_END, at, "the stream ends without the end record 'e' ("
                        + (dataRecords + zeroRecords) + " data records read)");
            }
            RbdDiffTag tag = RbdDiffTag.fromWire(b, at);
            switch (tag) {
                case FROM_SNAP -> {
                    checkMetadata(tag, at, sawFrom);
                    sawFrom = true;
                    fromSnap = readName(tag, at);
                }
                case TO_SNAP -> {
                    checkMetadata(tag, at, sawTo);
                    sawTo = true;
                    toSnap = readName(tag, at);
                }
                case SIZE -> {
                    checkMetadata(tag, at, imageSize >= 0);
                    imageSize = readSize(at);
                }
                case WRITE, ZERO -> {
                    startData(tag, at);
                    extent(tag, at);
                }
                case END -> {
                    startData(tag, at);
                    return end(at);
                }
            }
        }
    }

    private void readBanner() throws IOException {
        byte[] banner = RbdDiffFormat.BANNER;
        byte[] got = new byte[banner.length];
        int n = src.readFully(got, 0, got.length);
        if (Arrays.equals(got, 0, n, banner, 0, n) && n < banner.length) {
            throw new RbdDiffException(n == 0 ? Problem.BAD_BANNER : Problem.TRUNCATED, 0, n == 0
                    ? "the stream is empty, not an rbd diff"
                    : "the stream ends after " + n + " bytes, inside the banner");
        }
        if (Arrays.equals(got, RbdDiffFormat.BANNER_V2)) {
            throw new RbdDiffException(Problem.BAD_BANNER, 0,
                    "banner \"rbd diff v2\\n\": the v2 format (rbd export-diff --export-format 2) is not supported");
        }
        if (!Arrays.equals(got, banner)) {
            throw new RbdDiffException(Problem.BAD_BANNER, 0, "banner " + RbdDiffFormat.describeBytes(got, n)
                    + ", expected " + RbdDiffFormat.describeBytes(banner, banner.length));
        }
    }

    private void checkMetadata(RbdDiffTag tag, long at, boolean seen) throws RbdDiffException {
        if (phase == Phase.DATA) {
            throw new RbdDiffException(Problem.METADATA_AFTER_DATA, at,
                    "metadata record " + tag + " after the first data record");
        }
        if (seen) {
            throw new RbdDiffException(Problem.DUPLICATE_METADATA, at, "a second " + tag + " record");
        }
    }

    private String readName(RbdDiffTag tag, long at) throws IOException {
        need(tag, at, 4, "its name length");
        long length = Integer.toUnsignedLong(le32(0));
        if (length > RbdDiffFormat.MAX_NAME_BYTES) {
            throw new RbdDiffException(Problem.NAME_TOO_LONG, at, "snapshot name of " + length + " bytes in record "
                    + tag + ", more than the limit of " + RbdDiffFormat.MAX_NAME_BYTES);
        }
        byte[] name = new byte[(int) length];
        int n = src.readFully(name, 0, name.length);
        if (n < name.length) {
            throw truncated(tag, at, "its " + length + "-byte name, " + n + " present");
        }
        String s = RbdDiffFormat.decodeName(name);
        if (s == null) {
            throw new RbdDiffException(Problem.BAD_NAME, at, "snapshot name in record " + tag + " is not UTF-8: "
                    + RbdDiffFormat.describeBytes(name, Math.min(name.length, 32)));
        }
        return s;
    }

    private long readSize(long at) throws IOException {
        need(RbdDiffTag.SIZE, at, 8, "the image size");
        long size = le64(0);
        if (size < 0) {
            throw new RbdDiffException(Problem.BAD_SIZE, at, "image size " + Long.toUnsignedString(size)
                    + " is beyond 2^63 - 1");
        }
        return size;
    }

    private void startData(RbdDiffTag tag, long at) throws IOException {
        if (phase == Phase.DATA) {
            return;
        }
        if (imageSize < 0) {
            throw new RbdDiffException(Problem.MISSING_SIZE, at, "record " + tag
                    + " before the image size record 's'");
        }
        phase = Phase.DATA;
        visitor.header(fromSnap, toSnap, imageSize);
    }

    private void extent(RbdDiffTag tag, long at) throws IOException {
        need(tag, at, 16, "its offset and length");
        long offset = le64(0);
        long length = le64(8);
        String range = "[" + Long.toUnsignedString(offset) + ", +" + Long.toUnsignedString(length) + ")";
        if (length == 0) {
            throw new RbdDiffException(Problem.EMPTY_RECORD, at, "record " + tag + " at offset "
                    + Long.toUnsignedString(offset) + " has length 0");
        }
        if (Long.compareUnsigned(offset, imageSize) > 0 || Long.compareUnsigned(length, imageSize - offset) > 0) {
            throw new RbdDiffException(Problem.PAST_END, at, "record " + tag + " " + range
                    + " reaches past the image size " + imageSize);
        }
        if (offset < previousOffset) {
            throw new RbdDiffException(Problem.OUT_OF_ORDER, at, "record " + tag + " " + range
                    + " starts before the previous record, at " + previousOffset);
        }
        if (offset < previousEnd) {
            throw new RbdDiffException(Problem.OVERLAPPING, at, "record " + tag + " " + range
                    + " starts inside the previous record, which ends at " + previousEnd);
        }
        previousOffset = offset;
        previousEnd = offset + length;
        if (tag == RbdDiffTag.ZERO) {
            zeroRecords++;
            zeroBytes += length;
            visitor.zero(offset, length);
            return;
        }
        dataRecords++;
        dataBytes += length;
        RecordData data = new RecordData(at, offset, length);
        try {
            visitor.write(offset, length, data);
        } finally {
            data.closed = true;
        }
        if (data.failure != null) {
            throw data.failure;
        }
        if (data.remaining > 0) {
            throw new IllegalStateException("the visitor left " + data.remaining + " of the " + length
                    + " data bytes of the 'w' record at stream byte " + at + " unread");
        }
    }

    private Summary end(long at) throws IOException {
        long after = src.position();
        int b = src.read();
        if (b >= 0) {
            throw new RbdDiffException(Problem.TRAILING_BYTES, after, "byte " + RbdDiffFormat.describeByte(b)
                    + " follows the end record at byte " + at);
        }
        visitor.end();
        return new Summary(new Header(fromSnap, toSnap, imageSize), dataRecords, dataBytes, zeroRecords,
                zeroBytes, src.position());
    }

    /** Reads {@code n} bytes of the record at {@code at} into the scratch buffer. */
    private void need(RbdDiffTag tag, long at, int n, String what) throws IOException {
        int got = src.readFully(scratch, 0, n);
        if (got < n) {
            throw truncated(tag, at, what + " (" + n + " bytes, " + got + " present)");
        }
    }

    private RbdDiffException truncated(RbdDiffTag tag, long at, String what) {
        return new RbdDiffException(Problem.TRUNCATED, at, "record " + tag + " is truncated: the stream ends at byte "
                + src.position() + " inside " + what);
    }

    private int le32(int i) {
        return (scratch[i] & 0xff) | (scratch[i + 1] & 0xff) << 8 | (scratch[i + 2] & 0xff) << 16
                | (scratch[i + 3] & 0xff) << 24;
    }

    private long le64(int i) {
        return Integer.toUnsignedLong(le32(i)) | (long) le32(i + 4) << 32;
    }

    /** The data of one 'w' record: exactly its length, then end of stream; a short stream fails. */
    private final class RecordData extends InputStream {
        private final long at;
        private final long offset;
        private final long length;
        private long remaining;
        private boolean closed;
        private RbdDiffException failure;

        RecordData(long at, long offset, long length) {
            this.at = at;
            this.offset = offset;
            this.length = length;
            this.remaining = length;
        }

        @Override
        public int read() throws IOException {
            if (!usable()) {
                return -1;
            }
            int b = src.read();
            if (b < 0) {
                throw fail();
            }
            remaining--;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            if (!usable()) {
                return -1;
            }
            int n = src.read(b, off, (int) Math.min(len, remaining));
            if (n < 0) {
                throw fail();
            }
            remaining -= n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            if (n <= 0 || !usable()) {
                return 0;
            }
            long k = src.skip(Math.min(n, remaining));
            if (k < 0) {
                throw fail();
            }
            remaining -= k;
            return k;
        }

        @Override
        public int available() {
            return closed || failure != null ? 0 : (int) Math.min(remaining, src.buffered());
        }

        /** True when there are bytes to read; throws once the record failed or was handed back. */
        private boolean usable() throws IOException {
            if (closed) {
                throw new IllegalStateException("the data of the 'w' record at stream byte " + at
                        + " is read after its visitor call returned");
            }
            if (failure != null) {
                throw failure;
            }
            return remaining > 0;
        }

        private RbdDiffException fail() {
            failure = new RbdDiffException(Problem.TRUNCATED, at, "record 'w' [" + offset + ", +" + length
                    + ") is truncated: the stream ends at byte " + src.position() + " after "
                    + (length - remaining) + " of its " + length + " data bytes");
            return failure;
        }
    }
}
