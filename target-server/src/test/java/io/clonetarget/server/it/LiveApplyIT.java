package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.TargetServer;
import io.clonetarget.server.cli.ExitCodes;
import io.clonetarget.server.session.Session;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A configuration applied to a running server with sessions doing I/O: the session on the target
 * that stays keeps its connection and never fails a command (it sees the one unit attention that
 * tells it its LUNs changed, as SAM says it must), the removed target's session is asked to log
 * out and goes, a dry run changes nothing, and a plan that needs --force changes nothing without it.
 */
class LiveApplyIT {
    private static final String A = "iqn.2026-12.io.clonetarget:live-a";
    private static final String B = "iqn.2026-12.io.clonetarget:live-b";
    private static final String RAW = "iqn.2026-11.io.clonetarget:raw"; // RawInitiator's name
    private static final long SEED = Long.getLong("liveapply.seed", 7L);

    @TempDir
    Path dir;

    private String config(boolean after) {
        StringBuilder s = new StringBuilder("""
                [server]
                listen = ["127.0.0.1:0"]
                state-dir = "%s"
                io-threads = 4

                [admin]
                listen = "127.0.0.1:0"

                [[volume]]
                name = "a"
                path = "%s/a.img"
                size = "8M"

                [[volume]]
                name = "b"
                path = "%s/b.img"
                size = "8M"
                """.formatted(dir, dir, dir));
        if (after) {
            s.append("""

                    [[volume]]
                    name = "c"
                    path = "%s/c.img"
                    size = "4M"
                    """.formatted(dir));
        }
        s.append("""

                [[target]]
                iqn = "%s"
                """.formatted(A));
        if (after) {
            s.append("allowed-initiators = [\"" + RAW + "\", \"iqn.2026-12.com.example:other\"]\n");
        }
        s.append("""
                [[target.lun]]
                lun = 0
                volume = "a"
                """);
        if (after) {
            s.append("""
                    [[target.lun]]
                    lun = 1
                    volume = "c"
                    """);
        } else {
            s.append("""

                    [[target]]
                    iqn = "%s"
                    [[target.lun]]
                    lun = 0
                    volume = "b"
                    """.formatted(B));
        }
        return s.toString();
    }

    /** A session writing and reading back its own blocks until stopped; counts what it sees. */
    private static final class Worker extends Thread {
        final RawInitiator initiator;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong commands = new AtomicLong();
        final AtomicInteger lunsChanged = new AtomicInteger();
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        volatile Exception ended;
        private final Random random;

        Worker(RawInitiator initiator, long seed) {
            this.initiator = initiator;
            this.random = new Random(seed);
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                while (!stop.get()) {
                    long lba = random.nextInt(16_000);
                    byte[] data = new byte[512];
                    random.nextBytes(data);
                    while (!check("write", initiator.write10(0, lba, data, false), null)) {
                        // a unit attention: the command did not run; send it again, as initiators do
                    }
                    while (!check("read", initiator.read10(0, lba, 1), data)) {
                        // the same
                    }
                }
            } catch (Exception e) {
                ended = e;
            }
        }

        /** Records the outcome; false for a unit attention (the command did not run and is to be sent again). */
        private boolean check(String what, RawInitiator.Result r, byte[] expected) {
            commands.incrementAndGet();
            if (r.status() == 2 && r.senseKey() == 6 && r.asc() == 0x3f && (r.sense()[13] & 0xff) == 0x0e) {
                lunsChanged.incrementAndGet(); // REPORTED LUNS DATA HAS CHANGED
                return false;
            }
            if (r.status() != 0) {
                failures.add(what + ": status " + r.status() + " sense " + r.senseKey() + "/" + Integer.toHexString(r.asc())
                        + (r.sense().length > 13 ? "/" + Integer.toHexString(r.sense()[13] & 0xff) : ""));
            } else if (expected != null && !java.util.Arrays.equals(expected, r.data())) {
                failures.add(what + ": data differs");
            }
            return true;
        }
    }

    private Path write(String name, String text) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    private static Session session(TargetServer server, String target) {
        for (Session s : server.context().sessions().all()) {
            if (s.target() != null && s.target().name().equals(target)) {
                return s;
            }
        }
        return null;
    }

    @Test
    void aFileAppliedLiveChangesOnlyWhatDiffers() throws Exception {
        ServerConfig before = ConfigFiles.parse(config(false), "before");
        Path next = write("next.toml", config(true));
        String state = dir.toString();
        try (TestTarget t = TestTarget.start(dir, before, io.clonetarget.server.Volumes::open)) {
            TargetServer server = t.server;
            RawInitiator a = new RawInitiator(t.port());
            RawInitiator b = new RawInitiator(t.port());
            a.login(A);
            b.login(B);
            int tsihA = session(server, A).tsih();
            Worker wa = new Worker(a, SEED);
            Worker wb = new Worker(b, SEED + 1);
            wa.start();
            wb.start();
            waitForCommands(wa, 200);
            waitForCommands(wb, 200);
            byte[] savedBefore = Files.readAllBytes(dir.resolve(TargetServer.RUNNING_CONFIG));

            Object[] dry = CloneIT.cli("apply", "-f", next.toString(), "--dry-run", "--state-dir", state);
            assertEquals(ExitCodes.REFUSED, dry[0], dry[2].toString());
            assertTrue(dry[1].toString().contains("dry run; nothing was changed, and applying would be refused:"),
                    dry[1].toString());
            Object[] dryForced = CloneIT.cli("apply", "-f", next.toString(), "--dry-run", "--force", "--state-dir", state);
            assertEquals(ExitCodes.OK, dryForced[0], dryForced[2].toString());
            String plan = dryForced[1].toString();
            assertTrue(plan.contains("+ volume c (file " + dir + "/c.img, 4M)"), plan);
            assertTrue(plan.contains("- target " + B), plan);
            assertTrue(plan.contains("+ allowed-initiators of " + A + ": " + RAW), plan);
            assertTrue(plan.contains("+ lun 1 of " + A + ": volume c"), plan);
            assertTrue(plan.contains("dry run; nothing was changed; with --force it would be applied over:"), plan);
            assertNotNull(server.context().findTarget(B).orElse(null));
            assertFalse(Files.exists(dir.resolve("c.img")), "a dry run opens and creates nothing");
            assertArrayEquals(savedBefore, Files.readAllBytes(dir.resolve(TargetServer.RUNNING_CONFIG)));

            Object[] refused = CloneIT.cli("apply", "-f", next.toString(), "--state-dir", state);
            assertEquals(ExitCodes.REFUSED, refused[0], refused[1] + " " + refused[2]);
            assertTrue(refused[1].toString().contains("target " + B + ": 1 session(s) logged in: session "), refused[1].toString());
            assertTrue(refused[1].toString().contains("(use --force)"), refused[1].toString());
            assertNotNull(server.context().findTarget(B).orElse(null), "refused: nothing of the plan applied");
            assertEquals(1, server.context().findTarget(A).orElseThrow().luns(RAW).size());
            assertFalse(Files.exists(dir.resolve("c.img")));

            Object[] applied = CloneIT.cli("apply", "-f", next.toString(), "--force", "--state-dir", state);
            assertEquals(ExitCodes.OK, applied[0], applied[1] + " " + applied[2]);
            assertTrue(applied[1].toString().contains("applied with --force over:"), applied[1].toString());
            assertTrue(applied[1].toString().contains("is asked to log out (its target goes)"), applied[1].toString());

            // the removed target's session is asked to log out and goes (RawInitiator does not answer: the deadline)
            wb.join(30_000);
            assertFalse(wb.isAlive(), "B's session ended");
            assertNotNull(wb.ended, "B's I/O ended with its connection");
            assertNull(session(server, B));

            // A goes on over the same session and sees the new LUN after one unit attention
            long seen = wa.commands.get();
            waitForCommands(wa, seen + 200);
            wa.stop.set(true);
            wa.join(10_000);
            assertNull(wa.ended, () -> "A's I/O failed: " + wa.ended);
            assertEquals(List.of(), new ArrayList<>(wa.failures), "A's commands never fail");
            assertEquals(1, wa.lunsChanged.get(), "one REPORTED LUNS DATA HAS CHANGED on LUN 0 for A's nexus");
            assertEquals(tsihA, session(server, A).tsih(), "A's session is the same one: no reconnect");
            RawInitiator.Result luns = a.command(0, new byte[] {(byte) 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, new byte[0], 256);
            assertEquals(0, luns.status());
            assertEquals(16, java.nio.ByteBuffer.wrap(luns.data()).getInt(0), "two LUNs reported: " + luns.data().length);
            RawInitiator.Result capacity = a.command(1, new byte[] {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, new byte[0], 8);
            assertEquals(0, capacity.status(), "the new LUN answers (its power-on attention is not A's LUN 0's)");

            // the saved running configuration is the file's, and a restart restores it
            ServerConfig saved = ConfigFiles.read(dir.resolve(TargetServer.RUNNING_CONFIG));
            assertEquals(ConfigFiles.parse(config(true), "after").targets(), saved.targets());
            assertEquals(3, saved.volumes().size());
            a.close();
            b.close();
        }
    }

    @Test
    void growingAVolumeTellsTheInitiatorsThatUseIt() throws Exception {
        try (TestTarget t = TestTarget.start(dir, ConfigFiles.parse(config(false), "before"),
                io.clonetarget.server.Volumes::open)) {
            RawInitiator a = new RawInitiator(t.port());
            a.login(A);
            byte[] readCapacity = {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
            RawInitiator.Result before = a.command(0, readCapacity, new byte[0], 8);
            assertEquals(0, before.status());
            assertEquals((8 << 20) / 512 - 1, java.nio.ByteBuffer.wrap(before.data()).getInt(0));
            Object[] r = CloneIT.cli("volume", "resize", "a", "--size", "12M", "--state-dir", dir.toString());
            assertEquals(ExitCodes.OK, r[0], r[1] + " " + r[2]);
            RawInitiator.Result attention = a.command(0, readCapacity, new byte[0], 8);
            assertEquals(2, attention.status());
            assertEquals(6, attention.senseKey());
            assertEquals(0x2a, attention.asc());
            assertEquals(0x09, attention.sense()[13] & 0xff, "CAPACITY DATA HAS CHANGED");
            RawInitiator.Result after = a.command(0, readCapacity, new byte[0], 8);
            assertEquals(0, after.status());
            assertEquals((12 << 20) / 512 - 1, java.nio.ByteBuffer.wrap(after.data()).getInt(0));
            byte[] last = new byte[512];
            java.util.Arrays.fill(last, (byte) 7);
            assertEquals(0, a.write10(0, (12 << 20) / 512 - 1, last, true).status(), "the new end is writable");
            assertArrayEquals(last, a.read10(0, (12 << 20) / 512 - 1, 1).data());
            assertEquals("12M", ConfigFiles.read(dir.resolve(TargetServer.RUNNING_CONFIG)).volume("a").size().toString());
            a.close();
        }
    }

    private static void waitForCommands(Worker w, long n) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (w.commands.get() < n && w.isAlive() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            Thread.sleep(1); // polling a counter the worker advances; the condition is the count
        }
        assertTrue(w.commands.get() >= n, "worker reached " + n + " commands (" + w.commands.get() + ", ended: " + w.ended
                + ", failures: " + w.failures + ")");
    }
}
