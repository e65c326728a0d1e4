package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.Interval;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.admin.AdminClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clones of HTTP sources, against a real nginx on loopback. */
class HttpSourceIT {
    static final long SIZE = 16L << 20;
    @TempDir
    Path dir;

    static ServerConfig config(Path dir, String url, HydrationConfig hydration) {
        VolumeConfig v = new VolumeConfig("web", VolumeType.CLONE, dir.resolve("clone.img").toString(), null, null,
                null, url, null, ByteSize.parse("64K"), hydration, null);
        return TestTarget.config(dir, List.of(v), List.of(new LunConfig(0, "web")));
    }

    static HydrationConfig hydration(String rate, boolean paused) {
        return new HydrationConfig(2, 4, ByteSize.parse(rate), paused, false, Interval.parse("100ms"), Interval.parse("1s"));
    }

    static JsonNode status(TestTarget t) throws IOException {
        return AdminClient.call(t.server.adminSocket(), "clone-status", null).get(0);
    }

    @Test
    void aCloneOfAUrlReadsRangesAndHydratesCompletely() throws Exception {
        Tools.require("qemu-utils", "qemu-img");
        try (Nginx nginx = new Nginx(dir.resolve("nginx"))) {
            Path golden = nginx.www.resolve("golden.img");
            CloneIT.randomImage(golden, SIZE, 11);
            try (TestTarget t = TestTarget.start(dir, config(dir, nginx.url("golden.img"), hydration("0", true)),
                    Volumes::open)) {
                assertEquals(SIZE, t.server.volumes().get("web").device().size(), "the size comes from the server");
                Tools.ok(Duration.ofSeconds(60), "qemu-img", "compare", "-f", "raw", "-F", "raw", golden.toString(),
                        t.url(0));
                assertEquals(0, status(t).path("hydrated_regions").asLong(), "reads alone hydrate nothing here");
                AdminClient.call(t.server.adminSocket(), "clone-resume", null);
                CloneIT.awaitComplete(t, Duration.ofSeconds(60));
                assertEquals(-1, Files.mismatch(golden, dir.resolve("clone.img")));
            }
            String log = nginx.accessLog();
            assertTrue(log.contains("\" 206 "), "range requests answered 206:\n" + log.lines().limit(5).toList());
            assertTrue(!log.contains("\" 200 "), "never a whole-file 200");
        }
    }

    @Test
    void aServerThatIgnoresRangeIsRefused() throws Exception {
        try (Nginx nginx = new Nginx(dir.resolve("nginx"))) {
            CloneIT.randomImage(nginx.www.resolve("noranges/golden.img"), SIZE, 12);
            IOException e = assertThrows(IOException.class, () -> TestTarget.start(dir,
                    config(dir, nginx.url("noranges/golden.img"), hydration("0", true)), Volumes::open));
            assertTrue(e.getMessage().contains("ignores Range requests"), e.getMessage());
            IOException missing = assertThrows(IOException.class, () -> TestTarget.start(dir,
                    config(dir, nginx.url("nothing-here.img"), hydration("0", true)), Volumes::open));
            assertTrue(missing.getMessage().contains("HTTP 404"), missing.getMessage());
        }
    }

    @Test
    void aSourceThatChangesIsRefusedWhileRunningAndAtTheNextStart() throws Exception {
        try (Nginx nginx = new Nginx(dir.resolve("nginx"))) {
            Path golden = nginx.www.resolve("golden.img");
            CloneIT.randomImage(golden, SIZE, 13);
            ServerConfig config = config(dir, nginx.url("golden.img"), hydration("0", true));
            try (TestTarget t = TestTarget.start(dir, config, Volumes::open)) {
                java.nio.file.attribute.FileTime before = Files.getLastModifiedTime(golden);
                CloneIT.randomImage(golden, SIZE, 14);
                // a later mtime (nginx's ETag is mtime and size), without waiting for the clock to move
                Files.setLastModifiedTime(golden, java.nio.file.attribute.FileTime.fromMillis(before.toMillis() + 5000));
                AdminClient.call(t.server.adminSocket(), "clone-resume", null);
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (!status(t).path("state").asText().equals("stopped") && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                JsonNode s = status(t);
                assertEquals("stopped", s.path("state").asText(), s.toString());
                assertTrue(s.path("last_error").asText().contains("changed on the server"), s.toString());
                assertEquals(0, s.path("hydrated_regions").asLong(), "nothing of the new version was copied");
                try (RawInitiator r = new RawInitiator(t.port())) {
                    r.login(TestTarget.IQN);
                    RawInitiator.Result read = r.read10(0, 0, 8);
                    assertEquals(2, read.status(), "CHECK CONDITION, not data of another version");
                    assertEquals(3, read.senseKey(), "MEDIUM ERROR");
                }
            }
            IOException e = assertThrows(IOException.class, () -> TestTarget.start(dir, config, Volumes::open));
            assertTrue(e.getMessage().contains("ETag"), e.getMessage());
        }
    }

    private static JsonNode statusOrNull(TestTarget t) {
        try {
            return status(t);
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    void theServerGoingAwayIsReportedAndHydrationRecoversWhenItReturns() throws Exception {
        try (Nginx nginx = new Nginx(dir.resolve("nginx"))) {
            Path golden = nginx.www.resolve("golden.img");
            CloneIT.randomImage(golden, SIZE, 15);
            try (TestTarget t = TestTarget.start(dir, config(dir, nginx.url("golden.img"), hydration("4M", false)),
                    Volumes::open)) {
                io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(20), () -> "hydration started",
                        () -> statusOrNull(t) != null && statusOrNull(t).path("hydrated_regions").asLong() > 0);
                nginx.stop();
                io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(20), () -> "retrying: " + statusOrNull(t),
                        () -> statusOrNull(t) != null && statusOrNull(t).path("errors").asLong() > 0
                                && statusOrNull(t).path("state").asText().equals("retrying"));
                JsonNode s = status(t);
                assertTrue(s.path("errors").asLong() > 0, "errors are counted: " + s);
                assertEquals("retrying", s.path("state").asText(), s.toString());
                assertTrue(s.path("hydrated_regions").asLong() < s.path("regions").asLong(), s.toString());
                try (RawInitiator r = new RawInitiator(t.port())) {
                    r.login(TestTarget.IQN);
                    long start = System.nanoTime();
                    RawInitiator.Result read = r.read10(0, SIZE / 512 - 8, 8); // the last region: not hydrated yet
                    assertTrue(System.nanoTime() - start < 5_000_000_000L, "an answer, not a hang");
                    assertEquals(2, read.status());
                    assertEquals(3, read.senseKey(), "MEDIUM ERROR");
                    assertEquals(0x11, read.asc(), "unrecovered read error");
                }
                nginx.start();
                CloneIT.awaitComplete(t, Duration.ofSeconds(60));
                assertEquals(-1, Files.mismatch(golden, dir.resolve("clone.img")), "recovered, and complete");
            }
        }
    }
}
