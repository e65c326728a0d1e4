package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every rule of {@link ConfigValidator} has a failing example: a TOML snippet and the exact
 * problems it gets (with their lines), and nothing else.
 *
 * <p>How completeness was checked: ConfigValidator was read top to bottom and every place that
 * reports a problem was given a site name below, in the order of the source: each
 * {@code problems.add(...)} call and each call of its {@code range(...)} helper (60 sites; the
 * {@code problems.add} inside {@code range} itself is the helper, not a rule). A site that says
 * different things (missing or malformed, default map or initiator map, secret or mutual secret,
 * too short or too long) has an example of each. {@link #everyReportingSiteOfTheValidatorHasAnExample}
 * counts those calls in the source again, so a rule added without an example fails the build.
 * Rules shared by several sections (chap for discovery and targets, the LUN map rules for the
 * default map and every initiator map) are tried in each. One site cannot be reached from a file:
 * {@code version} after migration is always the current schema, so
 * {@link #aConfigurationMadeInCodeWithAnotherVersionIsRefused} tries it on a configuration made
 * in code.
 */
class ConfigValidatorTest {
    private static final String VOLUME_A = "[[volume]]\nname = \"a\"\npath = \"/a\"\n";
    /** Volumes a and b (lines 1 to 6) and a target (lines 7 and 8). */
    private static final String TARGET = VOLUME_A + "[[volume]]\nname = \"b\"\npath = \"/b\"\n"
            + "[[target]]\niqn = \"iqn.2026-11.com.example:t\"\n";
    /** A clone volume (lines 1 to 5). */
    private static final String CLONE = "[[volume]]\nname = \"c\"\ntype = \"clone\"\nsource = \"/g.img\"\npath = \"/c\"\n";
    /** A volume with snapshots (lines 1 to 4). */
    private static final String SNAPPED = "[[volume]]\nname = \"s\"\npath = \"/s\"\n[volume.snapshots]\n";
    private static final String HOST1 = "iqn.1993-08.org.debian:01:host1";
    private static final String HOST2 = "iqn.1993-08.org.debian:01:host2";
    private static final String NAME_FORMS = "(iqn.YYYY-MM.reversed.domain[:id], eui.<16 hex>, naa.<hex>)";

    /** The sites of ConfigValidator (see the class description) that the examples below reach from a file. */
    static Stream<Arguments> examples() {
        return Stream.of(
                // validate(): volumes
                example("volume-name-unique", VOLUME_A + "[[volume]]\nname = \"a\"\npath = \"/b\"\n",
                        "volume[1].name: \"a\" is already the name of volume[0] (line 5)"),
                // validate(): targets
                example("target-iqn", "[[target]]\nalias = \"x\"\n", "target[0].iqn: missing (line 1)"),
                example("target-iqn", "[[target]]\niqn = \"iqn.2026-13.com.example:t\"\n",
                        "target[0].iqn: \"iqn.2026-13.com.example:t\" is not an iSCSI name " + NAME_FORMS + " (line 2)"),
                example("target-iqn-unique", "[[target]]\niqn = \"eui.0123456789ABCDEF\"\n"
                                + "[[target]]\niqn = \"eui.0123456789ABCDEF\"\n",
                        "target[1].iqn: \"eui.0123456789ABCDEF\" appears twice (line 4)"),
                example("allowed-initiators", "[[target]]\niqn = \"iqn.2026-11.com.example:t\"\n"
                                + "allowed-initiators = [\"" + HOST1 + "\", \"host2\"]\n",
                        "target[0].allowed-initiators[1]: \"host2\" is not an iSCSI name (line 3)"),
                example("allowed-networks", TARGET + "allowed-networks = [\"192.0.2.1/24\"]\n",
                        "target[0].allowed-networks[0]: \"192.0.2.1/24\" has bits set past the /24 prefix; the network"
                                + " is 192.0.2.0/24 (line 9)"),
                example("allowed-networks", TARGET + "allowed-networks = [\"10.0.0.0/8\", \"db.example.com\"]\n",
                        "target[0].allowed-networks[1]: not a network: \"db.example.com\" (an IP address or a network"
                                + " such as 192.0.2.0/24 or fd00::/8; host names are not looked up) (line 9)"),
                example("allowed-networks", TARGET + "allowed-networks = [\"fd00::/200\"]\n",
                        "target[0].allowed-networks[0]: \"fd00::/200\": the prefix length must be a number from 0 to"
                                + " 128 for IPv6 (line 9)"),
                example("initiator-name", TARGET + "[[target.initiator]]\nlun = []\n",
                        "target[0].initiator[0].name: missing (the initiator's iSCSI name) (line 9)"),
                example("initiator-name", TARGET + "[[target.initiator]]\nname = \"host1\"\n",
                        "target[0].initiator[0].name: \"host1\" is not an iSCSI name " + NAME_FORMS + " (line 10)"),
                example("initiator-name-unique", TARGET + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n",
                        "target[0].initiator[1].name: \"" + HOST1 + "\" already has its map in target[0].initiator[0]"
                                + " (line 12)"),
                example("initiator-name-allowed", TARGET + "allowed-initiators = [\"" + HOST1 + "\"]\n"
                                + "[[target.initiator]]\nname = \"" + HOST2 + "\"\n",
                        "target[0].initiator[0].name: \"" + HOST2 + "\" is not in target[0].allowed-initiators, so it"
                                + " cannot log in to see this map (add it there, or remove this map) (line 11)"),
                // lunMap(): the default map and initiator maps
                example("lun-number", TARGET + "lun = [ { volume = \"a\" } ]\n", "target[0].lun[0].lun: missing (line 9)"),
                example("lun-number", TARGET + "lun = [ { lun = 16384, volume = \"a\" } ]\n",
                        "target[0].lun[0].lun: 16384 outside 0..16383 (line 9)"),
                example("lun-number", TARGET + "lun = [ { lun = -1, volume = \"a\" } ]\n",
                        "target[0].lun[0].lun: -1 outside 0..16383 (line 9)"),
                example("lun-number", TARGET + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "lun = [ { lun = 20000, volume = \"a\" } ]\n",
                        "target[0].initiator[0].lun[0].lun: 20000 outside 0..16383 (line 11)"),
                example("lun-number-unique", TARGET + "lun = [ { lun = 0, volume = \"a\" }, { lun = 0, volume = \"b\" } ]\n",
                        "target[0].lun[1].lun: LUN 0 appears twice in this map (line 9)"),
                example("lun-number-unique", TARGET + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "[[target.initiator.lun]]\nlun = 3\nvolume = \"a\"\n"
                                + "[[target.initiator.lun]]\nlun = 3\nvolume = \"b\"\n",
                        "target[0].initiator[0].lun[1].lun: LUN 3 appears twice in this map (line 15)"),
                example("lun-volume", TARGET + "lun = [ { lun = 0 } ]\n", "target[0].lun[0].volume: missing (line 9)"),
                example("lun-snapshot-of-volume-with-snapshots", TARGET + "lun = [ { lun = 0, volume = \"a@monday\" } ]\n",
                        "target[0].lun[0].volume: volume \"a\" has no snapshots (give it a [volume.snapshots] table) (line 9)"),
                example("lun-snapshot-name", SNAPPED + "[[target]]\niqn = \"iqn.2026-11.com.example:t\"\n"
                                + "lun = [ { lun = 0, volume = \"s@bad name\" } ]\n",
                        "target[0].lun[0].volume: \"bad name\" is not a snapshot name (letters, digits, '.', '_' and '-',"
                                + " up to 64) (line 7)"),
                example("lun-writable-snapshot-only", TARGET + "lun = [ { lun = 0, volume = \"a\", writable = true } ]\n",
                        "target[0].lun[0].writable: only a snapshot (VOLUME@SNAPSHOT) is mapped writable; a volume is"
                                + " writable unless read-only (line 9)"),
                example("clone-snapshot-source", "[[volume]]\nname = \"c\"\ntype = \"clone\"\nsource = \"snapshot:data\"\n"
                                + "path = \"/c\"\n",
                        "volume[0].source: \"snapshot:data\" is not snapshot:VOLUME@SNAPSHOT (line 4)"),
                example("snapshots-read-only", "[[volume]]\nname = \"s\"\npath = \"/s\"\nread-only = true\n"
                                + "[volume.snapshots]\n",
                        "volume[0].snapshots: a read-only volume never changes, so it has no snapshots (line 5)"),
                example("snapshots-chunk-size", SNAPPED + "chunk-size = \"48K\"\n",
                        "volume[0].snapshots.chunk-size: 48K is not a power of two from 16K to 1M (line 5)"),
                example("snapshots-limit", SNAPPED + "limit = \"8K\"\n",
                        "volume[0].snapshots.limit: 8K is smaller than one chunk (64K) (line 5)"),
                example("snapshots-low-space-percent", SNAPPED + "low-space-percent = 120\n",
                        "volume[0].snapshots.low-space-percent: 120 outside 0..100 (line 5)"),
                example("lun-volume", TARGET + "lun = [ { lun = 0, volume = \"x\" } ]\n",
                        "target[0].lun[0].volume: no volume named \"x\" (line 9)"),
                example("lun-volume", TARGET + "[[target.initiator]]\nname = \"" + HOST1 + "\"\nlun = []\n"
                                + "[[target.initiator]]\nname = \"" + HOST2 + "\"\nlun = [ { lun = 0, volume = \"x\" } ]\n",
                        "target[0].initiator[1].lun[0].volume: no volume named \"x\" (line 14)"),
                example("lun-volume-once-per-map", TARGET
                                + "lun = [ { lun = 0, volume = \"a\" }, { lun = 1, volume = \"a\" } ]\n",
                        "target[0].lun[1].volume: \"a\" is already in this map as target[0].lun[0] (line 9)"),
                example("lun-volume-once-per-map", TARGET + "lun = [ { lun = 0, volume = \"a\" } ]\n"
                                + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "lun = [ { lun = 0, volume = \"a\" }, { lun = 1, volume = \"a\" } ]\n",
                        "target[0].initiator[0].lun[1].volume: \"a\" is already in this map as"
                                + " target[0].initiator[0].lun[0] (line 12)"),
                example("lun-volume-one-target", TARGET + "lun = [ { lun = 0, volume = \"a\" } ]\n"
                                + "[[target]]\niqn = \"iqn.2026-11.com.example:u\"\nlun = [ { lun = 0, volume = \"a\" } ]\n",
                        "target[1].lun[0].volume: \"a\" is already exported by another target, as target[0].lun[0]"
                                + " (a volume belongs to one target) (line 12)"),
                example("lun-volume-one-target", TARGET + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "lun = [ { lun = 4, volume = \"b\" } ]\n"
                                + "[[target]]\niqn = \"iqn.2026-11.com.example:u\"\n"
                                + "[[target.initiator]]\nname = \"" + HOST1 + "\"\n"
                                + "lun = [ { lun = 0, volume = \"b\" } ]\n",
                        "target[1].initiator[0].lun[0].volume: \"b\" is already exported by another target, as"
                                + " target[0].initiator[0].lun[0] (a volume belongs to one target) (line 16)"),
                // admin()
                example("admin-listen", "[admin]\nlisten = \"somewhere\"\n",
                        "admin.listen: not an IP address: \"somewhere\" (or \"off\") (line 2)"),
                // server()
                example("server-listen", "[server]\nlisten = [\"127.0.0.1:3260\", \"127.0.0.1:99999\"]\n",
                        "server.listen[1]: port 99999 outside 0..65535 (line 2)"),
                example("io-threads", "[server]\nio-threads = 0\n", "server.io-threads: 0 outside 1..1024 (line 2)"),
                example("max-connections", "[server.limits]\nmax-connections = 0\n",
                        "server.limits.max-connections: 0 outside 1..1000000 (line 2)"),
                example("max-pending-logins", "[server.limits]\nmax-pending-logins = 1000001\n",
                        "server.limits.max-pending-logins: 1000001 outside 1..1000000 (line 2)"),
                example("max-connections-per-address", "[server.limits]\nmax-connections-per-address = 0\n",
                        "server.limits.max-connections-per-address: 0 outside 1..1000000 (line 2)"),
                example("send-timeout", "[server.limits]\nsend-timeout = \"0s\"\n",
                        "server.limits.send-timeout: must be more than 0s (line 2)"),
                example("session-data", "[server.limits]\nsession-data = \"512K\"\n",
                        "server.limits.session-data: 512K is less than the 1M a session needs (line 2)"),
                example("server-data", "[server.limits]\nserver-data = \"32M\"\n",
                        "server.limits.server-data: 32M is less than server.limits.session-data 64M (line 2)"),
                example("nop-timeout", "[server]\nnop-timeout = \"0s\"\n",
                        "server.nop-timeout: must be more than 0s when nop-interval is set (line 2)"),
                example("login-timeout", "[server]\nlogin-timeout = \"0s\"\n",
                        "server.login-timeout: must be more than 0s (line 2)"),
                example("task-wait", "[server]\ntask-wait = \"0s\"\n",
                        "server.task-wait: must be more than 0s (line 2)"),
                // iscsi()
                example("max-recv-data-segment-length", "[iscsi]\nmax-recv-data-segment-length = 256\n",
                        "iscsi.max-recv-data-segment-length: 256 outside 512..16777215 (line 2)"),
                example("first-burst-length", "[iscsi]\nfirst-burst-length = 511\n",
                        "iscsi.first-burst-length: 511 outside 512..16777215 (line 2)"),
                example("max-burst-length", "[iscsi]\nmax-burst-length = \"16M\"\n",
                        "iscsi.max-burst-length: 16777216 outside 512..16777215 (line 2)"),
                example("first-burst-within-max-burst", "[iscsi]\nfirst-burst-length = \"1M\"\nmax-burst-length = \"512K\"\n",
                        "iscsi.first-burst-length: 1M exceeds max-burst-length 512K (line 2)"),
                example("max-outstanding-r2t", "[iscsi]\nmax-outstanding-r2t = 0\n",
                        "iscsi.max-outstanding-r2t: 0 outside 1..65535 (line 2)"),
                example("command-window", "[iscsi]\ncommand-window = 65537\n",
                        "iscsi.command-window: 65537 outside 1..65536 (line 2)"),
                // chap() and secret(): [discovery] and target chap
                example("chap-user", "[discovery]\nsecret = \"twelve-chars-x\"\n", "discovery.user: missing (line 1)"),
                example("chap-user", TARGET + "chap = { user = \"\", secret = \"twelve-chars-x\" }\n",
                        "target[0].chap.user: missing (line 9)"),
                example("chap-mutual-user", TARGET + "chap = { user = \"u\", secret = \"twelve-chars-x\","
                                + " mutual-secret = \"other-twelve-chars\" }\n",
                        "target[0].chap.mutual-user: missing (mutual CHAP needs a user and a secret) (line 9)"),
                example("chap-mutual-secret-differs", "[discovery]\nuser = \"u\"\nsecret = \"twelve-chars-x\"\n"
                                + "mutual-user = \"t\"\nmutual-secret = \"twelve-chars-x\"\n",
                        "discovery.mutual-secret: must differ from secret (initiators refuse equal secrets) (line 5)"),
                example("chap-secret-exactly-one", "[discovery]\nuser = \"u\"\n",
                        "discovery.secret: give exactly one of secret and secret-file (line 1)"),
                example("chap-secret-exactly-one", TARGET + "chap = { user = \"u\", secret = \"twelve-chars-x\","
                                + " secret-file = \"/etc/clonetarget/t.secret\" }\n",
                        "target[0].chap.secret: give exactly one of secret and secret-file (line 9)"),
                example("chap-secret-exactly-one", TARGET + "chap = { user = \"u\", secret = \"twelve-chars-x\","
                                + " mutual-user = \"t\" }\n",
                        "target[0].chap.mutual-secret: give exactly one of mutual-secret and mutual-secret-file"
                                + " (line 9)"),
                example("chap-secret-length", TARGET + "chap = { user = \"u\", secret = \"short\" }\n",
                        "target[0].chap.secret: 5 characters; CHAP secrets need 12 to 255 (Windows accepts 12 to 16)"
                                + " (line 9)"),
                example("chap-secret-length", "[discovery]\nuser = \"u\"\nsecret = \"" + "s".repeat(256) + "\"\n",
                        "discovery.secret: 256 characters; CHAP secrets need 12 to 255 (Windows accepts 12 to 16)"
                                + " (line 3)"),
                example("chap-secret-length", "[discovery]\nuser = \"u\"\nsecret-file = \"/etc/d.secret\"\n"
                                + "mutual-user = \"t\"\nmutual-secret = \"eleven-char\"\n",
                        "discovery.mutual-secret: 11 characters; CHAP secrets need 12 to 255 (Windows accepts 12 to"
                                + " 16) (line 5)"),
                // volume(): every volume
                example("volume-name", "[[volume]]\npath = \"/a\"\n", "volume[0].name: missing (line 1)"),
                example("volume-name", "[[volume]]\nname = \"a b\"\npath = \"/a\"\n",
                        "volume[0].name: \"a b\" (letters, digits, '.', '_' and '-', up to 64) (line 2)"),
                example("volume-name", "[[volume]]\nname = \"" + "v".repeat(65) + "\"\npath = \"/a\"\n",
                        "volume[0].name: \"" + "v".repeat(65) + "\" (letters, digits, '.', '_' and '-', up to 64)"
                                + " (line 2)"),
                example("volume-path", "[[volume]]\nname = \"a\"\n", "volume[0].path: missing (line 1)"),
                example("volume-path", "[[volume]]\nname = \"a\"\npath = \"\"\n", "volume[0].path: missing (line 3)"),
                example("block-size", VOLUME_A + "block-size = 1000\n", "volume[0].block-size: 1000 (512 or 4096) (line 4)"),
                example("size", VOLUME_A + "size = 0\n",
                        "volume[0].size: 0 is not a positive multiple of the block size 512 (line 4)"),
                example("size", VOLUME_A + "block-size = 4096\nsize = \"6K\"\n",
                        "volume[0].size: 6K is not a positive multiple of the block size 4096 (line 5)"),
                // volume(): file volumes
                example("file-source-or-metadata", VOLUME_A + "source = \"/g.img\"\n",
                        "volume[0].source: only clone volumes have one (line 4)"),
                example("file-source-or-metadata", VOLUME_A + "metadata = \"/a.meta\"\n",
                        "volume[0].metadata: only clone volumes have one (line 4)"),
                example("file-discard-passdown", VOLUME_A + "discard-passdown = true\n",
                        "volume[0].discard-passdown: only clone volumes have one (line 4)"),
                example("file-overwrite-destination", VOLUME_A + "overwrite-destination = false\n",
                        "volume[0].overwrite-destination: only clone volumes have one (line 4)"),
                example("file-region-size-or-hydration", VOLUME_A + "region-size = \"64K\"\n",
                        "volume[0]: region-size and hydration apply to clone volumes only (line 1)"),
                example("file-region-size-or-hydration", VOLUME_A + "hydration = { rate = \"10M\" }\n",
                        "volume[0]: region-size and hydration apply to clone volumes only (line 1)"),
                // volume(): clone volumes
                example("clone-source", "[[volume]]\nname = \"c\"\ntype = \"clone\"\npath = \"/c\"\n",
                        "volume[0].source: missing (a file, block device or http(s) URL) (line 1)"),
                example("clone-size", CLONE + "size = \"1M\"\n", "volume[0].size: a clone has the size of its source (line 6)"),
                example("region-size", CLONE + "region-size = \"3K\"\n",
                        "volume[0].region-size: 3K is not a power of two from 4K to 1G (line 6)"),
                example("region-size", CLONE + "region-size = \"2K\"\n",
                        "volume[0].region-size: 2K is not a power of two from 4K to 1G (line 6)"),
                example("region-size", CLONE + "region-size = \"2G\"\n",
                        "volume[0].region-size: 2G is not a power of two from 4K to 1G (line 6)"),
                // only with a block size that is itself refused: region sizes start at 4K, the largest block size
                example("region-size-not-below-block-size", CLONE + "block-size = 8192\nregion-size = \"4K\"\n",
                        "volume[0].block-size: 8192 (512 or 4096) (line 6)",
                        "volume[0].region-size: smaller than the block size (line 7)"),
                example("hydration-in-flight", CLONE + "hydration = { in-flight = 0 }\n",
                        "volume[0].hydration.in-flight: 0 outside 1..1024 (line 6)"),
                example("hydration-batch-size", CLONE + "hydration = { batch-size = 4097 }\n",
                        "volume[0].hydration.batch-size: 4097 outside 1..4096 (line 6)"),
                example("hydration-retry-order", CLONE + "hydration = { retry-min = \"1m\", retry-max = \"30s\" }\n",
                        "volume[0].hydration.retry-min: longer than retry-max (line 6)"),
                example("hydration-retry-min", CLONE + "hydration = { retry-min = \"0s\" }\n",
                        "volume[0].hydration.retry-min: must be more than 0s (line 6)"));
    }

    /** Sites tried outside {@link #examples}: see the class description. */
    private static final Set<String> SITES_TRIED_IN_CODE = Set.of("version");

    private static Arguments example(String site, String toml, String... problems) {
        return Arguments.of(site, toml, List.of(problems));
    }

    @ParameterizedTest(name = "{0}: {2}")
    @MethodSource("examples")
    void everyRuleHasAFailingExample(String site, String toml, List<String> problems) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigFiles.parse(toml, "t"), toml);
        assertEquals(problems, e.problems(), toml);
    }

    @Test
    void aConfigurationMadeInCodeWithAnotherVersionIsRefused() {
        ServerConfig old = new ServerConfig(1, null, null, null, null, null, null);
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigFiles.validate(old, "code", ConfigCheck.NONE));
        assertEquals(List.of("version: 1 is not the current schema 2 (a file of an older schema is migrated when read;"
                + " a configuration made in code has the current one)"), e.problems());
        assertEquals(2, new ServerConfig(null, null, null, null, null).version(), "the constructors take the current one");
    }

    @Test
    void everyReportingSiteOfTheValidatorHasAnExample() throws Exception {
        Path source = Path.of("src/main/java/io/clonetarget/config/ConfigValidator.java");
        assertTrue(Files.isRegularFile(source), "run from the config module: " + source.toAbsolutePath());
        String text = Files.readString(source);
        // the helper's own report is not a rule; its calls are
        String helper = "private static void range(";
        assertTrue(text.contains(helper), "ConfigValidator has no range helper any more: update this test");
        String rules = text.substring(0, text.indexOf(helper));
        int sites = count(rules, "problems\\.add\\(") + count(rules, "(?<![\\w.])range\\(");
        Set<String> named = examples().map(a -> (String) a.get()[0]).collect(Collectors.toCollection(TreeSet::new));
        named.addAll(SITES_TRIED_IN_CODE);
        assertEquals(sites, named.size(), "ConfigValidator reports problems at " + sites + " places, the examples name "
                + named.size() + " sites: give a new rule a failing example (and a site name) in examples(): " + named);
    }

    private static int count(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    @Test
    void theSameNumberOrVolumeInDifferentMapsOfOneTargetIsFine() throws Exception {
        ServerConfig c = ConfigFiles.parse(TARGET + "allowed-initiators = [\"" + HOST1 + "\", \"" + HOST2 + "\"]\n"
                + "allowed-networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"198.51.100.7\"]\n"
                + "lun = [ { lun = 0, volume = \"a\" }, { lun = 1, volume = \"b\" } ]\n"
                + "[[target.initiator]]\nname = \"" + HOST1 + "\"\nlun = [ { lun = 0, volume = \"b\" } ]\n"
                + "[[target.initiator]]\nname = \"" + HOST2 + "\"\nlun = [ { lun = 0, volume = \"a\" },"
                + " { lun = 1, volume = \"b\" } ]\n", "t");
        assertEquals(2, c.targets().getFirst().initiators().size());
        // without allowed-initiators every name may log in, so any name may have a map
        ConfigFiles.parse(TARGET + "[[target.initiator]]\nname = \"" + HOST2 + "\"\n", "t");
    }
}
