package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.clonetarget.server.pdu.TextSegment.Pair;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextSegmentTest {
    private static ByteBuffer text(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void roundTrip() throws Exception {
        List<Pair> pairs = List.of(new Pair("InitiatorName", "iqn.1993-08.org.debian:01:x"),
                new Pair("SendTargets", ""), new Pair("X-com.example.k", "a=b"));
        assertEquals(pairs, TextSegment.parse(ByteBuffer.wrap(TextSegment.encode(pairs))));
    }

    @Test
    void toleratesMissingFinalNulAndEmptyEntries() throws Exception {
        assertEquals(List.of(new Pair("A", "1"), new Pair("B", "2")), TextSegment.parse(text("A=1\0\0B=2")));
        assertEquals(List.of(), TextSegment.parse(text("")));
    }

    @Test
    void rejectsMalformedEntries() {
        assertThrows(TextSegment.TextFormatException.class, () -> TextSegment.parse(text("NoEquals\0")));
        assertThrows(TextSegment.TextFormatException.class, () -> TextSegment.parse(text("=value\0")));
        assertThrows(TextSegment.TextFormatException.class, () -> TextSegment.parse(text("Bad Key=1\0")));
        assertThrows(TextSegment.TextFormatException.class, () -> TextSegment.parse(text("K".repeat(64) + "=1\0")));
    }
}
