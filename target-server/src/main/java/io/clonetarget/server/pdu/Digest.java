package io.clonetarget.server.pdu;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The iSCSI CRC32C digest (RFC 7143 section 13.1 and appendix B.4). On the wire the 32-bit
 * value is sent least significant byte first: 32 zero bytes digest to {@code aa 36 91 8a}.
 */
public final class Digest {
    public static final int LENGTH = 4;
    private static final byte[] ZERO_PAD = new byte[3];

    private final CRC32C crc = new CRC32C();

    /** The digest of {@code segment}'s remaining bytes plus zero padding to a 4-byte boundary. */
    public int ofSegment(ByteBuffer segment) {
        crc.reset();
        int length = segment.remaining();
        crc.update(segment.duplicate());
        crc.update(ZERO_PAD, 0, Bhs.padding(length));
        return (int) crc.getValue();
    }

    /** The digest of a header: the BHS and the AHS, both already padded. */
    public int ofHeader(ByteBuffer header, int length) {
        crc.reset();
        crc.update(header.duplicate().position(0).limit(length));
        return (int) crc.getValue();
    }

    /** Writes a digest value in wire order at {@code offset}. */
    public static void put(ByteBuffer buffer, int offset, int digest) {
        buffer.putInt(offset, Integer.reverseBytes(digest));
    }

    /** Reads a digest value in wire order at {@code offset}. */
    public static int get(ByteBuffer buffer, int offset) {
        return Integer.reverseBytes(buffer.getInt(offset));
    }
}
