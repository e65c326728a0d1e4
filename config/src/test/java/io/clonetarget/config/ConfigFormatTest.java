package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** ConfigFiles.format: every section and key survives format and parse, in text a person can read. */
class ConfigFormatTest {
    /** Every section and every key of every record, with values other than the defaults. */
    static final String EVERYTHING = """
            version = 2

            [server]
            listen = ["0.0.0.0:3260", "[::]:3260"]
            state-dir = "/var/lib/clonetarget/state"
            io-threads = 8
            login-timeout = "20s"
            nop-interval = "10s"
            nop-timeout = "25s"
            space-warning = "10G"
            task-wait = "45s"

            [server.limits]
            max-connections = 512
            max-pending-logins = 64
            max-connections-per-address = 32
            send-timeout = "45s"
            session-data = "32M"
            server-data = "512M"

            [iscsi]
            max-recv-data-segment-length = "128K"
            first-burst-length = "64K"
            max-burst-length = "1M"
            max-outstanding-r2t = 4
            initial-r2t = true
            immediate-data = false
            header-digest = "required"
            data-digest = "off"
            command-window = 128
            discovery-header-digest = "off"
            discovery-data-digest = "required"

            [discovery]
            user = "discover"
            secret-file = "/etc/clonetarget/discovery.secret"
            mutual-user = "target"
            mutual-secret-file = "/etc/clonetarget/discovery-mutual.secret"

            [admin]
            listen = "[::1]:9443"
            metrics-public = true

            [[volume]]
            name = "disk1"
            type = "file"
            path = "/var/lib/clonetarget/disk1.img"
            size = "10G"
            block-size = 4096
            read-only = true

            [[volume]]
            name = "vm1"
            type = "clone"
            path = "/var/lib/clonetarget/vm1.img"
            block-size = 512
            read-only = false
            source = "https://images.example.com/debian-13.img"
            metadata = "/var/lib/clonetarget/meta/vm1.meta"
            region-size = "256K"
            discard-passdown = false
            overwrite-destination = true
            hydration = { in-flight = 8, batch-size = 4, rate = "100M", start-paused = true, hydrate-on-read = true, \
            retry-min = "500ms", retry-max = "2m" }

            [[volume]]
            name = "vm2"
            type = "clone"
            source = "/srv/images/debian-13.img"
            path = "/var/lib/clonetarget/vm2.img"
            snapshots = { limit = "20G", chunk-size = "128K", low-space-percent = 5 }

            [[target]]
            iqn = "iqn.2026-11.com.example:lab"
            alias = "lab \\"disks\\" \\\\ tab\\t é ✓ \\u0001"
            allowed-initiators = ["iqn.1993-08.org.debian:01:host1", "iqn.1991-05.com.microsoft:win1", \
            "iqn.1993-08.org.debian:01:host3"]
            allowed-networks = ["192.0.2.0/24", "fd00::/8", "203.0.113.7"]
            chap = { user = "host1", secret = "twelve-chars-x", mutual-user = "lab", mutual-secret = "another-twelve" }
            lun = [ { lun = 0, volume = "disk1" }, { lun = 1, volume = "vm1" } ]

            [[target.initiator]]
            name = "iqn.1991-05.com.microsoft:win1"
            lun = [ { lun = 0, volume = "vm1" }, { lun = 7, volume = "disk1" } ]

            [[target.initiator]]
            name = "iqn.1993-08.org.debian:01:host3"
            lun = []

            [[target]]
            iqn = "iqn.2026-11.com.example:vm2"
            chap = { user = "host2", secret-file = "/etc/clonetarget/host2.secret", mutual-user = "vm2", \
            mutual-secret-file = "/etc/clonetarget/vm2-mutual.secret" }
            lun = [ { lun = 3, volume = "vm2" }, { lun = 4, volume = "vm2@nightly", writable = true } ]
            """;

    @Test
    void everySectionAndKeyFormatsAndParsesBackEqual() throws Exception {
        ServerConfig c = ConfigFiles.parse(EVERYTHING, "everything");
        String text = ConfigFiles.format(c);
        assertEquals(c, ConfigFiles.parse(text, "formatted"), text);
        assertEquals(text, ConfigFiles.format(ConfigFiles.parse(text, "formatted")), "formatting is stable");
        assertEquals("lab \"disks\" \\ tab\t é ✓ \u0001", c.targets().getFirst().alias());
    }

    @Test
    void theTestFileUsesEveryKeyOfEveryRecord() throws Exception {
        // so that the round trip above cannot miss a key: each record's keys, as the binder knows them,
        // all appear somewhere in EVERYTHING
        Map<Class<?>, Set<String>> used = new LinkedHashMap<>();
        keysUsed(new TomlMapper().readTree(EVERYTHING), ServerConfig.class, used);
        assertEquals(Set.of(ServerConfig.class, ServerSection.class, LimitsSection.class, IscsiSection.class,
                ChapConfig.class, AdminSection.class, VolumeConfig.class, HydrationConfig.class, SnapshotsConfig.class, TargetConfig.class,
                LunConfig.class, InitiatorConfig.class), used.keySet());
        for (Map.Entry<Class<?>, Set<String>> e : used.entrySet()) {
            Set<String> all = Arrays.stream(e.getKey().getRecordComponents()).map(ConfigBinder::key)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(all, new TreeSet<>(e.getValue()), e.getKey().getSimpleName() + " keys not in EVERYTHING");
        }
    }

    private static void keysUsed(JsonNode node, Class<?> type, Map<Class<?>, Set<String>> used) {
        Set<String> keys = used.computeIfAbsent(type, t -> new TreeSet<>());
        for (RecordComponent c : type.getRecordComponents()) {
            JsonNode child = node.get(ConfigBinder.key(c));
            if (child == null) {
                continue;
            }
            keys.add(ConfigBinder.key(c));
            if (c.getType().isRecord() && child.isObject()) { // not ByteSize, Interval: values written as text
                keysUsed(child, c.getType(), used);
            } else if (c.getType() == List.class
                    && ((ParameterizedType) c.getGenericType()).getActualTypeArguments()[0] instanceof Class<?> e
                    && e.isRecord()) {
                for (JsonNode element : child) {
                    keysUsed(element, e, used);
                }
            }
        }
    }

    @Test
    void initiatorMapsAreWrittenAsTablesAPersonCanRead() throws Exception {
        String text = ConfigFiles.format(ConfigFiles.parse(EVERYTHING, "everything"));
        assertTrue(text.startsWith("version = 2\n\n[server]\n"), text);
        assertTrue(text.contains("""

                [[target]]
                iqn = "iqn.2026-11.com.example:lab"
                alias = "lab \\"disks\\" \\\\ tab\\t é ✓ \\u0001"
                allowed-initiators = ["iqn.1993-08.org.debian:01:host1", "iqn.1991-05.com.microsoft:win1", \
                "iqn.1993-08.org.debian:01:host3"]
                allowed-networks = ["192.0.2.0/24", "fd00::/8", "203.0.113.7"]

                [target.chap]
                user = "host1"
                secret = "twelve-chars-x"
                mutual-user = "lab"
                mutual-secret = "another-twelve"

                [[target.lun]]
                lun = 0
                volume = "disk1"

                [[target.lun]]
                lun = 1
                volume = "vm1"

                [[target.initiator]]
                name = "iqn.1991-05.com.microsoft:win1"

                [[target.initiator.lun]]
                lun = 0
                volume = "vm1"

                [[target.initiator.lun]]
                lun = 7
                volume = "disk1"

                [[target.initiator]]
                name = "iqn.1993-08.org.debian:01:host3"
                lun = []

                [[target]]
                iqn = "iqn.2026-11.com.example:vm2"
                """), text);
        assertTrue(text.contains("""

                [volume.hydration]
                in-flight = 8
                batch-size = 4
                rate = "100M"
                start-paused = true
                hydrate-on-read = true
                retry-min = "500ms"
                retry-max = "2m"
                """), text);
    }

    @Test
    void problemsInAFormattedFileGetTheirLines() throws Exception {
        // the file the server saved is the one an operator edits next: its lines must be found too
        String text = ConfigFiles.format(ConfigFiles.parse(EVERYTHING, "everything"))
                .replace("lun = 7\n", "lun = 99999\n");
        int line = text.substring(0, text.indexOf("lun = 99999")).split("\n", -1).length;
        ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> ConfigFiles.parse(text, "edited"));
        assertEquals(List.of("target[0].initiator[0].lun[1].lun: 99999 outside 0..16383 (line " + line + ")"),
                e.problems());
    }
}
