package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.TargetServer;
import io.clonetarget.server.cli.ExitCodes;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every imperative command in-process against a server that started with nothing: the README's
 * tour (volume, clone, target, LUNs, ACL, CHAP, portal), idempotency, refusals and conflicts with
 * their exit codes and messages, bad arguments, and a restart that restores what was built.
 */
class ChangeCommandsIT {
    private static final String IQN = "iqn.2026-12.io.clonetarget:tour";
    private static final String HOST = "iqn.2026-12.com.example:host1";

    @TempDir
    Path dir;

    private Object[] cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--state-dir");
        all.add(dir.resolve("state").toString());
        return CloneIT.cli(all.toArray(String[]::new));
    }

    private static void ok(Object[] r, String... expected) {
        assertEquals(ExitCodes.OK, r[0], r[1] + "\n" + r[2]);
        for (String e : expected) {
            assertTrue(r[1].toString().contains(e), "expected \"" + e + "\" in:\n" + r[1]);
        }
    }

    private static void fails(Object[] r, int code, String message) {
        assertEquals(code, r[0], r[1] + "\n" + r[2]);
        assertTrue((r[1].toString() + r[2]).contains(message), "expected \"" + message + "\" in:\n" + r[1] + r[2]);
    }

    /** What {@code serve --state-dir DIR} starts with when DIR holds no configuration yet, or what it holds. */
    private TargetServer serve() throws Exception {
        // parse as the real command line does, then start what serve would (serve itself blocks until a signal)
        var parsed = new picocli.CommandLine(io.clonetarget.server.cli.Cli.class).parseArgs("serve", "--state-dir",
                dir.resolve("state").toString(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0");
        Object command = parsed.subcommand().commandSpec().userObject();
        var resolve = command.getClass().getDeclaredMethod("resolve", ConfigCheck.class); // package-private in cli
        resolve.setAccessible(true);
        return TargetServer.start((ServerConfig) resolve.invoke(command, (ConfigCheck) TargetServer::check));
    }

    @Test
    void fromNothingToATargetWithLunsAclAndChap() throws Exception {
        Path golden = dir.resolve("golden.img");
        Files.write(golden, new byte[1 << 20]);
        Path secret = dir.resolve("host1.secret");
        Files.writeString(secret, "a-long-secret-1\n");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        try (TargetServer server = serve()) {
            assertTrue(server.config().targets().isEmpty(), "an empty server the first time");
            ok(cli("volume", "create", "data1", "--path", dir.resolve("data1.img").toString(), "--size", "8M"),
                    "+ volume data1 (file " + dir.resolve("data1.img") + ", 8M)", "applied");
            assertTrue(Files.exists(dir.resolve("data1.img")));
            ok(cli("volume", "create", "data1", "--path", dir.resolve("data1.img").toString(), "--size", "8M"),
                    "nothing to change");
            fails(cli("volume", "create", "data1", "--path", dir.resolve("other.img").toString()), ExitCodes.FAILURE,
                    "volume data1 exists with other settings");
            ok(cli("clone", "create", "vm1", "--source", golden.toString(), "--path", dir.resolve("vm1.img").toString(),
                    "--rate", "10M"), "+ volume vm1 (clone of " + golden + " into " + dir.resolve("vm1.img") + ")");
            ok(cli("clone", "set", "vm1", "--rate", "20M"), "~ volume vm1 hydration.rate: 10M -> 20M");
            ok(cli("target", "create", IQN, "--alias", "tour"), "+ target " + IQN);
            ok(cli("lun", "map", IQN, "vm1"), "+ lun 0 of " + IQN + ": volume vm1");
            ok(cli("lun", "map", IQN, "data1"), "+ lun 1 of " + IQN + ": volume data1");
            ok(cli("lun", "map", IQN, "data1"), "nothing to change");
            fails(cli("lun", "map", IQN, "nosuch"), ExitCodes.FAILURE, "no volume named \"nosuch\"");
            fails(cli("lun", "map", IQN, "data1", "--lun", "0"), ExitCodes.FAILURE,
                    "volume data1 is already lun 1 of " + IQN + "; a volume appears once in a map");
            ok(cli("lun", "list"), IQN, "default", "vm1", "data1");
            ok(cli("acl", "add", IQN, "--initiator", HOST), "+ allowed-initiators of " + IQN + ": " + HOST);
            ok(cli("acl", "add", IQN, "--network", "127.0.0.0/8"), "+ allowed-networks of " + IQN + ": 127.0.0.0/8");
            fails(cli("acl", "add", IQN, "--network", "127.0.0.1/8"), ExitCodes.CONFIG,
                    "has bits set past the /8 prefix; the network is 127.0.0.0/8");
            ok(cli("acl", "list", IQN), "initiator", HOST, "network", "127.0.0.0/8");
            ok(cli("chap", "set", IQN, "--user", "host1", "--secret-file", secret.toString()),
                    "+ chap of " + IQN + " (user host1)");
            InputStream stdin = System.in;
            try {
                System.setIn(new ByteArrayInputStream("short\n".getBytes(StandardCharsets.UTF_8)));
                fails(cli("chap", "set", "--discovery", "--user", "d", "--secret-stdin"), ExitCodes.CONFIG,
                        "discovery.secret: 5 characters; CHAP secrets need 12 to 255");
                System.setIn(new ByteArrayInputStream("discovery-secret-9\n".getBytes(StandardCharsets.UTF_8)));
                ok(cli("chap", "set", "--discovery", "--user", "d", "--secret-stdin"), "+ chap of discovery (user d)");
            } finally {
                System.setIn(stdin);
            }
            ok(cli("portal", "add", "127.0.0.1:0"), "nothing to change");
            ok(cli("volume", "resize", "data1", "--size", "16M"), "~ volume data1 size: 8M -> 16M",
                    "volume data1 grows from 8388608 to 16777216 bytes");
            assertEquals(16L << 20, Files.size(dir.resolve("data1.img")));
            fails(cli("volume", "resize", "data1", "--size", "4M"), ExitCodes.REFUSED,
                    "volume data1 size: shrinking would cut off the end of the disk");
            fails(cli("volume", "resize", "vm1", "--size", "4M"), ExitCodes.FAILURE,
                    "volume vm1 is a clone: it has the size of its source");
            fails(cli("volume", "delete", "data1"), ExitCodes.FAILURE,
                    "volume data1 is exported as lun 1 of " + IQN + "; unmap it first, or use --force to unmap it too");
            ok(cli("lun", "unmap", IQN, "1", "--dry-run"), "- lun 1 of " + IQN + ": volume data1", "dry run");
            assertEquals(2, server.context().findTarget(IQN).orElseThrow().luns(null).size(), "a dry run changes nothing");
            ok(cli("volume", "delete", "data1", "--force"), "- volume data1", "- lun 1 of " + IQN);
            ok(cli("volume", "delete", "data1"), "nothing to change");
            ok(cli("target", "show", IQN, "-o", "json"), "\"alias\":\"tour\"");
            ok(cli("stats"), "TARGET", "VOLUME", "READS", IQN, "vm1");
            Path relative = dir.resolve("relative.toml");
            Files.writeString(relative, "[server]\nlisten = [\"127.0.0.1:0\"]\n[[volume]]\nname = \"r\"\npath = \"r.img\"\n"
                    + "size = \"1M\"\n");
            fails(cli("apply", "-f", relative.toString()), ExitCodes.CONFIG,
                    "volume[0].path: \"r.img\" is relative; a running server reads it from its own working directory");
            Path empty = dir.resolve("empty.toml");
            Files.writeString(empty, "[server]\nlisten = [\"127.0.0.1:0\"]\n");
            fails(cli("apply", "-f", empty.toString()), ExitCodes.REFUSED,
                    "the configuration: it removes every target (1 running); an empty or truncated file by mistake?");
            assertEquals(1, server.config().targets().size(), "never emptied by accident");
            ok(cli("stats", "-o", "json"), "\"volume\":\"vm1\"", "\"reads\":0");

            // the running configuration is saved, secrets inline only where the command put them (0600)
            Path saved = dir.resolve("state").resolve(TargetServer.RUNNING_CONFIG);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(saved)));
            String text = Files.readString(saved);
            assertTrue(text.startsWith("version = 2"), text);
            assertTrue(text.contains("discovery-secret-9"), "set from stdin, kept inline in the 0600 file");
            assertFalse(text.contains("data1"), text);
        }
        // a restart restores it all
        try (TargetServer again = serve()) {
            assertEquals(List.of(0), new ArrayList<>(again.context().findTarget(IQN).orElseThrow().luns(null).keySet()));
            assertEquals("host1", again.config().target(IQN).chap().user());
            assertEquals(ConfigFiles.read(dir.resolve("state").resolve(TargetServer.RUNNING_CONFIG)), again.config());
        }
    }

    @Test
    void badArgumentsAreUsageErrorsThatSayWhat() {
        fails(cli("lun", "map", IQN), ExitCodes.USAGE, "Missing required parameter: 'VOLUME'");
        fails(cli("volume", "create", "x"), ExitCodes.USAGE, "Missing required option: '--path=FILE'");
        fails(cli("acl", "add", IQN), ExitCodes.USAGE, "Error: Missing required argument (specify one of these)");
        fails(cli("acl", "add", IQN, "--initiator", HOST, "--network", "10.0.0.0/8"), ExitCodes.USAGE,
                "mutually exclusive");
        fails(cli("chap", "set", IQN, "--discovery", "--user", "u", "--secret-stdin"), ExitCodes.USAGE,
                "give a TARGET or --discovery (one of them)");
        fails(cli("lun", "unmap", IQN, "one"), ExitCodes.USAGE, "Invalid value for positional parameter at index 1");
        fails(cli("apply", "-f", dir.resolve("missing.toml").toString()), ExitCodes.USAGE, "--file: cannot read");
        fails(cli("target", "list", "-o", "xml"), ExitCodes.USAGE, "--output: \"xml\" is not table or json");
        fails(cli("lun", "list"), ExitCodes.FAILURE, "no clonetarget");
    }
}
