package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigFilesTest {
    @TempDir
    Path dir;

    static final String FULL = """
            [server]
            listen = ["127.0.0.1:3260", "[::1]:3260"]
            io-threads = 8
            nop-interval = "10s"

            [iscsi]
            max-recv-data-segment-length = "256K"
            first-burst-length = "128K"

            [[volume]]
            name = "disk1"
            path = "/var/lib/clonetarget/disk1.img"
            size = "10G"

            [[volume]]
            name = "vm1"
            type = "clone"
            source = "http://127.0.0.1/golden.img"
            path = "/var/lib/clonetarget/vm1.img"
            region-size = "256K"
            hydration = { in-flight = 8, batch-size = 4, rate = "100M", hydrate-on-read = true }

            [[target]]
            iqn = "iqn.2026-11.com.example:disk1"
            allowed-initiators = ["iqn.1993-08.org.debian:01:host1"]
            chap = { user = "host1", secret = "twelve-chars-x" }
            lun = [ { lun = 0, volume = "disk1" }, { lun = 1, volume = "vm1" } ]
            """;

    @Test
    void parsesAFullConfiguration() throws Exception {
        ServerConfig c = ConfigFiles.parse(FULL, "test");
        assertEquals(List.of("127.0.0.1:3260", "[::1]:3260"), c.server().listen());
        assertEquals(8, c.server().ioThreads());
        assertEquals(10, c.server().nopInterval().duration().toSeconds());
        assertEquals(30, c.server().nopTimeout().duration().toSeconds(), "defaults fill the rest");
        assertEquals(262_144, c.iscsi().maxRecvDataSegmentLength().bytes());
        assertEquals(131_072, c.iscsi().firstBurstLength().bytes());
        assertEquals(16_776_192, c.iscsi().maxBurstLength().bytes());
        VolumeConfig disk = c.volume("disk1");
        assertEquals(VolumeType.FILE, disk.type());
        assertEquals(10L << 30, disk.size().bytes());
        VolumeConfig vm = c.volume("vm1");
        assertEquals(VolumeType.CLONE, vm.type());
        assertEquals(256 * 1024, vm.regionSize().bytes());
        assertEquals(8, vm.hydration().inFlight());
        assertEquals(100L << 20, vm.hydration().rate().bytes());
        assertTrue(vm.hydration().hydrateOnRead());
        assertEquals("/var/lib/clonetarget/vm1.img.meta", vm.metadata());
        assertEquals(2, c.targets().getFirst().luns().size());
        assertEquals("host1", c.targets().getFirst().chap().user());
    }

    @Test
    void emptyFileMeansDefaults() throws Exception {
        ServerConfig c = ConfigFiles.parse("", "empty");
        assertEquals(List.of("127.0.0.1:3260"), c.server().listen());
        assertTrue(c.volumes().isEmpty());
    }

    private static List<String> problems(String toml) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigFiles.parse(toml, "t"));
        return e.problems();
    }

    @Test
    void unknownKeysAreNamedWithTheirPath() {
        List<String> p = problems("""
                [[volume]]
                name = "a"
                path = "/x"
                sise = "1G"
                """);
        assertEquals(1, p.size());
        assertTrue(p.getFirst().startsWith("volume[0].sise: unknown key"), p.getFirst());
        assertTrue(p.getFirst().contains("size"), "lists the known keys: " + p.getFirst());
    }

    @Test
    void badValuesNameTheField() {
        List<String> p = problems("""
                [[volume]]
                name = "a"
                path = "/x"
                size = "12 parsecs"
                """);
        assertTrue(p.getFirst().startsWith("volume[0].size: not a size"), p.getFirst());
        assertTrue(problems("[server]\nnop-interval = \"5 fortnights\"").getFirst()
                .startsWith("server.nop-interval: "));
        assertTrue(problems("[[volume]]\nname=\"a\"\npath=\"/x\"\ntype=\"tape\"").getFirst()
                .contains("unknown volume type \"tape\""));
    }

    @Test
    void syntaxErrorsGiveTheLine() {
        List<String> p = problems("[server]\nlisten = [\"a\"\n\n[iscsi]\n");
        assertTrue(p.getFirst().contains("line"), p.getFirst());
    }

    @Test
    void validationReportsEveryProblemWithItsField() {
        List<String> p = problems("""
                [server]
                listen = ["localhost:3260", "127.0.0.1:99999"]
                io-threads = 0
                [iscsi]
                first-burst-length = "32M"
                [[volume]]
                name = "a"
                path = "/x"
                block-size = 1000
                [[volume]]
                name = "c"
                type = "clone"
                path = "/y"
                region-size = "3K"
                [[target]]
                iqn = "not-an-iqn"
                lun = [ { lun = 0, volume = "missing" }, { lun = 0, volume = "a" } ]
                """);
        String all = String.join("\n", p);
        assertTrue(all.contains("server.listen[0]: not an IP address: \"localhost\""), all);
        assertTrue(all.contains("server.listen[1]: port 99999 outside 0..65535"), all);
        assertTrue(all.contains("server.io-threads: 0 outside 1..1024"), all);
        assertTrue(all.contains("iscsi.first-burst-length: 33554432 outside 512..16777215"), all);
        assertTrue(all.contains("volume[0].block-size: 1000 (512 or 4096)"), all);
        assertTrue(all.contains("volume[1].source: missing"), all);
        assertTrue(all.contains("volume[1].region-size: 3K is not a power of two"), all);
        assertTrue(all.contains("target[0].iqn: \"not-an-iqn\" is not an iSCSI name"), all);
        assertTrue(all.contains("target[0].lun[0].volume: no volume named \"missing\""), all);
        assertTrue(all.contains("target[0].lun[1].lun: LUN 0 appears twice"), all);
    }

    @Test
    void chapSecretsAreChecked() {
        String base = "[[target]]\niqn = \"iqn.2026-11.com.example:t\"\n";
        assertTrue(problems(base + "chap = { user = \"u\", secret = \"short\" }").getFirst()
                .contains("target[0].chap.secret: 5 characters; CHAP secrets need 12 to 255"));
        assertTrue(problems(base + "chap = { user = \"u\" }").getFirst()
                .contains("give exactly one of secret and secret-file"));
        assertTrue(problems(base + "chap = { user = \"u\", secret = \"twelve-chars\", mutual-user = \"t\","
                + " mutual-secret = \"twelve-chars\" }").getFirst().contains("must differ from secret"));
    }

    @Test
    void aVolumeCannotBeExportedTwice() {
        List<String> p = problems("""
                [[volume]]
                name = "a"
                path = "/x"
                [[target]]
                iqn = "iqn.2026-11.com.example:t1"
                lun = [ { lun = 0, volume = "a" } ]
                [[target]]
                iqn = "iqn.2026-11.com.example:t2"
                lun = [ { lun = 0, volume = "a" } ]
                """);
        assertEquals(List.of("target[1].lun[0].volume: \"a\" is already exported as target[0].lun[0]"), p);
    }

    @Test
    void saveIsAtomicAndRoundTrips() throws Exception {
        ServerConfig c = ConfigFiles.parse(FULL, "test");
        Path file = dir.resolve("conf/clonetarget.toml");
        ConfigFiles.save(file, c);
        assertEquals(c, ConfigFiles.read(file));
        try (var s = Files.list(file.getParent())) {
            assertEquals(1, s.count(), "no temporary file left behind");
        }
        ConfigFiles.save(file, ConfigFiles.parse("", "empty"));
        assertTrue(ConfigFiles.read(file).volumes().isEmpty(), "replaced, not appended");
    }

    @Test
    void readingAMissingFileIsAnIoError() {
        assertThrows(IOException.class, () -> ConfigFiles.read(dir.resolve("missing.toml")));
    }
}
