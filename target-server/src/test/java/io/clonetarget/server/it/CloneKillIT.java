package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.server.admin.AdminClient;
import io.clonetarget.server.admin.Json;
import io.clonetarget.server.cli.Cli;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash contract, end to end: a clone served by a real server process, written through
 * iSCSI with stamped sectors (plain, FUA and SYNCHRONIZE CACHE) while it hydrates, killed with
 * SIGKILL at random moments, restarted. After every restart each sector must hold its last
 * durable version (acknowledged before a completed SYNCHRONIZE CACHE, or FUA) or one written
 * after it, never anything else; at the end hydration completes and the destination alone
 * holds the disk.
 */
class CloneKillIT {
    static final long SIZE = 32L << 20;
    static final int SECTORS = (int) (SIZE / 512);
    static final int ROUNDS = 24;
    static final String IQN = "iqn.2026-11.io.clonetarget:kill";
    @TempDir
    Path dir;
    byte[] golden;
    /** Per sector: the versions it may hold after a crash; the first is the durable one. */
    final List<List<Long>> candidates = new ArrayList<>();

    static byte[] stamp(long version, int sector) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.putLong(version).putLong(sector);
        long x = version * 0x9E3779B97F4A7C15L ^ sector * 0xBF58476D1CE4E5B9L;
        while (b.hasRemaining()) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b.putLong(x);
        }
        return b.array();
    }

    /** The version a sector's bytes are, or -1 when they are none of ours (torn or foreign). */
    long versionOf(byte[] data, int offset, int sector) {
        if (java.util.Arrays.equals(data, offset, offset + 512, golden, sector * 512, sector * 512 + 512)) {
            return 0;
        }
        long v = ByteBuffer.wrap(data, offset, 16).getLong();
        return v > 0 && java.util.Arrays.equals(data, offset, offset + 512, stamp(v, sector), 0, 512) ? v : -1;
    }

    ProcessIT.Running start() throws Exception {
        return new ProcessIT.Running(List.of(ProcessIT.java(), "--enable-native-access=ALL-UNNAMED", "-jar",
                ProcessIT.jar().toString(), "serve", "--listen", "127.0.0.1:0", "--target", IQN,
                "--clone", dir.resolve("golden.img") + ",dest=" + dir.resolve("clone.img") + ",region=64K,rate=2M",
                "--state-dir", dir.resolve("state").toString()), dir.resolve("xdg"));
    }

    /** Reads every sector, checks it against the model, and makes what it found the new durable state. */
    void verifyAndSettle(RawInitiator r, int round) throws IOException {
        int chunk = 128;
        for (int first = 0; first < SECTORS; first += chunk) {
            RawInitiator.Result read = r.read10(0, first, chunk);
            assertEquals(0, read.status(), "round " + round + ": read at " + first);
            for (int i = 0; i < chunk; i++) {
                int s = first + i;
                long found = versionOf(read.data(), i * 512, s);
                List<Long> allowed = candidates.get(s);
                if (!allowed.contains(found)) {
                    fail("round " + round + ": sector " + s + " holds " + (found < 0 ? "bytes of no version" : "version "
                            + found) + "; allowed " + allowed + " (0 = the source; the first is the durable one)");
                }
                if (allowed.size() > 1 || allowed.getFirst() != found) {
                    allowed.clear();
                    allowed.add(found);
                }
            }
        }
        assertEquals(0, r.synchronizeCache(0).status(), "what was read is now durable");
    }

    @Test
    void killedAtRandomMomentsItNeverLosesASynchronizedWrite() throws Exception {
        Random random = new Random(20261124);
        golden = new byte[(int) SIZE];
        random.nextBytes(golden);
        Files.write(dir.resolve("golden.img"), golden);
        for (int s = 0; s < SECTORS; s++) {
            candidates.add(new ArrayList<>(List.of(0L)));
        }
        long version = 0;
        int writes = 0;
        int syncs = 0;
        int fuas = 0;
        for (int round = 0; round < ROUNDS; round++) {
            try (ProcessIT.Running server = start()) {
                try (RawInitiator r = new RawInitiator(server.port)) {
                    r.login(IQN);
                    verifyAndSettle(r, round);
                    long killAfter = 50 + random.nextInt(1200);
                    Thread killer = Thread.ofVirtual().start(() -> {
                        try {
                            Thread.sleep(killAfter);
                            server.signal("KILL");
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    Set<Integer> sinceSync = new HashSet<>();
                    try {
                        while (true) {
                            if (random.nextInt(8) == 0) {
                                RawInitiator.Result sync = r.synchronizeCache(0);
                                assertEquals(0, sync.status(), "SYNCHRONIZE CACHE");
                                syncs++;
                                for (int s : sinceSync) {
                                    List<Long> c = candidates.get(s);
                                    long last = c.getLast();
                                    c.clear();
                                    c.add(last);
                                }
                                sinceSync.clear();
                                continue;
                            }
                            int blocks = 1 + random.nextInt(8);
                            int lba = random.nextInt(SECTORS - blocks);
                            boolean fua = random.nextInt(10) == 0;
                            long v = ++version;
                            byte[] data = new byte[blocks * 512];
                            for (int i = 0; i < blocks; i++) {
                                System.arraycopy(stamp(v, lba + i), 0, data, i * 512, 512);
                                candidates.get(lba + i).add(v);
                            }
                            RawInitiator.Result w = r.write10(0, lba, data, fua);
                            assertEquals(0, w.status(), "WRITE(10)");
                            writes++;
                            for (int i = 0; i < blocks; i++) {
                                if (fua) {
                                    List<Long> c = candidates.get(lba + i);
                                    c.clear();
                                    c.add(v);
                                } else {
                                    sinceSync.add(lba + i);
                                }
                            }
                            fuas += fua ? 1 : 0;
                        }
                    } catch (IOException killed) {
                        // the server died under the command in flight: it stays a candidate, not durable
                    }
                    killer.join();
                }
                assertTrue(server.process.waitFor(30, TimeUnit.SECONDS), "killed");
            }
        }
        // the last start: everything must still be there, and hydration goes on to the end
        try (ProcessIT.Running server = start()) {
            try (RawInitiator r = new RawInitiator(server.port)) {
                r.login(IQN);
                verifyAndSettle(r, ROUNDS);
            }
            Path socket = dir.resolve("state").resolve("admin.sock");
            AdminClient.call(socket, "clone-rate", Json.MAPPER.createObjectNode().put("rate", 0));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            JsonNode status;
            while (!(status = AdminClient.call(socket, "clone-status", null).get(0)).path("complete").asBoolean()) {
                assertTrue(System.nanoTime() < deadline, "hydration completes: " + status);
                Thread.sleep(100);
            }
            try (RawInitiator r = new RawInitiator(server.port)) {
                r.login(IQN);
                verifyAndSettle(r, ROUNDS + 1);
            }
            assertEquals(0, server.terminate(), server.output());
        }
        // the destination alone holds every sector's last version, and the metadata says all is hydrated
        byte[] dest = Files.readAllBytes(dir.resolve("clone.img"));
        for (int s = 0; s < SECTORS; s++) {
            assertEquals(candidates.get(s).getFirst(), versionOf(dest, s * 512, s), "destination sector " + s);
        }
        StringWriter out = new StringWriter();
        int rc = Cli.commandLine(new PrintWriter(out, true), new PrintWriter(out, true))
                .execute("metadata", "check", dir.resolve("clone.img.meta").toString());
        assertEquals(0, rc, out.toString());
        assertTrue(out.toString().contains("512 of 512 regions hydrated"), out.toString());
        assertTrue(writes > 200 && syncs > 20 && fuas > 10, "a real workload: " + writes + " writes, " + syncs
                + " syncs, " + fuas + " FUA writes");
        System.out.printf("CloneKillIT: %d rounds, %d writes, %d syncs, %d FUA writes%n", ROUNDS, writes, syncs, fuas);
    }
}
