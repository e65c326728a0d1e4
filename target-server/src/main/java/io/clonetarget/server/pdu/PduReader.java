package io.clonetarget.server.pdu;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Reads PDUs from a blocking byte stream.
 *
 * <p>A PDU is read in two steps so that its data segment can land where it belongs without an
 * extra copy: {@link #readHeader} reads the BHS, the AHS and the header digest; the caller then
 * looks at the header and either gives {@link #readData} the final destination (a slice of a
 * task's data buffer, say) or calls {@link #skipData}. Small PDUs are served from an internal
 * receive buffer, so many of them cost one system call; a large data segment is read straight
 * from the socket into its destination.
 *
 * <p>Not thread-safe: owned by the connection's reader thread.
 */
public final class PduReader {
    private static final int RECEIVE_BUFFER = 64 * 1024;
    private static final int MAX_AHS = 255 * 4;

    private final ReadableByteChannel channel;
    private final ByteBuffer in = ByteBuffer.allocateDirect(RECEIVE_BUFFER).flip();
    private final ByteBuffer headerCopy = ByteBuffer.allocate(Bhs.LENGTH + MAX_AHS);
    private final ByteBuffer ahs = ByteBuffer.allocate(MAX_AHS);
    private final ByteBuffer word = ByteBuffer.allocate(8);
    private final Digest digest = new Digest();
    private boolean headerDigest;
    private boolean dataDigest;
    private int maxDataSegmentLength;
    private int pendingData = -1;
    private HeaderCheck headerCheck = bhs -> { };
    private ReceivePolling polling;

    /** Polls before blocking from now on (see {@link ReceivePolling}); null to block at once. */
    public void setPolling(ReceivePolling polling) {
        this.polling = polling;
    }

    /** A check of the 48 header bytes before anything else of the PDU is read. */
    @FunctionalInterface
    public interface HeaderCheck {
        void check(ByteBuffer bhs) throws PduException;
    }

    public PduReader(ReadableByteChannel channel, int maxDataSegmentLength) {
        this.channel = channel;
        this.maxDataSegmentLength = maxDataSegmentLength;
    }

    /** Switches digests on or off; takes effect with the next PDU (after login). */
    public void setDigests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    /**
     * Sets the check run on every BHS before its AHS and data are read, so that garbage is
     * refused before the reader trusts its length fields.
     */
    public void setHeaderCheck(HeaderCheck check) {
        this.headerCheck = check;
    }

    /** The largest data segment accepted; larger ones are a fatal protocol error. */
    public void setMaxDataSegmentLength(int bytes) {
        this.maxDataSegmentLength = bytes;
    }

    /**
     * Reads the next header into {@code bhs} (48 bytes, position 0).
     *
     * @return false on a clean end of stream before the first byte of a PDU
     * @throws PduException (fatal) on a header digest mismatch or an over-long data segment
     */
    public boolean readHeader(ByteBuffer bhs) throws IOException, PduException {
        if (pendingData >= 0) {
            throw new IllegalStateException("data segment of the previous PDU not consumed");
        }
        bhs.clear().limit(Bhs.LENGTH);
        if (!fill(bhs, true)) {
            return false;
        }
        bhs.flip();
        headerCheck.check(bhs);
        int ahsLength = Bhs.ahsLength(bhs);
        ahs.clear().limit(ahsLength);
        if (ahsLength > 0) {
            fill(ahs, false);
            ahs.flip();
        }
        if (headerDigest) {
            word.clear().limit(4);
            fill(word, false);
            headerCopy.clear();
            headerCopy.put(bhs.duplicate().position(0).limit(Bhs.LENGTH)).put(ahs.duplicate().position(0));
            int expected = digest.ofHeader(headerCopy, Bhs.LENGTH + ahsLength);
            int got = Digest.get(word, 0);
            if (expected != got) {
                throw new PduException(RejectReason.PROTOCOL_ERROR, true, true, String.format(
                        "header digest mismatch: computed %08x, received %08x", expected, got));
            }
        }
        int dsl = Bhs.dataSegmentLength(bhs);
        if (dsl > maxDataSegmentLength) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, true, "data segment length " + dsl
                    + " exceeds MaxRecvDataSegmentLength " + maxDataSegmentLength);
        }
        pendingData = dsl;
        return true;
    }

    /** The AHS of the last header read (empty when there is none). */
    public ByteBuffer ahs() {
        return ahs.duplicate();
    }

    /** The data segment length of the header just read, not yet consumed. */
    public int pendingDataLength() {
        return pendingData;
    }

    /**
     * Reads the data segment of the last header into {@code dst}, which must have exactly that
     * many bytes remaining, then the padding and the data digest.
     *
     * @throws PduException (not fatal) on a data digest mismatch: the PDU must be discarded
     */
    public void readData(ByteBuffer dst) throws IOException, PduException {
        if (dst.remaining() != pendingData) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, segment " + pendingData);
        }
        int length = pendingData;
        pendingData = -1;
        ByteBuffer segment = dst.duplicate();
        fill(dst, false);
        int pad = Bhs.padding(length);
        word.clear().limit(pad + (dataDigest && length > 0 ? 4 : 0));
        fill(word, false);
        if (dataDigest && length > 0) {
            int expected = digest.ofSegment(segment.limit(segment.position() + length));
            int got = Digest.get(word, pad);
            if (expected != got) {
                throw new PduException(RejectReason.DATA_DIGEST_ERROR, false, true, String.format(
                        "data digest mismatch: computed %08x, received %08x", expected, got));
            }
        }
    }

    /**
     * Reads the first {@code dst.remaining()} bytes of the data segment into {@code dst} and
     * drains the rest; the data digest is checked over the whole segment all the same.
     *
     * @throws PduException (not fatal) on a data digest mismatch
     */
    public void readDataPrefix(ByteBuffer dst) throws IOException, PduException {
        int length = pendingData;
        int keep = dst.remaining();
        if (keep > length) {
            throw new IllegalArgumentException("destination has " + keep + " bytes, segment " + length);
        }
        if (keep == length) {
            readData(dst);
            return;
        }
        pendingData = -1;
        java.util.zip.CRC32C crc = dataDigest ? new java.util.zip.CRC32C() : null;
        ByteBuffer kept = dst.duplicate();
        fill(dst, false);
        if (crc != null) {
            crc.update(kept.limit(kept.position() + keep));
        }
        ByteBuffer scratch = ByteBuffer.allocate(Math.min(length - keep, 8192));
        for (int left = length - keep; left > 0; ) {
            scratch.clear().limit(Math.min(scratch.capacity(), left));
            fill(scratch, false);
            scratch.flip();
            if (crc != null) {
                crc.update(scratch);
            }
            left -= scratch.limit();
        }
        int pad = Bhs.padding(length);
        word.clear().limit(pad + (dataDigest ? 4 : 0));
        fill(word, false);
        if (crc != null && (int) crc.getValue() != Digest.get(word, pad)) {
            throw new PduException(RejectReason.DATA_DIGEST_ERROR, false, true, String.format(
                    "data digest mismatch: computed %08x, received %08x", (int) crc.getValue(), Digest.get(word, pad)));
        }
    }

    /** Reads a small data segment into a new heap buffer. */
    public ByteBuffer readDataToHeap() throws IOException, PduException {
        ByteBuffer dst = ByteBuffer.allocate(pendingData);
        readData(dst);
        return dst.flip();
    }

    /** Discards the data segment of the last header (with its padding and digest). */
    public void skipData() throws IOException {
        int remaining = pendingData + Bhs.padding(pendingData) + (dataDigest && pendingData > 0 ? 4 : 0);
        pendingData = -1;
        while (remaining > 0) {
            if (!in.hasRemaining()) {
                refill();
            }
            int n = Math.min(remaining, in.remaining());
            in.position(in.position() + n);
            remaining -= n;
        }
    }

    /** Fills {@code dst} completely; returns false only for EOF before the first byte when allowed. */
    private boolean fill(ByteBuffer dst, boolean eofAllowedAtStart) throws IOException {
        boolean first = true;
        while (dst.hasRemaining()) {
            if (in.hasRemaining()) {
                int n = Math.min(in.remaining(), dst.remaining());
                dst.put(in.slice(in.position(), n));
                in.position(in.position() + n);
            } else if (dst.remaining() >= RECEIVE_BUFFER / 2) {
                int n = channel.read(dst);
                if (n < 0) {
                    throw new EOFException("connection closed inside a PDU");
                }
            } else if (!refillOrEof()) {
                if (first && eofAllowedAtStart) {
                    return false;
                }
                throw new EOFException("connection closed inside a PDU");
            }
            first = false;
        }
        return true;
    }

    private void refill() throws IOException {
        if (!refillOrEof()) {
            throw new EOFException("connection closed inside a PDU");
        }
    }

    private boolean refillOrEof() throws IOException {
        in.clear();
        if (polling != null) {
            polling.beforeBlockingRead();
        }
        int n;
        do {
            n = channel.read(in);
        } while (n == 0);
        if (polling != null) {
            polling.read();
        }
        in.flip();
        return n > 0;
    }
}
