package io.clonetarget.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.TargetServer;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.scsi.ScsiResult;
import io.clonetarget.server.scsi.ScsiStatus;
import io.clonetarget.server.scsi.ScsiTask;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}: what it refuses before creating anything, and what the quick form's options do. */
class ServeTest {
    @TempDir
    Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    int run(String... args) {
        return Cli.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    }

    ServerConfig resolve(String... args) throws Exception {
        return resolve(TargetServer::check, args);
    }

    static ServerConfig resolve(ConfigCheck check, String... args) throws Exception {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs(args);
        return serve.resolve(check);
    }

    /** A SCSI command with a hex CDB and optional data-out, answered in-process. */
    record Task(ByteBuffer cdb, ByteBuffer dataOut) implements ScsiTask {
        static Task of(String hex, int dataOut) {
            byte[] b = HexFormat.of().parseHex(hex.replace(" ", ""));
            return new Task(ByteBuffer.wrap(Arrays.copyOf(b, 16)), ByteBuffer.allocateDirect(dataOut));
        }

        @Override
        public Nexus nexus() {
            return Nexus.of("iqn.1993-08.org.debian:01:a", 1, QuickForm.DEFAULT_IQN, 1);
        }

        @Override
        public int dataInLimit() {
            return 1 << 16;
        }

        @Override
        public ByteBuffer allocateDataIn(int length) {
            return ByteBuffer.allocateDirect(length);
        }

        @Override
        public boolean aborted() {
            return false;
        }
    }

    @Test
    void aReadOnlyQuickFormLunIsReadOnlyAllTheWayDown() throws Exception {
        Path img = Files.write(dir.resolve("ro.img"), new byte[1 << 20]);
        ServerConfig config = resolve("--listen", "127.0.0.1:0", "--state-dir", dir.resolve("state").toString(),
                "--lun", img + ",size=1M,read-only");
        try (TargetServer server = TargetServer.start(config)) {
            assertTrue(server.volumes().get("lun0").device().isReadOnly(), "opened O_RDONLY");
            try (FileBlockDevice reader = FileBlockDevice.open(img, true, 512)) {
                assertEquals(1 << 20, reader.size(), "the lock is shared: another reader gets in");
            }
            var target = server.context().findTarget(QuickForm.DEFAULT_IQN).orElseThrow();
            ScsiResult write = target.execute(null, 0, Task.of("2a 00 00 00 00 00 00 00 01 00", 512));
            assertEquals(ScsiStatus.CHECK_CONDITION, write.status());
            assertEquals(0x07, write.sense()[2] & 0x0f, "DATA PROTECT");
            assertEquals(0x27, write.sense()[12] & 0xff, "WRITE PROTECTED");
            ScsiResult sense = target.execute(null, 0, Task.of("1a 00 3f 00 ff 00", 0));
            assertTrue(sense.isGood());
            assertEquals(0x80, sense.dataIn().get(2) & 0x80, "MODE SENSE reports WP");
        }
    }

    @Test
    void serveRefusesBeforeCreatingAnyFile() {
        Path first = dir.resolve("a.img");
        Path huge = dir.resolve("huge.img");
        assertEquals(ExitCodes.CONFIG, run("serve", "--listen", "127.0.0.1:0", "--state-dir", dir.resolve("state").toString(),
                "--lun", first + ",size=1M", "--lun", huge + ",size=999999T"));
        assertTrue(err.toString().contains("invalid configuration command line: volume[1].size: cannot create " + huge),
                err.toString());
        assertFalse(Files.exists(first), "the first LUN was not created either");
        assertFalse(Files.exists(huge), "no 0-byte file to block the next start");
        assertFalse(Files.exists(dir.resolve("state")), "nor the state directory");
    }

    @Test
    void serveRefusesAConfigurationFileWithEveryProblem() throws Exception {
        Path file = Files.writeString(dir.resolve("c.toml"), "[[volume]]\nname = \"a\"\npath = \"" + dir.resolve("a.img")
                + "\"\nsize = \"999999T\"\n[[volume]]\nname = \"b\"\npath = \"" + dir.resolve("b.img") + "\"\n");
        assertEquals(ExitCodes.CONFIG, run("serve", "--config", file.toString(), "--state-dir", dir.resolve("s").toString()));
        assertTrue(err.toString().contains("2 problems"), err.toString());
        assertTrue(err.toString().contains("volume[1].path: " + dir.resolve("b.img") + " does not exist"), err.toString());
        assertFalse(Files.exists(dir.resolve("a.img")));
    }

    @Test
    void aListenOverrideIsValidatedToo() throws Exception {
        Path file = Files.writeString(dir.resolve("c.toml"), "");
        assertEquals(ExitCodes.CONFIG, run("serve", "--config", file.toString(), "--listen", "localhost:3260"));
        assertTrue(err.toString().contains("command line: server.listen[0]: not an IP address: \"localhost\""),
                err.toString());
    }

    @Test
    void overwriteDestinationIsAQuickFormOptionOfClones() throws Exception {
        Path golden = Files.write(dir.resolve("golden.img"), new byte[1 << 20]);
        Path dest = Files.write(dir.resolve("vm.img"), new byte[1 << 20]);
        String clone = golden + ",dest=" + dest;
        ServerConfig c = resolve("--state-dir", dir.toString(), "--clone", clone + ",overwrite-destination");
        assertTrue(c.volume("lun0").overwriteDestination());
        assertFalse(resolve(ConfigCheck.NONE, "--state-dir", dir.toString(), "--clone", clone + ",overwrite-destination=no")
                .volume("lun0").overwriteDestination());
        assertEquals(ExitCodes.CONFIG, run("serve", "--listen", "127.0.0.1:0", "--state-dir", dir.toString(),
                "--clone", clone));
        assertTrue(err.toString().contains("volume[0].path: the destination " + dest + " exists but"),
                err.toString());
        assertEquals(ExitCodes.USAGE, run("serve", "--clone", clone + ",overwrite-destination=maybe"));
        assertTrue(err.toString().contains("--clone: overwrite-destination=maybe is not yes/no"), err.toString());
        assertEquals(ExitCodes.USAGE, run("serve", "--lun", dest + ",overwrite-destination"));
        assertTrue(err.toString().contains("unknown option \"overwrite-destination\""), err.toString());
    }
}
