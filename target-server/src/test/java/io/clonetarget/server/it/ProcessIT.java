package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server as users run it: the launcher and the jar in their own processes, stopped by signals. */
class ProcessIT {
    static final Pattern SERVING = Pattern.compile("is serving on 127\\.0\\.0\\.1:(\\d+)");
    @TempDir
    Path dir;

    static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    static Path jar() {
        return Path.of(System.getProperty("clonetarget.jar", "target/clonetarget.jar"));
    }

    /** Started process with its output collected; waits for the "is serving" line. */
    static final class Running implements AutoCloseable {
        final Process process;
        final StringBuilder output = new StringBuilder();
        final int port;
        final Thread drain;

        /** Runs {@code command} with its default state directories under {@code stateHome}, not the user's home. */
        Running(List<String> command, Path stateHome) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().put("XDG_STATE_HOME", stateHome.toString());
            pb.environment().remove("STATE_DIRECTORY");
            process = pb.start();
            BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            int found = -1;
            boolean ready = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            String line;
            while (!ready && System.nanoTime() < deadline && (line = in.readLine()) != null) {
                output.append(line).append('\n');
                Matcher m = SERVING.matcher(line);
                if (m.find()) {
                    found = Integer.parseInt(m.group(1));
                }
                ready = found >= 0 && line.startsWith("Stop with Ctrl-C");
            }
            if (found < 0) {
                process.destroyForcibly();
                fail("server did not start:\n" + output);
            }
            port = found;
            drain = Thread.ofPlatform().daemon().start(() -> {
                try {
                    String l;
                    while ((l = in.readLine()) != null) {
                        synchronized (output) {
                            output.append(l).append('\n');
                        }
                    }
                } catch (IOException ignored) {
                    // process ended
                }
            });
        }

        /** SIGTERM (not Process.destroy(), which also closes our end of its output), then the exit code. */
        int terminate() throws Exception {
            signal("TERM");
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "stopped within 60 s");
            drain.join(10_000);
            return process.exitValue();
        }

        void signal(String name) throws Exception {
            assertEquals(0, new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor());
        }

        String output() {
            synchronized (output) {
                return output.toString();
            }
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    @Test
    void sighupAppliesTheChangedFileLiveAndKeepsItAcrossARestart() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-ls");
        Path file = dir.resolve("server.toml");
        Path state = dir.resolve("state");
        String base = """
                [server]
                listen = ["127.0.0.1:0"]
                state-dir = "%1$s"

                [admin]
                listen = "off"

                [[volume]]
                name = "a"
                path = "%2$s/a.img"
                size = "4M"

                [[volume]]
                name = "b"
                path = "%2$s/b.img"
                size = "4M"

                [[target]]
                iqn = "iqn.2026-12.io.clonetarget:hup"
                [[target.lun]]
                lun = 0
                volume = "a"
                """.formatted(state, dir);
        Files.writeString(file, base);
        List<String> serve = List.of(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar().toString(), "serve",
                "--config", file.toString());
        try (Running r = new Running(serve, dir.resolve("xdg"))) {
            String portal = "iscsi://127.0.0.1:" + r.port;
            assertTrue(Tools.ok(Duration.ofSeconds(30), "iscsi-ls", "-s", portal).contains("Lun:0"));
            Files.writeString(file, base + """
                    [[target.lun]]
                    lun = 1
                    volume = "b"
                    """);
            r.signal("HUP");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!r.output().contains("SIGHUP: reloaded " + file) && System.nanoTime() < deadline) {
                Thread.sleep(50); // polling the output for the reload's report
            }
            assertTrue(r.output().contains("SIGHUP: reloaded " + file), r.output());
            assertTrue(r.output().contains("+ lun 1 of iqn.2026-12.io.clonetarget:hup: volume b"), r.output());
            assertTrue(Tools.ok(Duration.ofSeconds(30), "iscsi-ls", "-s", portal).contains("Lun:1"), "the new LUN is live");
            Files.writeString(file, base.replace("size = \"4M\"\n\n[[target]]", "size = \"4M\"\nblock-size = 4096\n\n[[target]]"));
            r.signal("HUP");
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!r.output().contains("volume b block-size: read when") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(r.output().contains("volume b block-size: read when the volume is opened"), r.output());
            assertTrue(Tools.ok(Duration.ofSeconds(30), "iscsi-ls", "-s", portal).contains("Lun:1"), "nothing of it applied");
            assertEquals(0, r.terminate(), r.output());
        }
        // without --config, the state directory's running configuration comes back, LUN 1 included
        try (Running r = new Running(List.of(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar().toString(),
                "serve", "--state-dir", state.toString(), "--listen", "127.0.0.1:0", "--admin-listen", "off"),
                dir.resolve("xdg"))) {
            assertTrue(r.output().contains("lun 1"), r.output());
            assertEquals(0, r.terminate(), r.output());
        }
    }

    @Test
    void serveQuickFormPrintsHowToConnectAndStopsCleanlyOnSigterm() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-inq");
        Path image = dir.resolve("disk.img");
        try (Running r = new Running(List.of(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar().toString(),
                "serve", "--listen", "127.0.0.1:0", "--target", "iqn.2026-11.io.clonetarget:proc",
                "--lun", image + ",size=64M"), dir.resolve("xdg"))) {
            String url = "iscsi://127.0.0.1:" + r.port + "/iqn.2026-11.io.clonetarget:proc/0";
            assertTrue(r.output().contains("iscsiadm -m discovery -t sendtargets -p 127.0.0.1:" + r.port), r.output());
            assertTrue(r.output().contains("iscsi-inq " + url), r.output());
            String inq = Tools.ok(Duration.ofSeconds(30), "iscsi-inq", url);
            assertTrue(inq.contains("Vendor:CLONETGT"), inq);
            assertTrue(Files.exists(dir.resolve("xdg/clonetarget/admin.sock")), "the default state directory");
            assertEquals(0, r.terminate(), r.output());
            assertTrue(r.output().contains("server stopped"), r.output());
        }
        assertEquals(64L << 20, Files.size(image), "created sparse with the given size");
        assertTrue(Files.notExists(dir.resolve("xdg/clonetarget/admin.sock")), "the socket goes with the server");
    }

    @Test
    void launcherRunsTheDemoAndStopsOnSigint() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-ls");
        Path launcher = Path.of("..", "bin", "clonetarget").toAbsolutePath().normalize();
        Path state = dir.resolve("state");
        List<String> command = new ArrayList<>(List.of(launcher.toString(), "demo", "--state-dir", state.toString(),
                "--listen", "127.0.0.1:0", "--size", "64M", "--rate", "4M")); // 16 s: still hydrating when status looks, on a busy machine too
        try (Running r = new Running(command, dir.resolve("xdg"))) {
            assertTrue(r.output().contains("demo state directory: " + state), r.output());
            assertTrue(r.output().contains("clone status --watch --state-dir " + state), r.output());
            String ls = Tools.ok(Duration.ofSeconds(30), "iscsi-ls", "-s", "iscsi://127.0.0.1:" + r.port);
            assertTrue(ls.contains("iqn.2026-11.io.clonetarget:demo"), ls);
            String inq = Tools.ok(Duration.ofSeconds(30), "iscsi-inq", "iscsi://127.0.0.1:" + r.port
                    + "/iqn.2026-11.io.clonetarget:demo/0");
            assertTrue(inq.contains("Product:clone"), inq);
            // the clone hydrates in the background at the demo's rate; status shows it and --watch follows it to the end
            Process status = new ProcessBuilder(launcher.toString(), "clone", "status", "--state-dir", state.toString(),
                    "--output", "json").redirectErrorStream(true).start();
            String json = new String(status.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, status.waitFor(), json);
            assertTrue(json.contains("\"name\":\"demo\"") && json.contains("\"complete\":false"), json);
            Process watch = new ProcessBuilder(launcher.toString(), "clone", "status", "--watch", "--interval", "500ms",
                    "--state-dir", state.toString()).redirectErrorStream(true).start();
            assertTrue(watch.waitFor(60, TimeUnit.SECONDS), "--watch ends when hydration completes");
            String table = new String(watch.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, watch.exitValue(), table);
            assertTrue(table.contains("NAME") && table.contains("100.0%") && table.contains("complete"), table);
            assertTrue(r.output().contains("hydration complete"), r.output());
            r.signal("INT"); // the launcher execs java: this pid is the JVM
            assertTrue(r.process.waitFor(60, TimeUnit.SECONDS));
            r.drain.join(10_000);
            assertEquals(0, r.process.exitValue(), r.output());
            assertTrue(r.output().contains("stopped"), r.output());
        }
        assertEquals(64L << 20, Files.size(state.resolve("golden.img")));
        assertEquals(64L << 20, Files.size(state.resolve("clone.img")));
        assertTrue(Files.exists(state.resolve("clone.img.meta")));
        assertTrue(Files.notExists(state.resolve("admin.sock")));
    }

    @Test
    void aPortInUseIsAClearError() throws Exception {
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Process p = new ProcessBuilder(java(), "--enable-native-access=ALL-UNNAMED", "-jar", jar().toString(),
                    "serve", "--listen", "127.0.0.1:" + socket.getLocalPort(), "--lun", dir.resolve("x.img") + ",size=1M",
                    "--state-dir", dir.resolve("state").toString())
                    .redirectErrorStream(true).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, p.exitValue(), out);
            assertTrue(out.contains("cannot listen on") && out.contains(Integer.toString(socket.getLocalPort())), out);
        }
    }
}
