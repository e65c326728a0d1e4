package io.clonetarget.server.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LogTextTest {
    @Test
    void aNewlineCannotForgeALogLine() {
        String forged = "iqn.2026-11.evil:x\n2026-12-01T00:00:00.000Z [INFO] Connection - login from 10.0.0.1: admin";
        String safe = LogText.of(forged);
        assertFalse(safe.contains("\n") || safe.contains("\r"), safe);
        assertTrue(safe.startsWith("iqn.2026-11.evil:x\\n2026-12-01"), safe);
    }

    @Test
    void controlAndFormatCharactersAreEscapedAndBackslashesDoubled() {
        assertEquals("a\\x1b[31mb\\x00c\\\\d\\u2028e\\u200ef\\t", LogText.of("a\u001b[31mb\u0000c\\d\u2028e\u200ef\t"));
        assertEquals("plain-iqn.2026-11.io.clonetarget:disk", LogText.of("plain-iqn.2026-11.io.clonetarget:disk"));
        assertEquals("null", LogText.of(null));
        assertEquals("caf\u00e9 \uD83D\uDE00", LogText.of("caf\u00e9 \uD83D\uDE00"), "printable text and valid pairs stay");
        assertEquals("x\\ud800y", LogText.of("x\uD800y"), "a lone surrogate is escaped");
    }

    @Test
    void anEightThousandCharacterNameIsCapped() {
        String name = "iqn.2026-11.x:" + "a".repeat(8000);
        String safe = LogText.of(name);
        assertEquals(LogText.MAX + "...(7814 more)".length(), safe.length(), safe);
        assertTrue(safe.endsWith("...(7814 more)"), safe);
    }
}
