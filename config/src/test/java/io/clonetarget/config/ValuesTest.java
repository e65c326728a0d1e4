package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ValuesTest {
    @ParameterizedTest
    @CsvSource({"512,512", "64K,65536", "64k,65536", "1G,1073741824", "2TiB,2199023255552", "1MB,1048576", "0,0",
        "8191P,9222246136947933184", "1.5K,1536", "1.5G,1610612736", "0.5K,512", "2.25M,2359296", "' 4K ',4096"})
    void sizes(String text, long bytes) {
        assertEquals(bytes, ByteSize.parse(text).bytes());
        assertEquals(bytes, ByteSize.parse(ByteSize.ofBytes(bytes).toString()).bytes(), "round trip");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "K", "-1", "10X", "8192P", "99999999999999999999", "1.3K", "1.5", "0.1K", "1e3", "1.G",
        ".5K", "1,5K", "1 K"})
    void badSizes(String text) {
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(text));
    }

    @Test
    void aSizeIsAWholeNumberOfBytesNeverTruncated() {
        assertEquals("\"1.3K\" is 1331.2 bytes, not a whole number of bytes (use e.g. 512, 64K, 1.5G, 10G)",
                assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("1.3K")).getMessage());
        assertEquals("1.5 is not a whole number of bytes (use e.g. 512, 64K, 1.5G, 10G)",
                assertThrows(IllegalArgumentException.class, () -> ByteSize.of(1.5)).getMessage());
        assertEquals(2048, ByteSize.of(2048.0).bytes(), "a float that is a whole number");
        assertEquals(1L << 40, ByteSize.of(1L << 40).bytes());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.of(-1)).getMessage()
                .contains("must not be negative"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.of(1e18)).getMessage()
                .contains("too large for a float to hold exactly"));
        java.math.BigInteger huge = java.math.BigInteger.TEN.pow(20);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.of(huge)).getMessage()
                .contains("size too large"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ByteSize.of(Double.NaN)).getMessage()
                .contains("not a size"));
    }

    @Test
    void intervals() {
        assertEquals(Duration.ofMillis(500), Interval.parse("500ms").duration());
        assertEquals(Duration.ofSeconds(15), Interval.parse("15s").duration());
        assertEquals(Duration.ofSeconds(15), Interval.parse("15").duration());
        assertEquals(Duration.ofSeconds(15), Interval.of(15).duration());
        assertEquals(Duration.ofMinutes(2), Interval.parse("2m").duration());
        assertEquals(Duration.ofHours(1), Interval.parse("1h").duration());
        assertEquals("2m", Interval.parse("120s").toString());
        assertThrows(IllegalArgumentException.class, () -> Interval.parse("2 weeks"));
        assertThrows(IllegalArgumentException.class, () -> Interval.parse("ms"));
        assertThrows(IllegalArgumentException.class, () -> Interval.parse("1.5s"));
        assertThrows(IllegalArgumentException.class, () -> Interval.of(-1));
        assertEquals("2.5 is not a whole number of seconds (use e.g. 500ms, 15s, 2m; here \"2500ms\")",
                assertThrows(IllegalArgumentException.class, () -> Interval.of(2.5)).getMessage());
    }

    @Test
    void endpoints() {
        InetSocketAddress a = Endpoint.parse("127.0.0.1:3261");
        assertEquals(3261, a.getPort());
        assertEquals("127.0.0.1:3261", Endpoint.format(a));
        assertEquals(3260, Endpoint.parse("0.0.0.0").getPort());
        assertEquals("[0:0:0:0:0:0:0:1]:3260", Endpoint.format(Endpoint.parse("[::1]:3260")));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("::1:3260")).getMessage()
                .contains("brackets"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("example.com:3260"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("256.1.1.1:3260"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("127.0.0.1:port"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("[::1"));
    }

    @Test
    void iscsiNames() {
        assertTrue(ConfigValidator.isIscsiName("iqn.2026-11.io.clonetarget:demo"));
        assertTrue(ConfigValidator.isIscsiName("iqn.1993-08.org.debian:01:abcdef"));
        assertTrue(ConfigValidator.isIscsiName("eui.02004567A425678D"));
        assertTrue(ConfigValidator.isIscsiName("naa.52004567BA64678D"));
        assertFalse(ConfigValidator.isIscsiName("iqn.2026-13.io.x"));
        assertFalse(ConfigValidator.isIscsiName("iqn.26-11.io.x"));
        assertFalse(ConfigValidator.isIscsiName("IQN.2026-11.io.x"));
        assertFalse(ConfigValidator.isIscsiName("iqn.2026-11.io.x:has space"));
        assertFalse(ConfigValidator.isIscsiName(null));
    }
}
