package io.clonetarget.server.login;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class ChapTest {
    /** MD5(0x01 || "secret" || 00..0f), computed independently with md5sum. */
    @Test
    void md5ResponseMatchesAnIndependentComputation() {
        byte[] challenge = new byte[16];
        for (int i = 0; i < 16; i++) {
            challenge[i] = (byte) i;
        }
        byte[] r = Chap.response(Chap.Algorithm.MD5, 1, "secret".getBytes(StandardCharsets.UTF_8), challenge);
        assertEquals(16, r.length);
        byte[] expected = md5("01" + HexFormat.of().formatHex("secret".getBytes()) + HexFormat.of().formatHex(challenge));
        assertArrayEquals(expected, r);
    }

    private static byte[] md5(String hex) {
        try {
            return java.security.MessageDigest.getInstance("MD5").digest(HexFormat.of().parseHex(hex));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void chooseTakesTheFirstSupported() {
        assertEquals(Chap.Algorithm.SHA3_256, Chap.choose("8,7,5"));
        assertEquals(Chap.Algorithm.MD5, Chap.choose("6,5"));
        assertNull(Chap.choose("6"));
        assertNull(Chap.choose("x"));
    }

    @Test
    void binaryEncodings() {
        assertArrayEquals(new byte[]{1, 2, (byte) 0xff}, Chap.decode("0x0102ff"));
        assertArrayEquals(new byte[]{1, 2}, Chap.decode("0x102"), "odd hex digits pad on the left");
        assertArrayEquals(new byte[]{1, 2, 3}, Chap.decode("0bAQID"));
        assertEquals("0x0102ff", Chap.encode(new byte[]{1, 2, (byte) 0xff}));
        assertThrows(IllegalArgumentException.class, () -> Chap.decode("0102"));
        assertThrows(IllegalArgumentException.class, () -> Chap.decode("0xzz"));
    }
}
