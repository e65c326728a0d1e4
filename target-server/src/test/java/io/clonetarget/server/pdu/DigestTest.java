package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class DigestTest {
    /** RFC 7143 appendix B.4: CRC32C of 32 bytes of zeroes is sent as aa 36 91 8a. */
    @Test
    void rfcVectorZeroes() {
        ByteBuffer out = ByteBuffer.allocate(4);
        Digest.put(out, 0, new Digest().ofSegment(ByteBuffer.allocate(32)));
        assertEquals("aa36918a", hex(out));
    }

    /** RFC 7143 appendix B.4: 32 bytes of 0xff is sent as 43 ab a8 62. */
    @Test
    void rfcVectorOnes() {
        ByteBuffer in = ByteBuffer.allocate(32);
        while (in.hasRemaining()) {
            in.put((byte) 0xff);
        }
        ByteBuffer out = ByteBuffer.allocate(4);
        Digest.put(out, 0, new Digest().ofSegment(in.flip()));
        assertEquals("43aba862", hex(out));
    }

    /** RFC 7143 appendix B.4: 32 incrementing bytes 00..1f is sent as 4e 79 dd 46. */
    @Test
    void rfcVectorIncrementing() {
        ByteBuffer in = ByteBuffer.allocate(32);
        for (int i = 0; i < 32; i++) {
            in.put((byte) i);
        }
        ByteBuffer out = ByteBuffer.allocate(4);
        Digest.put(out, 0, new Digest().ofSegment(in.flip()));
        assertEquals("4e79dd46", hex(out));
        assertEquals(Digest.get(out, 0), new Digest().ofSegment(in.rewind()));
    }

    @Test
    void segmentDigestIncludesZeroPadding() {
        ByteBuffer three = ByteBuffer.wrap(new byte[]{1, 2, 3});
        ByteBuffer four = ByteBuffer.wrap(new byte[]{1, 2, 3, 0});
        assertEquals(new Digest().ofSegment(four), new Digest().ofSegment(three));
    }

    static String hex(ByteBuffer b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < b.limit(); i++) {
            sb.append(String.format("%02x", b.get(i)));
        }
        return sb.toString();
    }
}
