package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
        assertEquals(List.of("volume[0].sise: unknown key; known keys: " + VOLUME_KEYS + " (line 4)"), p);
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
    void theAdminSectionHasDefaultsAndItsListenIsChecked() throws Exception {
        AdminSection defaults = ConfigFiles.parse("", "test").admin();
        assertEquals("127.0.0.1:3261", defaults.listenOrDefault());
        assertTrue(defaults.defaultListen());
        assertEquals(false, defaults.metricsPublic());
        AdminSection set = ConfigFiles.parse("[admin]\nlisten = \"[::1]:9443\"\nmetrics-public = true", "test").admin();
        assertEquals("[::1]:9443", set.listenOrDefault());
        assertEquals(false, set.defaultListen());
        assertTrue(set.metricsPublic());
        assertEquals(null, ConfigFiles.parse("[admin]\nlisten = \"off\"", "test").admin().listenOrDefault());
        List<String> p = problems("[admin]\nlisten = \"somewhere\"");
        assertTrue(p.getFirst().startsWith("admin.listen: ") && p.getFirst().contains("\"off\""), p.getFirst());
        assertTrue(problems("[admin]\nlisten-on = \"x\"").getFirst().startsWith("admin.listen-on: unknown key"),
                problems("[admin]\nlisten-on = \"x\"").toString());
    }

    static final String VOLUME_KEYS = "block-size, discard-passdown, hydration, metadata, name, "
            + "overwrite-destination, path, read-only, region-size, size, snapshots, source, type";

    @Test
    void everyProblemOfAFileIsReportedAtOnceInOurWordsWithItsLine() {
        List<String> p = problems("""
                [server]
                io-threads = "8"
                listen = "127.0.0.1:3260"

                [[volume]]
                name = "a"
                path = 12
                size = true
                block-size = 1000
                read-only = "yes"

                [[volume]]
                name = "c"
                type = "clone"
                source = "/g.img"
                path = "/c.img"
                hydration = { in-flight = "four", batch-size = 4.5, rate = 1.5, retry-max = 2.5 }
                colour = "blue"
                """);
        assertEquals(List.of(
                "server.io-threads: expected a whole number, got \"8\" (line 2)",
                "server.listen: expected a list [ ... ], got \"127.0.0.1:3260\" (line 3)",
                "volume[0].path: expected text, got 12 (line 7)",
                "volume[0].size: expected a size such as 512, \"64K\" or \"1.5G\", got true (line 8)",
                "volume[0].block-size: 1000 (512 or 4096) (line 9)",
                "volume[0].read-only: expected true or false, got \"yes\" (line 10)",
                "volume[1].hydration.in-flight: expected a whole number, got \"four\" (line 17)",
                "volume[1].hydration.batch-size: expected a whole number, got 4.5 (line 17)",
                "volume[1].hydration.rate: 1.5 is not a whole number of bytes (use e.g. 512, 64K, 1.5G, 10G) (line 17)",
                "volume[1].hydration.retry-max: 2.5 is not a whole number of seconds (use e.g. 500ms, 15s, 2m;"
                        + " here \"2500ms\") (line 17)",
                "volume[1].colour: unknown key; known keys: " + VOLUME_KEYS + " (line 18)"), p);
    }

    @Test
    void aValueThatCannotBeReadIsNotAlsoReportedMissing() {
        assertEquals(List.of("volume[0].path: expected text, got a list (line 3)"),
                problems("[[volume]]\nname = \"a\"\npath = [1, 2]\n"));
        // a bad element keeps the positions of the others
        assertEquals(List.of("server.listen[1]: expected text, got 3260 (line 1)",
                        "server.listen[2]: not an IP address: \"localhost\" (line 1)"),
                problems("server.listen = [\"127.0.0.1:3260\", 3260, \"localhost\"]"));
    }

    @Test
    void fractionalSizesAreRefusedNotTruncated() {
        String volume = "[[volume]]\nname = \"a\"\npath = \"/x\"\n";
        assertEquals(List.of("volume[0].size: 1.5 is not a whole number of bytes (use e.g. 512, 64K, 1.5G, 10G)"
                + " (line 4)"),
                problems(volume + "size = 1.5\n"));
        assertEquals(List.of("volume[0].size: \"1.3K\" is 1331.2 bytes, not a whole number of bytes (use e.g. 512, "
                + "64K, 1.5G, 10G) (line 4)"), problems(volume + "size = \"1.3K\"\n"));
        assertEquals(List.of("server.nop-interval: 1.5 is not a whole number of seconds (use e.g. 500ms, 15s, 2m; "
                + "here \"1500ms\") (line 2)"), problems("[server]\nnop-interval = 1.5\n"));
        assertEquals(List.of("iscsi.first-burst-length: 1.5 is not a whole number of bytes (use e.g. 512, 64K, 1.5G,"
                + " 10G) (line 1)"), problems("iscsi.first-burst-length = 1.5"));
    }

    @Test
    void wholeSizesInEveryFormAreAccepted() throws Exception {
        String volume = "[[volume]]\nname = \"a\"\npath = \"/x\"\n";
        assertEquals(1536 * 1024, ConfigFiles.parse(volume + "size = \"1.5M\"", "t").volume("a").size().bytes());
        assertEquals(1 << 20, ConfigFiles.parse(volume + "size = 1048576", "t").volume("a").size().bytes());
        assertEquals(4096, ConfigFiles.parse(volume + "size = 4096.0", "t").volume("a").size().bytes());
        assertEquals(2, ConfigFiles.parse("[server]\nlogin-timeout = 2", "t").server().loginTimeout().duration()
                .toSeconds());
    }

    @Test
    void unknownTopLevelKeysAndTablesOfTheWrongKind() {
        assertEquals(List.of("volumes: unknown key; known keys: admin, discovery, iscsi, server, target, version, volume (line 1)"),
                problems("[[volumes]]\nname = \"a\""));
        assertEquals(List.of("server: expected a table, got \"fast\" (line 1)"), problems("server = \"fast\""));
        assertEquals(List.of("volume[0].type: unknown volume type \"tape\" (file, clone) (line 3)"),
                problems("[[volume]]\nname=\"a\"\ntype=\"tape\"\npath=\"/x\""));
        assertEquals(List.of("iscsi.header-digest: unknown digest policy \"maybe\" (off, allowed, required) (line 2)"),
                problems("[iscsi]\nheader-digest = \"maybe\""));
        assertEquals(List.of("server.io-threads: 99999999999 is too large (at most 2147483647) (line 1)"),
                problems("server.io-threads = 99999999999"));
    }

    @Test
    void noMessageShowsTheParsersInternals() {
        List<String> p = problems("""
                [server]
                io-threads = { a = 1 }
                login-timeout = [1]
                [iscsi]
                initial-r2t = 1
                command-window = "lots"
                [[target]]
                iqn = 7
                lun = { lun = 0 }
                """);
        assertEquals(6, p.size(), String.join("\n", p));
        for (String problem : p) {
            assertFalse(problem.contains("`") || problem.contains("java.") || problem.contains("Cannot deserialize")
                    || problem.contains("Jackson"), problem);
        }
    }

    @Test
    void aFileVolumeRefusesCloneKeys() {
        assertEquals(List.of("volume[0].discard-passdown: only clone volumes have one (line 4)",
                        "volume[0].overwrite-destination: only clone volumes have one (line 5)"),
                problems("[[volume]]\nname = \"a\"\npath = \"/x\"\ndiscard-passdown = false\n"
                        + "overwrite-destination = true\n"));
    }

    @Test
    void overwriteDestinationIsAClonesChoiceAndOffByDefault() throws Exception {
        String clone = "[[volume]]\nname = \"c\"\ntype = \"clone\"\nsource = \"/g.img\"\npath = \"/c.img\"\n";
        assertFalse(ConfigFiles.parse(clone, "t").volume("c").overwriteDestination());
        assertTrue(ConfigFiles.parse(clone + "overwrite-destination = true", "t").volume("c").overwriteDestination());
        assertEquals(List.of("volume[0].overwrite-destination: expected true or false, got \"yes\" (line 6)"),
                problems(clone + "overwrite-destination = \"yes\""));
    }

    @Test
    void aCheckAgainstTheMachineRunsWithTheRestAndSkipsEntriesWithProblems() throws Exception {
        String two = "[[volume]]\nname = \"a\"\npath = \"/x\"\nblock-size = 1000\n"
                + "[[volume]]\nname = \"b\"\npath = \"/y\"\n";
        ConfigCheck check = c -> List.of("volume[0].path: checked", "volume[1].path: /y is gone");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigFiles.parse(two, "t", check));
        assertEquals(List.of("volume[0].block-size: 1000 (512 or 4096) (line 4)",
                "volume[1].path: /y is gone (line 7)"), e.problems());
        ConfigCheck quiet = c -> List.of();
        assertEquals(2, ConfigFiles.parse(two.replace("1000", "4096"), "t", quiet).volumes().size());
    }

    @Test
    void syntaxErrorsGiveTheLine() {
        List<String> p = problems("[server]\nlisten = [\"a\"\n\n[iscsi]\n");
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.getFirst().startsWith("not valid TOML: "), p.getFirst());
        assertTrue(p.getFirst().endsWith("(line 4)"), p.getFirst());
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
        assertEquals(List.of("target[1].lun[0].volume: \"a\" is already exported by another target, as target[0].lun[0]"
                + " (a volume belongs to one target) (line 9)"), p);
    }

    @Test
    void aVolumeMayBeInSeveralMapsOfOneTarget() throws Exception {
        ServerConfig c = ConfigFiles.parse("""
                [[volume]]
                name = "a"
                path = "/x"
                [[target]]
                iqn = "iqn.2026-11.com.example:t1"
                lun = [ { lun = 0, volume = "a" } ]
                [[target.initiator]]
                name = "iqn.1993-08.org.debian:01:host2"
                lun = [ { lun = 5, volume = "a" } ]
                """, "t");
        TargetConfig t = c.target("iqn.2026-11.com.example:t1");
        assertEquals(List.of(new LunConfig(5, "a")), t.initiator("iqn.1993-08.org.debian:01:host2").luns());
        assertEquals(List.of(new LunConfig(0, "a")), t.luns());
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
    void aSavedFileStartsWithTheSchemaVersion() throws Exception {
        Path file = dir.resolve("clonetarget.toml");
        ConfigFiles.save(file, ConfigFiles.parse(FULL, "test"));
        assertTrue(Files.readString(file).startsWith("version = 2\n"), Files.readString(file));
    }

    /** The file's bytes and the directory's entries, to show that a refused save changed nothing. */
    private String state(Path file) throws IOException {
        try (var s = Files.list(file.getParent())) {
            return Files.readString(file) + "\n--\n" + s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aConfigurationThatDoesNotValidateIsNotSaved() throws Exception {
        Path file = dir.resolve("clonetarget.toml");
        ConfigFiles.save(file, ConfigFiles.parse(FULL, "test"));
        String before = state(file);
        ServerConfig invalid = ConfigFiles.parse(FULL, "test").withServer(ServerSection.defaults()
                .withListen(List.of("localhost:3260")));
        IOException e = assertThrows(IOException.class, () -> ConfigFiles.save(file, invalid));
        assertEquals("not saving " + file + ": the configuration is not valid: server.listen[0]: not an IP address:"
                + " \"localhost\"", e.getMessage());
        assertEquals(before, state(file));
    }

    @Test
    void aSaveWhoseTextWouldNotReadBackEqualLeavesTheOldFileUntouched() throws Exception {
        Path file = dir.resolve("clonetarget.toml");
        ConfigFiles.save(file, ConfigFiles.parse(FULL, "test"));
        String before = state(file);
        // valid, but finer than the text form (milliseconds): written, it would come back as 1500ms
        ServerConfig c = ConfigFiles.parse(FULL, "test");
        ServerSection s = c.server();
        ServerConfig fine = c.withServer(new ServerSection(s.listen(), s.stateDir(), s.ioThreads(), s.loginTimeout(),
                new Interval(java.time.Duration.ofNanos(1_500_000_001)), s.nopTimeout(), s.limits()));
        assertEquals(List.of(), ConfigValidator.validate(fine));
        IOException e = assertThrows(IOException.class, () -> ConfigFiles.save(file, fine));
        assertEquals("not saving " + file + ": the text to be written reads back different: server.nop-interval:"
                + " would read back as PT1.5S, not PT1.500000001S", e.getMessage());
        assertEquals(before, state(file));
        // a string Java holds but UTF-8 cannot: a lone surrogate
        ServerConfig broken = c.withInventory(c.volumes(), List.of(c.targets().getFirst().withChap(
                new ChapConfig("host1", "twelve-chars-\uD800", null, null, null, null))));
        assertTrue(assertThrows(IOException.class, () -> ConfigFiles.save(file, broken)).getMessage()
                .contains("not valid Unicode"));
        assertEquals(before, state(file));
    }

    @Test
    void aSaveKeepsTheFilesPermissionsAndANewFileIsTheOwnersOnly() throws Exception {
        Path file = dir.resolve("clonetarget.toml");
        ConfigFiles.save(file, ConfigFiles.parse(FULL, "test"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
                "it may hold CHAP secrets");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        ConfigFiles.save(file, ConfigFiles.parse("", "empty"));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void aSaveRemovesWhatEarlierSavesOfTheSameFileLeftBehind() throws Exception {
        Path file = dir.resolve("clonetarget.toml");
        List<String> stale = List.of(".clonetarget.toml.0123456789abcdef.tmp", ".clonetarget.toml.8814739937.tmp");
        List<String> others = List.of(".clonetarget.toml.x.0123456789abcdef.tmp", ".other.toml.0123456789abcdef.tmp",
                "clonetarget.toml.0123456789abcdef.tmp", ".clonetarget.toml.0123456789ABCDEF.tmp");
        for (String name : stale) {
            Files.writeString(dir.resolve(name), "version = 2\n[server");
        }
        for (String name : others) {
            Files.writeString(dir.resolve(name), "not ours");
        }
        ConfigFiles.save(file, ConfigFiles.parse(FULL, "test"));
        try (var s = Files.list(dir)) {
            List<String> left = s.map(p -> p.getFileName().toString()).sorted().toList();
            List<String> expected = new java.util.ArrayList<>(others);
            expected.add("clonetarget.toml");
            assertEquals(expected.stream().sorted().toList(), left);
        }
    }

    @Test
    void readingAMissingFileIsAnIoError() {
        assertThrows(IOException.class, () -> ConfigFiles.read(dir.resolve("missing.toml")));
    }
}
