package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PduReaderTest {
    /** A channel that hands out at most {@code step} bytes per read. */
    static final class Fragmented implements ReadableByteChannel {
        private final ByteBuffer data;
        private final int step;

        Fragmented(byte[] bytes, int step) {
            this.data = ByteBuffer.wrap(bytes);
            this.step = step;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!data.hasRemaining()) {
                return -1;
            }
            int n = Math.min(step, Math.min(dst.remaining(), data.remaining()));
            dst.put(data.slice(data.position(), n));
            data.position(data.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** Encodes a NOP-Out with a data segment, optionally with digests. */
    static byte[] nopOut(int itt, byte[] data, boolean headerDigest, boolean dataDigest) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) 0x40).put(1, (byte) 0x80);
        Bhs.setDataSegmentLength(h, data.length);
        h.putInt(16, itt).putInt(20, Bhs.RESERVED_TAG);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(h.array());
        Digest digest = new Digest();
        if (headerDigest) {
            ByteBuffer d = ByteBuffer.allocate(4);
            Digest.put(d, 0, digest.ofHeader(h, 48));
            out.writeBytes(d.array());
        }
        out.writeBytes(data);
        out.writeBytes(new byte[Bhs.padding(data.length)]);
        if (dataDigest && data.length > 0) {
            ByteBuffer d = ByteBuffer.allocate(4);
            Digest.put(d, 0, digest.ofSegment(ByteBuffer.wrap(data)));
            out.writeBytes(d.array());
        }
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 7, 48, 1000, 1 << 20})
    void readsPdusFromAnyFragmentation(int step) throws Exception {
        byte[] small = {1, 2, 3, 4, 5};
        byte[] big = new byte[100_000];
        new Random(1).nextBytes(big);
        byte[] stream = concat(nopOut(1, small, true, true), nopOut(2, new byte[0], true, true),
                nopOut(3, big, true, true));
        PduReader reader = new PduReader(new Fragmented(stream, step), 1 << 20);
        reader.setDigests(true, true);
        ByteBuffer bhs = ByteBuffer.allocate(48);

        assertTrue(reader.readHeader(bhs));
        assertEquals(1, Bhs.itt(bhs));
        assertEquals(ByteBuffer.wrap(small), reader.readDataToHeap());

        assertTrue(reader.readHeader(bhs));
        assertEquals(2, Bhs.itt(bhs));
        assertEquals(0, reader.pendingDataLength());
        reader.readData(ByteBuffer.allocate(0));

        assertTrue(reader.readHeader(bhs));
        assertEquals(3, Bhs.itt(bhs));
        ByteBuffer dst = ByteBuffer.allocateDirect(big.length);
        reader.readData(dst);
        assertEquals(ByteBuffer.wrap(big), dst.flip());

        assertFalse(reader.readHeader(bhs), "clean end of stream between PDUs");
    }

    @Test
    void skipsDataWithPaddingAndDigest() throws Exception {
        byte[] stream = concat(nopOut(1, new byte[]{9, 9, 9}, false, true), nopOut(2, new byte[]{7}, false, true));
        PduReader reader = new PduReader(new Fragmented(stream, 5), 8192);
        reader.setDigests(false, true);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        reader.readHeader(bhs);
        reader.skipData();
        reader.readHeader(bhs);
        assertEquals(2, Bhs.itt(bhs));
        assertEquals(ByteBuffer.wrap(new byte[]{7}), reader.readDataToHeap());
    }

    @Test
    void headerDigestMismatchIsFatal() {
        byte[] stream = nopOut(1, new byte[0], true, false);
        stream[48] ^= 1;
        PduReader reader = new PduReader(new Fragmented(stream, 100), 8192);
        reader.setDigests(true, false);
        PduException e = assertThrows(PduException.class, () -> reader.readHeader(ByteBuffer.allocate(48)));
        assertTrue(e.fatal());
        assertEquals(RejectReason.PROTOCOL_ERROR, e.reason());
    }

    @Test
    void dataDigestMismatchIsNotFatal() throws Exception {
        byte[] stream = nopOut(1, new byte[]{1, 2, 3, 4}, false, true);
        stream[stream.length - 1] ^= 1;
        PduReader reader = new PduReader(new Fragmented(stream, 100), 8192);
        reader.setDigests(false, true);
        reader.readHeader(ByteBuffer.allocate(48));
        PduException e = assertThrows(PduException.class, reader::readDataToHeap);
        assertFalse(e.fatal());
        assertEquals(RejectReason.DATA_DIGEST_ERROR, e.reason());
    }

    @Test
    void overlongSegmentIsFatal() {
        PduReader reader = new PduReader(new Fragmented(nopOut(1, new byte[9000], false, false), 100), 8192);
        PduException e = assertThrows(PduException.class, () -> reader.readHeader(ByteBuffer.allocate(48)));
        assertTrue(e.fatal());
        assertTrue(e.getMessage().contains("9000"), e.getMessage());
    }

    @Test
    void truncatedPdusEndInEof() throws Exception {
        byte[] full = nopOut(1, new byte[100], false, false);
        byte[] headerOnly = java.util.Arrays.copyOf(full, 30);
        assertThrows(EOFException.class, () -> new PduReader(new Fragmented(headerOnly, 7), 8192)
                .readHeader(ByteBuffer.allocate(48)));
        byte[] shortData = java.util.Arrays.copyOf(full, 60);
        PduReader reader = new PduReader(new Fragmented(shortData, 7), 8192);
        reader.readHeader(ByteBuffer.allocate(48));
        assertThrows(EOFException.class, reader::readDataToHeap);
    }

    @Test
    void ahsIsReadAndExposed() throws Exception {
        ByteBuffer h = ByteBuffer.allocate(48 + 8);
        h.put(0, (byte) 0x01);
        h.put(4, (byte) 2);
        h.putShort(48, (short) 5).put(50, (byte) 1);
        PduReader reader = new PduReader(new Fragmented(h.array(), 5), 8192);
        ByteBuffer bhs = ByteBuffer.allocate(48);
        reader.readHeader(bhs);
        assertEquals(8, reader.ahs().remaining());
        assertEquals(1, reader.ahs().get(2));
    }
}
