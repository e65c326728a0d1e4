package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigDiffTest {
    private static final String BASE = """
            [server]
            listen = ["127.0.0.1:3260"]

            [[volume]]
            name = "a"
            path = "/srv/a.img"
            size = "1G"

            [[volume]]
            name = "c"
            type = "clone"
            source = "/srv/base.img"
            path = "/srv/c.img"

            [[target]]
            iqn = "iqn.2026-11.com.example:one"
            allowed-initiators = ["iqn.2026-11.com.example:h1", "iqn.2026-11.com.example:h2"]
            [[target.lun]]
            lun = 0
            volume = "a"

            [[target]]
            iqn = "iqn.2026-11.com.example:two"
            [target.chap]
            user = "u"
            secret = "a-long-secret-1"
            [[target.lun]]
            lun = 0
            volume = "c"
            """;

    private static ServerConfig parse(String toml) throws ConfigException {
        return ConfigFiles.parse(toml, "test");
    }

    private static List<String> plan(String before, String after) throws ConfigException {
        return ConfigDiff.between(parse(before), parse(after)).stream().map(ConfigChange::describe).toList();
    }

    @Test
    void theSameConfigurationHasNoChangesEvenReorderedOrMigrated() throws ConfigException {
        assertEquals(List.of(), plan(BASE, BASE));
        String reordered = BASE.replace("allowed-initiators = [\"iqn.2026-11.com.example:h1\", \"iqn.2026-11.com.example:h2\"]",
                "allowed-initiators = [\"iqn.2026-11.com.example:h2\", \"iqn.2026-11.com.example:h1\"]");
        assertEquals(List.of(), plan(BASE, reordered));
        // a written default is no change either: the records carry their defaults
        assertEquals(List.of(), plan(BASE, BASE.replace("path = \"/srv/a.img\"", "path = \"/srv/a.img\"\nblock-size = 512")));
    }

    @Test
    void everyKindOfChangeIsOneLine() throws ConfigException {
        String after = BASE
                .replace("listen = [\"127.0.0.1:3260\"]", "listen = [\"127.0.0.1:3260\", \"[::1]:3260\"]\nio-threads = 8")
                .replace("path = \"/srv/c.img\"", "path = \"/srv/c.img\"\n[volume.hydration]\nrate = \"50M\"")
                .replace("\"iqn.2026-11.com.example:h1\", \"iqn.2026-11.com.example:h2\"", "\"iqn.2026-11.com.example:h1\"")
                .replace("""
                        [[target.lun]]
                        lun = 0
                        volume = "a"
                        """, """
                        [[target.lun]]
                        lun = 0
                        volume = "a"
                        [[target.lun]]
                        lun = 1
                        volume = "b"
                        """)
                .replace("secret = \"a-long-secret-1\"", "secret = \"a-long-secret-2\"")
                + """

                [[volume]]
                name = "b"
                path = "/srv/b.img"
                size = "2G"
                """;
        assertEquals(List.of(
                "+ portal [::1]:3260",
                "~ server.io-threads: 16 -> 8",
                "~ volume c hydration.rate: 0 -> 50M",
                "+ volume b (file /srv/b.img, 2G)",
                "- allowed-initiators of iqn.2026-11.com.example:one: iqn.2026-11.com.example:h2",
                "+ lun 1 of iqn.2026-11.com.example:one: volume b",
                "~ chap of iqn.2026-11.com.example:two secret: (set) -> (changed)"), plan(BASE, after));
    }

    @Test
    void aTargetThatGoesIsOneChangeAndSecretsNeverShow() throws ConfigException {
        String after = BASE.substring(0, BASE.indexOf("[[target]]\niqn = \"iqn.2026-11.com.example:two\""))
                .replace("""
                        [[volume]]
                        name = "c"
                        type = "clone"
                        source = "/srv/base.img"
                        path = "/srv/c.img"
                        """, "");
        List<ConfigChange> changes = ConfigDiff.between(parse(BASE), parse(after));
        assertEquals(List.of("- volume c", "- target iqn.2026-11.com.example:two"),
                changes.stream().map(ConfigChange::describe).toList());
        assertEquals("1 lun", changes.get(1).before());
        for (ConfigChange c : ConfigDiff.between(parse(after), parse(BASE))) {
            assertTrue(!c.toString().contains("a-long-secret"), c.toString());
        }
    }

    @Test
    void initiatorMapsAreComparedByInitiatorAndLunNumber() throws ConfigException {
        String withMap = BASE.replace("""
                [[target]]
                iqn = "iqn.2026-11.com.example:two"
                """, """
                [[target.initiator]]
                name = "iqn.2026-11.com.example:h1"
                [[target.initiator.lun]]
                lun = 5
                volume = "a"

                [[target]]
                iqn = "iqn.2026-11.com.example:two"
                """);
        assertEquals(List.of("+ lun map of iqn.2026-11.com.example:h1 on iqn.2026-11.com.example:one",
                "+ lun 5 of iqn.2026-11.com.example:one (map of iqn.2026-11.com.example:h1): volume a"),
                plan(BASE, withMap));
        assertEquals(List.of("- lun map of iqn.2026-11.com.example:h1 on iqn.2026-11.com.example:one",
                "- lun 5 of iqn.2026-11.com.example:one (map of iqn.2026-11.com.example:h1): volume a"),
                plan(withMap, BASE));
        String moved = withMap.replace("lun = 5", "lun = 6");
        assertEquals(List.of("- lun 5 of iqn.2026-11.com.example:one (map of iqn.2026-11.com.example:h1): volume a",
                "+ lun 6 of iqn.2026-11.com.example:one (map of iqn.2026-11.com.example:h1): volume a"),
                plan(withMap, moved));
        String swapped = BASE.replace("lun = 0\nvolume = \"a\"", "lun = 0\nvolume = \"b\"")
                + "\n[[volume]]\nname = \"b\"\npath = \"/srv/b.img\"\nsize = \"1G\"\n";
        assertEquals(List.of("+ volume b (file /srv/b.img, 1G)",
                "~ lun 0 of iqn.2026-11.com.example:one: volume a -> b"), plan(BASE, swapped));
    }
}
