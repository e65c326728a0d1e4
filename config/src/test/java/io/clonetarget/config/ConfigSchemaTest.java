package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Schema versions: files of schema 1 (no version key) are migrated, newer and bad versions refused. */
class ConfigSchemaTest {
    /** README's configuration file as it was written for schema 1: no version key. */
    static final String README_V1 = """
            [server]
            listen = ["0.0.0.0:3260", "[::]:3260"]

            [[volume]]
            name = "disk1"
            path = "/var/lib/clonetarget/disk1.img"
            size = "10G"

            [[volume]]
            name = "vm1"
            type = "clone"
            source = "/srv/images/debian-13.img"
            path = "/var/lib/clonetarget/vm1.img"
            hydration = { in-flight = 4, batch-size = 16, rate = "200M" }

            [discovery]                        # CHAP for SendTargets
            user = "host1"
            secret-file = "/etc/clonetarget/discovery.secret"

            [[target]]
            iqn = "iqn.2026-11.com.example:disk1"
            allowed-initiators = ["iqn.1993-08.org.debian:01:host1"]   # a filter, not authentication
            chap = { user = "host1", secret-file = "/etc/clonetarget/host1.secret" }
            lun = [ { lun = 0, volume = "disk1" }, { lun = 1, volume = "vm1" } ]
            """;

    private static List<String> problems(String toml) {
        return assertThrows(ConfigException.class, () -> ConfigFiles.parse(toml, "t")).problems();
    }

    @Test
    void aFileWithoutVersionIsSchemaOneAndReadsAsTheCurrentSchemaWithNothingElseChanged() throws Exception {
        ServerConfig migrated = ConfigFiles.parse(README_V1, "v1");
        assertEquals(2, migrated.version());
        // what every key of the file means, written out: migration changed none of it
        ServerConfig expected = new ServerConfig(2,
                ServerSection.defaults().withListen(List.of("0.0.0.0:3260", "[::]:3260")),
                IscsiSection.defaults(),
                new ChapConfig("host1", null, "/etc/clonetarget/discovery.secret", null, null, null),
                List.of(VolumeConfig.file("disk1", "/var/lib/clonetarget/disk1.img", ByteSize.parse("10G")),
                        new VolumeConfig("vm1", VolumeType.CLONE, "/var/lib/clonetarget/vm1.img", null, null, null,
                                "/srv/images/debian-13.img", null, null,
                                new HydrationConfig(4, 16, ByteSize.parse("200M"), null, null, null, null), null)),
                List.of(new TargetConfig("iqn.2026-11.com.example:disk1", null,
                        List.of("iqn.1993-08.org.debian:01:host1"),
                        new ChapConfig("host1", null, "/etc/clonetarget/host1.secret", null, null, null),
                        List.of(new LunConfig(0, "disk1"), new LunConfig(1, "vm1")))),
                AdminSection.defaults());
        assertEquals(expected, migrated);
        assertEquals(migrated, ConfigFiles.parse("version = 2\n" + README_V1, "v2"), "the same file in schema 2");
        assertEquals(migrated, ConfigFiles.parse("version = 1\n" + README_V1, "v1"), "version 1 said outright");
        assertTrue(migrated.targets().getFirst().allowedNetworks().isEmpty());
        assertTrue(migrated.targets().getFirst().initiators().isEmpty());
    }

    @Test
    void theMigratedFileIsWrittenInTheCurrentSchema() throws Exception {
        String text = ConfigFiles.format(ConfigFiles.parse(README_V1, "v1"));
        assertTrue(text.startsWith("version = 2\n"), text);
        assertEquals(ConfigFiles.parse(README_V1, "v1"), ConfigFiles.parse(text, "formatted"));
    }

    @Test
    void aFileWithoutVersionMayUseTheKeysSchemaTwoAdded() throws Exception {
        ServerConfig c = ConfigFiles.parse(README_V1 + """
                allowed-networks = ["192.0.2.0/24"]
                [[target.initiator]]
                name = "iqn.1993-08.org.debian:01:host1"
                lun = [ { lun = 0, volume = "vm1" } ]
                """, "v1");
        assertEquals(List.of("192.0.2.0/24"), c.targets().getFirst().allowedNetworks());
        assertEquals(1, c.targets().getFirst().initiators().size());
    }

    @Test
    void aNewerSchemaIsRefusedBeforeAnythingElseOfItIsRead() {
        assertEquals(List.of("version: 3 is newer than this clonetarget reads (schema 1 to 2); upgrade clonetarget"
                + " (line 2)"), problems("""
                # written by a later clonetarget
                version = 3
                [[volume]]
                name = "a"
                path = "/x"
                snapshot-of = "b"
                [[target]]
                iqn = "iqn.2026-11.com.example:t"
                [[target.portal-group]]
                tag = 2
                """));
        assertEquals(List.of("version: 99999999999999999999 is newer than this clonetarget reads (schema 1 to 2);"
                + " upgrade clonetarget (line 1)"), problems("version = 99999999999999999999"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "version = 0 | version: 0 is not a schema version (1 to 2) (line 1)",
        "version = -1 | version: -1 is not a schema version (1 to 2) (line 1)",
        "version = \"2\" | version: expected a whole number (the schema version, 1 to 2), got \"2\" (line 1)",
        "version = 2.0 | version: expected a whole number (the schema version, 1 to 2), got 2.0 (line 1)",
        "version = true | version: expected a whole number (the schema version, 1 to 2), got true (line 1)",
        "version = [2] | version: expected a whole number (the schema version, 1 to 2), got a list (line 1)",
        "'[version]\nschema = 2' | version: expected a whole number (the schema version, 1 to 2), got a table (line 1)"})
    void aBadVersionIsRefusedNamingVersion(String toml, String problem) {
        assertEquals(List.of(problem), problems(toml + "\n[[volume]]\nname = 7\n"), "nothing else is reported");
    }

    @Test
    void theStepsLeadFromTheOldestSchemaToTheCurrentOneAndStampTheVersion() throws Exception {
        assertEquals(ConfigSchema.CURRENT - ConfigSchema.OLDEST, ConfigSchema.STEPS.size());
        for (int i = 0; i < ConfigSchema.STEPS.size(); i++) {
            assertEquals(ConfigSchema.OLDEST + i, ConfigSchema.STEPS.get(i).from());
            assertFalse(ConfigSchema.STEPS.get(i).change().isBlank());
        }
        JsonNode v1 = new TomlMapper().readTree("[server]\nio-threads = 4\n");
        ConfigSchema.Migration m = ConfigSchema.migrate(v1);
        assertEquals(1, m.from());
        assertEquals(List.of(), m.problems());
        assertEquals(2, m.tree().get("version").intValue());
        assertEquals(4, m.tree().get("server").get("io-threads").intValue());
        assertEquals(null, v1.get("version"), "the parsed tree is left as it was");
        assertEquals(2, ConfigSchema.migrate(new TomlMapper().readTree("version = 2")).from());
    }
}
