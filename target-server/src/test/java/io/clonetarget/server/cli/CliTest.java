package io.clonetarget.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CliTest {
    @TempDir
    Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    int run(String... args) {
        return Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    }

    @Test
    void versionAndHelp() {
        assertEquals(0, run("version"));
        assertTrue(out.toString().startsWith("clonetarget "));
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("serve"));
    }

    @Test
    void lunsAndClonesAreNumberedInCommandLineOrder() throws Exception {
        ServeCommand serve = new ServeCommand();
        CommandLine cl = new CommandLine(serve);
        cl.parseArgs("--lun", dir.resolve("a.img") + ",size=1M", "--clone=" + dir.resolve("g.img") + ",dest=" + dir.resolve("b.img"),
                "--lun=" + dir.resolve("c.img") + ",size=1M", "--clone", dir.resolve("g.img") + ",dest=" + dir.resolve("d.img"),
                "--state-dir", dir.toString());
        ServerConfig c = serve.resolve(ConfigCheck.NONE);
        assertEquals(List.of("lun0", "lun1", "lun2", "lun3"), c.volumes().stream().map(v -> v.name()).toList());
        assertEquals(List.of(VolumeType.FILE, VolumeType.CLONE, VolumeType.FILE, VolumeType.CLONE),
                c.volumes().stream().map(v -> v.type()).toList());
        assertEquals(dir.resolve("d.img").toString(), c.volumes().get(3).path());
        assertEquals(ExitCodes.USAGE, run("serve", "--lun"));
        assertTrue(err.toString().contains("Missing value for --lun"), err.toString());
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertEquals(ExitCodes.USAGE, run("serve", "--frobnicate"));
        assertTrue(err.toString().contains("--frobnicate"), err.toString());
    }

    @Test
    void aQuickFormTargetNeedsSomethingToServe() {
        // (serve with nothing at all starts an empty server from the state directory: ChangeCommandsIT)
        assertEquals(ExitCodes.USAGE, run("serve", "--target", "iqn.2026-12.com.example:t", "--state-dir", dir.toString()));
        assertTrue(err.toString().contains("--target needs at least one --lun or --clone"), err.toString());
    }

    @Test
    void serveWithNothingRestoresTheSavedConfigurationOrStartsEmpty() throws Exception {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs("--state-dir", dir.toString(), "--listen", "127.0.0.1:0");
        ServerConfig empty = serve.resolve(ConfigCheck.NONE);
        assertEquals(List.of(), empty.targets());
        assertEquals(dir.toString(), empty.server().stateDir());
        java.nio.file.Files.writeString(dir.resolve("running.toml"), """
                [[volume]]
                name = "v"
                path = "%s/v.img"
                size = "1M"
                [[target]]
                iqn = "iqn.2026-12.com.example:t"
                [[target.lun]]
                lun = 0
                volume = "v"
                """.formatted(dir));
        ServerConfig restored = serve.resolve(ConfigCheck.NONE);
        assertEquals("iqn.2026-12.com.example:t", restored.targets().getFirst().iqn());
        assertEquals(List.of("127.0.0.1:0"), restored.server().listen(), "the command line's --listen wins");
        java.nio.file.Files.writeString(dir.resolve("running.toml"), "[[target]]\niqn = \"nonsense\"\n");
        io.clonetarget.config.ConfigException bad = org.junit.jupiter.api.Assertions.assertThrows(
                io.clonetarget.config.ConfigException.class, () -> serve.resolve(ConfigCheck.NONE));
        assertTrue(bad.getMessage().contains("target[0].iqn: \"nonsense\" is not an iSCSI name"), bad.getMessage());
    }

    @Test
    void badLunOptionsNameTheProblem() {
        assertEquals(ExitCodes.USAGE, run("serve", "--lun", "/tmp/x.img,sze=1G"));
        assertTrue(err.toString().contains("unknown option \"sze\""), err.toString());
        assertEquals(ExitCodes.USAGE, run("serve", "--lun", "/tmp/x.img,size=lots"));
        assertTrue(err.toString().contains("size=lots"), err.toString());
        assertEquals(ExitCodes.USAGE, run("serve", "--target", "bogus", "--lun", "/tmp/x.img"));
        assertTrue(err.toString().contains("not an iSCSI name"), err.toString());
        assertEquals(ExitCodes.USAGE, run("serve", "--clone", "/tmp/golden.img"));
        assertTrue(err.toString().contains("missing dest=PATH"), err.toString());
    }

    @Test
    void invalidQuickFormValuesAreConfigErrors() {
        assertEquals(ExitCodes.CONFIG, run("serve", "--listen", "localhost:3260", "--lun", "/tmp/x.img"));
        assertTrue(err.toString().contains("server.listen[0]: not an IP address"), err.toString());
    }

    @Test
    void quickFormBuildsVolumesAndLunsInOrder() throws Exception {
        ServerConfig c = QuickForm.build(List.of("127.0.0.1:3299"), null, List.of(
                new QuickForm.Spec(false, "/tmp/a.img,size=1G"),
                new QuickForm.Spec(true, "/tmp/golden.img,dest=/tmp/b.img,region=128K,hydrate-on-read"),
                new QuickForm.Spec(false, "/tmp/c.img,read-only,block-size=4096")), null, null, ConfigCheck.NONE);
        assertEquals(3, c.volumes().size());
        assertEquals(1L << 30, c.volume("lun0").size().bytes());
        assertEquals(VolumeType.CLONE, c.volume("lun1").type());
        assertEquals("/tmp/b.img", c.volume("lun1").path());
        assertEquals(128 * 1024, c.volume("lun1").regionSize().bytes());
        assertTrue(c.volume("lun1").hydration().hydrateOnRead());
        assertTrue(c.volume("lun2").readOnly());
        assertEquals(4096, c.volume("lun2").blockSize());
        assertEquals(List.of(0, 1, 2), c.targets().getFirst().luns().stream().map(l -> l.lun()).toList());
        assertEquals(QuickForm.DEFAULT_IQN, c.targets().getFirst().iqn());
    }

    @Test
    void configCheck() throws Exception {
        Path good = dir.resolve("good.toml");
        Files.write(dir.resolve("x.img"), new byte[4096]);
        Files.writeString(good, "[[volume]]\nname = \"a\"\npath = \"" + dir.resolve("x.img") + "\"\n");
        assertEquals(0, run("config", "check", good.toString()));
        assertTrue(out.toString().contains("valid (1 volumes, 0 targets)"), out.toString());
        Path bad = dir.resolve("bad.toml");
        Files.writeString(bad, "[[volume]]\nname = \"a\"\n");
        assertEquals(ExitCodes.CONFIG, run("config", "check", bad.toString()));
        assertTrue(err.toString().contains("volume[0].path: missing"), err.toString());
        assertEquals(ExitCodes.FAILURE, run("config", "check", dir.resolve("missing.toml").toString()));
    }

    @Test
    void serveKeepsEverySectionOfTheFileWhenTheCommandLineOverridesTheServer() throws Exception {
        // before: serve --config rebuilt the configuration from five sections and lost [admin]
        Path file = dir.resolve("admin.toml");
        Files.writeString(file, "[admin]\nlisten = \"127.0.0.1:3398\"\nmetrics-public = true\n");
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs("--config", file.toString(), "--state-dir", dir.toString(),
                "--listen", "127.0.0.1:3397");
        ServerConfig c = serve.resolve(ConfigCheck.NONE);
        assertEquals("127.0.0.1:3398", c.admin().listenOrDefault());
        assertTrue(c.admin().metricsPublic());
        assertEquals(List.of("127.0.0.1:3397"), c.server().listen());
        assertEquals(dir.toString(), c.server().stateDir());
    }

    @Test
    void theAdminApiCanBeMovedOrTurnedOffFromTheCommandLine() throws Exception {
        ServeCommand quick = new ServeCommand();
        new CommandLine(quick).parseArgs("--lun", dir.resolve("a.img") + ",size=1M", "--state-dir", dir.toString(),
                "--admin-listen", "off");
        assertEquals(null, quick.resolve(ConfigCheck.NONE).admin().listenOrDefault());
        Path file = dir.resolve("moved.toml");
        Files.writeString(file, "[admin]\nmetrics-public = true\n");
        ServeCommand fromFile = new ServeCommand();
        new CommandLine(fromFile).parseArgs("--config", file.toString(), "--state-dir", dir.toString(),
                "--admin-listen", "127.0.0.1:3390");
        ServerConfig c = fromFile.resolve(ConfigCheck.NONE);
        assertEquals("127.0.0.1:3390", c.admin().listenOrDefault());
        assertTrue(c.admin().metricsPublic(), "the rest of [admin] stays");
        ServeCommand bad = new ServeCommand();
        new CommandLine(bad).parseArgs("--lun", dir.resolve("a.img") + ",size=1M", "--admin-listen", "nowhere");
        io.clonetarget.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.clonetarget.config.ConfigException.class, () -> bad.resolve(ConfigCheck.NONE));
        assertTrue(e.problems().getFirst().startsWith("admin.listen: "), e.problems().toString());
    }

    @Test
    void configAndQuickFormDoNotMix() throws Exception {
        Path good = dir.resolve("good.toml");
        Files.writeString(good, "");
        assertEquals(ExitCodes.USAGE, run("serve", "--config", good.toString(), "--lun", "/tmp/x"));
        assertTrue(err.toString().contains("cannot be combined"), err.toString());
    }

    @Test
    void humanSizes() {
        assertEquals("1 GiB", ConnectHelp.human(1L << 30));
        assertEquals("1.5 KiB", ConnectHelp.human(1536));
        assertEquals("100 B", ConnectHelp.human(100));
    }

    @Test
    void exitCodesOfPicocliMatchOurs() {
        assertEquals(CommandLine.ExitCode.USAGE, ExitCodes.USAGE);
        assertEquals(CommandLine.ExitCode.OK, ExitCodes.OK);
    }

    @Test
    void completionScriptsCoverEveryCommand() {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute("completion", "bash");
        assertEquals(0, code, err.toString());
        String script = out.toString();
        assertTrue(script.contains("complete -F"), "a bash completion function");
        for (String word : new String[] {"serve", "clone", "session", "metadata", "--state-dir", "--fingerprint"}) {
            assertTrue(script.contains(word), word + " completes");
        }
        java.io.StringWriter zsh = new java.io.StringWriter();
        assertEquals(0, Cli.commandLine(new PrintWriter(zsh, true), new PrintWriter(err, true)).execute("completion", "zsh"));
        assertTrue(zsh.toString().startsWith("autoload -U +X compinit"), "zsh loads bash completion support first");
        java.io.StringWriter fishErr = new java.io.StringWriter();
        assertEquals(ExitCodes.USAGE, Cli.commandLine(new PrintWriter(new java.io.StringWriter(), true),
                new PrintWriter(fishErr, true)).execute("completion", "fish"));
        assertTrue(fishErr.toString().contains("\"fish\" is not bash or zsh"), fishErr.toString());
    }
}
