package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persistent reservations with APTPL over iSCSI survive a {@code kill -9} of the server process:
 * the same initiator ports (name and ISID) find their registrations and the reservation after the
 * restart on the same state directory, and APTPL=0 makes the next restart forget them.
 */
class AptplRestartIT {
    static final String IQN = "iqn.2026-11.io.clonetarget:aptpl";
    static final int WERO = 5;
    static final int CONFLICT = 0x18;

    @TempDir
    Path dir;

    List<String> serve() {
        return List.of(ProcessIT.java(), "--enable-native-access=ALL-UNNAMED", "-jar", ProcessIT.jar().toString(),
                "serve", "--state-dir", dir.resolve("state").toString(), "--listen", "127.0.0.1:0", "--target", IQN,
                "--lun", dir.resolve("disk.img") + ",size=16M", "--admin-listen", "off");
    }

    static RawInitiator login(int port, long isid) throws IOException {
        RawInitiator i = new RawInitiator(port);
        i.isid = isid;
        i.login(IQN);
        return i;
    }

    /** A command, sent again once if the first answer is a unit attention (as after a restart or a preemption). */
    static RawInitiator.Result command(RawInitiator i, byte[] cdb, byte[] out, int in) throws IOException {
        RawInitiator.Result r = i.command(0, cdb, out, in);
        if (r.status() == 2 && r.senseKey() == 6) {
            r = i.command(0, cdb, out, in);
        }
        return r;
    }

    static RawInitiator.Result prOut(RawInitiator i, int action, int type, long key, long saKey, boolean aptpl)
            throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x5f;
        cdb[1] = (byte) action;
        cdb[2] = (byte) type;
        cdb[8] = 24;
        ByteBuffer p = ByteBuffer.allocate(24);
        p.putLong(0, key).putLong(8, saKey).put(20, (byte) (aptpl ? 1 : 0));
        return command(i, cdb, p.array(), 0);
    }

    static ByteBuffer prIn(RawInitiator i, int action) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x5e;
        cdb[1] = (byte) action;
        cdb[8] = (byte) 0xff;
        RawInitiator.Result r = command(i, cdb, new byte[0], 0xff);
        assertEquals(0, r.status(), "PR IN " + action);
        return ByteBuffer.wrap(r.data());
    }

    static List<Long> keys(RawInitiator i) throws IOException {
        ByteBuffer b = prIn(i, 0);
        List<Long> keys = new ArrayList<>();
        for (int k = 0; k < b.getInt(4) / 8; k++) {
            keys.add(b.getLong(8 + 8 * k));
        }
        return keys;
    }

    static int write(RawInitiator i) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2a;
        cdb[8] = 1;
        return command(i, cdb, new byte[512], 0).status();
    }

    @Test
    void registrationsAndTheReservationSurviveKillNine() throws Exception {
        long isidA = 0x4000_0137_0001L;
        long isidB = 0x4000_0137_0002L;
        try (ProcessIT.Running server = new ProcessIT.Running(serve(), dir.resolve("xdg"));
             RawInitiator a = login(server.port, isidA);
             RawInitiator b = login(server.port, isidB)) {
            assertEquals(0, prOut(a, 6, 0, 0, 0xa1, true).status(), "A registers with APTPL");
            assertEquals(0, prOut(b, 6, 0, 0, 0xb2, true).status(), "B registers with APTPL");
            assertEquals(0, prOut(a, 1, WERO, 0xa1, 0, false).status(), "A reserves");
            assertEquals(0x01, prIn(a, 2).get(3) & 0x01, "PTPL_A");
            server.signal("KILL"); // no shutdown of any kind: what is not on disk when GOOD came is lost
            assertTrue(server.process.waitFor(30, TimeUnit.SECONDS));
        }
        try (var files = Files.list(dir.resolve("state/reservations").resolve(IQN))) {
            List<Path> saved = files.toList();
            assertEquals(1, saved.size(), saved.toString());
            assertTrue(saved.get(0).getFileName().toString().endsWith(".pr"), saved.toString());
        }
        try (ProcessIT.Running server = new ProcessIT.Running(serve(), dir.resolve("xdg"));
             RawInitiator a = login(server.port, isidA);
             RawInitiator b = login(server.port, isidB);
             RawInitiator c = login(server.port, 0x4000_0137_0003L)) {
            assertEquals(List.of(0xa1L, 0xb2L), keys(b), "both registrations are back");
            ByteBuffer r = prIn(b, 1);
            assertEquals(16, r.getInt(4), "a reservation is present:\n" + server.output());
            assertEquals(0xa1, r.getLong(8), "held by A");
            assertEquals(WERO, r.get(21));
            assertEquals(0, write(a), "the holder writes");
            assertEquals(0, write(b), "a registrant writes under write exclusive, registrants only");
            assertEquals(CONFLICT, write(c), "an initiator port that never registered does not");
            assertEquals(0, prOut(b, 0, 0, 0xb2, 0xb2, false).status(), "APTPL=0");
            assertEquals(0, server.terminate(), server.output());
        }
        try (ProcessIT.Running server = new ProcessIT.Running(serve(), dir.resolve("xdg"));
             RawInitiator a = login(server.port, isidA)) {
            assertEquals(List.of(), keys(a), "after APTPL=0 nothing survives a restart");
            assertEquals(0, prIn(a, 1).getInt(4));
            assertEquals(0, server.terminate(), server.output());
        }
    }
}
