package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TomlLinesTest {
    static final String TEXT = """
            # a comment, then a table
            [server]
            listen = [
              "127.0.0.1:3260",   # first
              "[::1]:3260",
            ]
            io-threads = 8

            [[volume]]
            name = "a"
            description = \"""
            several
            lines, with "quotes" and [brackets] = not keys
            \"""
            hydration.rate = "1M"
            'quoted.key' = 'literal [ { '

            [[volume]]
            name = "b"
            hydration = { in-flight = 4,
                          batch-size = 16 }

            [[target]]
            iqn = "iqn.2026-11.com.example:t"
            lun = [ { lun = 0, volume = "a" },
                    { lun = 1, volume = "b" } ]
            [target.chap]
            user = "u"

            [[target]]
            iqn = "iqn.2026-11.com.example:u"
            [[target.lun]]
            lun = 0
            [[target.lun]]
            lun = 1
            """;

    @Test
    void everyFieldHasItsLine() {
        TomlLines lines = TomlLines.of(TEXT);
        assertEquals(2, lines.lineOf("server"));
        assertEquals(3, lines.lineOf("server.listen"));
        assertEquals(4, lines.lineOf("server.listen[0]"));
        assertEquals(5, lines.lineOf("server.listen[1]"));
        assertEquals(7, lines.lineOf("server.io-threads"));
        assertEquals(9, lines.lineOf("volume[0]"));
        assertEquals(11, lines.lineOf("volume[0].description"));
        assertEquals(15, lines.lineOf("volume[0].hydration.rate"), "after a multi-line string");
        assertEquals(15, lines.lineOf("volume[0].hydration"));
        assertEquals(16, lines.lineOf("volume[0].quoted.key"));
        assertEquals(19, lines.lineOf("volume[1].name"));
        assertEquals(20, lines.lineOf("volume[1].hydration.in-flight"));
        assertEquals(21, lines.lineOf("volume[1].hydration.batch-size"));
        assertEquals(25, lines.lineOf("target[0].lun[0].volume"));
        assertEquals(26, lines.lineOf("target[0].lun[1].lun"));
        assertEquals(28, lines.lineOf("target[0].chap.user"));
        assertEquals(31, lines.lineOf("target[1].iqn"));
        assertEquals(33, lines.lineOf("target[1].lun[0].lun"));
        assertEquals(35, lines.lineOf("target[1].lun[1].lun"));
    }

    @Test
    void anUnknownFieldGetsTheLineOfWhatEnclosesIt() {
        TomlLines lines = TomlLines.of(TEXT);
        assertEquals(20, lines.lineOf("volume[1].hydration.rate"));
        assertEquals(18, lines.lineOf("volume[1].region-size"));
        assertEquals(0, lines.lineOf("iscsi.command-window"));
        assertEquals(0, lines.lineOf(""));
    }

    @Test
    void textItCannotFollowKeepsWhatItFound() {
        TomlLines lines = TomlLines.of("[server]\nio-threads = 8\nlisten = [ \"unterminated");
        assertEquals(2, lines.lineOf("server.io-threads"));
        assertEquals(3, lines.lineOf("server.listen"));
    }
}
