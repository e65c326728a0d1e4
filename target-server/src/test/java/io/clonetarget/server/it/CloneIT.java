package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.admin.AdminClient;
import io.clonetarget.server.admin.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clone volumes served over iSCSI to real clients: usable at once, hydrating behind, nothing written lost. */
class CloneIT {
    static final long SIZE = 32L << 20;
    @TempDir
    Path dir;

    static void randomImage(Path path, long size, long seed) throws IOException {
        byte[] data = new byte[(int) size];
        new Random(seed).nextBytes(data);
        Files.write(path, data);
    }

    static VolumeConfig clone(Path golden, Path dest, String regionSize, HydrationConfig hydration) {
        return new VolumeConfig("c0", VolumeType.CLONE, dest.toString(), null, null, null, golden.toString(), null,
                ByteSize.parse(regionSize), hydration, null);
    }

    static HydrationConfig rate(String rate, boolean paused, boolean hydrateOnRead) {
        return new HydrationConfig(null, null, ByteSize.parse(rate), paused, hydrateOnRead, null, null);
    }

    static JsonNode status(TestTarget t) throws IOException {
        return AdminClient.call(t.server.adminSocket(), "clone-status", null).get(0);
    }

    static void awaitComplete(TestTarget t, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!status(t).path("complete").asBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("hydration did not complete: " + status(t));
            }
            Thread.sleep(100);
        }
    }

    @Test
    void aCloneIsTheSourceAtOnceAndKeepsEveryWriteThroughHydration() throws Exception {
        Tools.require("qemu-utils", "qemu-img");
        Path golden = dir.resolve("golden.img");
        randomImage(golden, SIZE, 1);
        Path dest = dir.resolve("clone.img");
        ServerConfig config = TestTarget.config(dir, List.of(clone(golden, dest, "64K", rate("4M", false, false))),
                List.of(new LunConfig(0, "c0")));
        byte[] expected = Files.readAllBytes(golden);
        String naa;
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
            naa = t.server.volumes().get("c0").identity().naaHex();
            JsonNode s = status(t);
            assertTrue(s.path("hydrated_regions").asLong() < s.path("regions").asLong() / 2, "just started: " + s);
            // usable at once: every byte already reads as the source
            Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", golden.toString(), t.url(0));
            Random random = new Random(2);
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN);
                for (int i = 0; i < 64; i++) {
                    int blocks = 1 + random.nextInt(16);
                    long lba = random.nextLong(SIZE / 512 - blocks);
                    byte[] data = new byte[blocks * 512];
                    random.nextBytes(data);
                    RawInitiator.Result w = r.write10(0, lba, data, i % 8 == 0);
                    assertEquals(0, w.status(), "write " + i);
                    System.arraycopy(data, 0, expected, (int) (lba * 512), data.length);
                }
                assertEquals(0, r.synchronizeCache(0).status());
            }
            Path want = dir.resolve("expected.img");
            Files.write(want, expected);
            Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", want.toString(), t.url(0));
            assertTrue(!status(t).path("complete").asBoolean(), "still hydrating (4 MiB/s): " + status(t));
            var fields = Json.MAPPER.createObjectNode().put("rate", 0);
            AdminClient.call(t.server.adminSocket(), "clone-rate", fields);
            awaitComplete(t, Duration.ofSeconds(60));
            Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", want.toString(), t.url(0));
            assertEquals(-1, Files.mismatch(want, dest), "after hydration the destination holds the whole disk");
            assertEquals("complete", status(t).path("state").asText());
        }
        // the source can go once hydration is complete: a restart serves the same disk with the
        // same identity, from the destination alone
        Files.delete(golden);
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
            assertEquals(naa, t.server.volumes().get("c0").identity().naaHex(), "the LUN keeps its NAA id");
            assertTrue(status(t).path("complete").asBoolean());
            assertTrue(status(t).path("source").asText().startsWith("detached source"), status(t).toString());
            Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    dir.resolve("expected.img").toString(), t.url(0));
        }
    }

    @Test
    void aBlockDeviceSourceHydratesLikeAFile() throws Exception {
        Tools.require("mount", "losetup");
        Tools.require("qemu-utils", "qemu-img");
        Path golden = dir.resolve("golden.img");
        randomImage(golden, SIZE, 5);
        // a read-only loop device over the image; needs root and loop support, which not every
        // sandbox has: then there is no block device to test with
        Tools.Result attach = Tools.run(Duration.ofSeconds(30), "losetup", "--find", "--show", "--read-only",
                golden.toString());
        assumeTrue(attach.exitCode() == 0, "no loop device here: " + attach.output().strip());
        String device = attach.output().strip();
        try {
            assertTrue(device.startsWith("/dev/loop"), device);
            Path dest = dir.resolve("clone.img");
            ServerConfig config = TestTarget.config(dir, List.of(clone(Path.of(device), dest, "64K",
                    rate("0", false, false))), List.of(new LunConfig(0, "c0")));
            try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
                assertEquals(SIZE, status(t).path("size").asLong(), status(t).toString());
                assertEquals("block device " + device, status(t).path("source").asText());
                awaitComplete(t, Duration.ofSeconds(60));
                assertEquals(-1, Files.mismatch(golden, dest), "the destination is the block device's content");
                Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", golden.toString(),
                        t.url(0));
            }
        } finally {
            Tools.run(Duration.ofSeconds(30), "losetup", "--detach", device);
        }
    }

    /** Runs the CLI in this process; returns {exit code, stdout, stderr}. */
    static Object[] cli(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = io.clonetarget.server.cli.Cli.commandLine(new java.io.PrintWriter(out, true),
                new java.io.PrintWriter(err, true)).execute(args);
        return new Object[]{code, out.toString(), err.toString()};
    }

    @Test
    void theCloneCommandsPauseRetuneAndResumeARunningServer() throws Exception {
        Path golden = dir.resolve("golden.img");
        randomImage(golden, SIZE, 7);
        // 32 MiB at 1 MiB/s would take 32 s: completing within 20 s proves the new rate took
        ServerConfig config = TestTarget.config(dir, List.of(clone(golden, dir.resolve("clone.img"), "64K",
                rate("1M", false, false))), List.of(new LunConfig(0, "c0")));
        String state = dir.toString();
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
            Object[] r = cli("clone", "pause", "c0", "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            assertTrue(r[1].toString().contains("paused"), r[1].toString());
            assertEquals("paused", status(t).path("state").asText());
            long before = status(t).path("hydrated_regions").asLong();
            Thread.sleep(500);
            assertEquals(before, status(t).path("hydrated_regions").asLong(), "paused: nothing copied");

            r = cli("clone", "rate", "fast", "c0", "--state-dir", state);
            assertEquals(io.clonetarget.server.cli.ExitCodes.USAGE, r[0]);
            assertTrue(r[2].toString().contains("RATE:"), r[2].toString());
            r = cli("clone", "pause", "nosuch", "--state-dir", state);
            assertNotEquals(0, r[0]);
            assertTrue(r[2].toString().contains("no clone volume named \"nosuch\""), r[2].toString());

            assertEquals(0, cli("clone", "rate", "0", "c0", "--state-dir", state)[0]);
            assertEquals(0, cli("clone", "resume", "--state-dir", state)[0]);
            awaitComplete(t, Duration.ofSeconds(20));
            r = cli("clone", "status", "c0", "--output", "json", "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            JsonNode json = Json.MAPPER.readTree(r[1].toString());
            assertEquals("c0", json.get(0).path("name").asText());
            assertTrue(json.get(0).path("complete").asBoolean(), json.toString());
        }
    }

    @Test
    void hydrateOnReadCopiesWhatIsReadAndPausedMeansNoBackgroundCopies() throws Exception {
        Path golden = dir.resolve("golden.img");
        randomImage(golden, SIZE, 3);
        ServerConfig config = TestTarget.config(dir, List.of(clone(golden, dir.resolve("clone.img"), "64K",
                rate("0", true, true))), List.of(new LunConfig(0, "c0")));
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
            Thread.sleep(300);
            assertEquals(0, status(t).path("hydrated_regions").asLong(), "paused: nothing copied in the background");
            assertEquals("paused", status(t).path("state").asText());
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN);
                RawInitiator.Result read = r.read10(0, 1024, 256); // 128 KiB at 512 KiB: regions 8 and 9
                assertEquals(0, read.status());
                byte[] want = java.util.Arrays.copyOfRange(Files.readAllBytes(golden), 512 * 1024, 640 * 1024);
                assertEquals(-1, java.util.Arrays.mismatch(want, read.data()));
            }
            assertEquals(2, status(t).path("hydrated_regions").asLong(), "the two regions read, hydrated on read");
            AdminClient.call(t.server.adminSocket(), "clone-resume", null);
            awaitComplete(t, Duration.ofSeconds(60));
        }
    }

    @Test
    void aCloneThatDoesNotMatchItsFilesIsRefusedNeverReformatted() throws Exception {
        Path golden = dir.resolve("golden.img");
        randomImage(golden, 4L << 20, 4);
        Path dest = dir.resolve("clone.img");
        ServerConfig config = TestTarget.config(dir, List.of(clone(golden, dest, "64K", rate("0", true, false))),
                List.of(new LunConfig(0, "c0")));
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
            assertEquals(4L << 20, t.server.volumes().get("c0").device().size());
        }
        Path meta = dir.resolve("clone.img.meta");
        byte[] metaBefore = Files.readAllBytes(meta);
        // another region size than the metadata's
        ServerConfig other = TestTarget.config(dir, List.of(clone(golden, dest, "128K", rate("0", true, false))),
                List.of(new LunConfig(0, "c0")));
        IOException e = assertThrows(IOException.class, () -> TestTarget.start(dir, other, Volumes::open));
        assertTrue(e.getMessage().contains("volume c0") && e.getMessage().contains("region size"), e.getMessage());
        // the source changed underneath
        byte[] g = Files.readAllBytes(golden);
        g[100] ^= 1;
        Files.write(golden, g);
        e = assertThrows(IOException.class, () -> TestTarget.start(dir, config, Volumes::open));
        assertTrue(e.getMessage().contains("changed"), e.getMessage());
        // (metadata without its destination, and a destination without metadata: CloneFilesTest)
        assertEquals(-1, java.util.Arrays.mismatch(metaBefore, Files.readAllBytes(meta)), "the metadata is untouched");
        assertNotEquals(0, metaBefore.length);
    }
}
