package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigFiles;
import io.clonetarget.server.ApplyResult;
import io.clonetarget.server.cli.ExitCodes;
import io.clonetarget.server.pdu.TextSegment;
import io.clonetarget.server.pdu.TextSegment.Pair;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a live change does to hosts that are logged in or logging in, case by case (a review
 * reproduced each of these as a defect first): a LUN number never silently comes to mean
 * another disk, a removed target's sessions reach nothing, a login racing a change is refused
 * when the change would have refused it, and an access list is not emptied (opened) by accident.
 */
class LiveApplyRacesIT {
    private static final String A = "iqn.2026-12.io.clonetarget:race-a";
    private static final String B = "iqn.2026-12.io.clonetarget:race-b";
    private static final String RAW = "iqn.2026-11.io.clonetarget:raw";

    @TempDir
    Path dir;

    private String head() {
        return """
                [server]
                listen = ["127.0.0.1:0"]
                state-dir = "%1$s"
                io-threads = 4

                [admin]
                listen = "127.0.0.1:0"

                [[volume]]
                name = "a"
                path = "%1$s/a.img"
                size = "8M"

                [[volume]]
                name = "b"
                path = "%1$s/b.img"
                size = "8M"
                """.formatted(dir);
    }

    private String target(String iqn, String volume, String... allowed) {
        String acl = allowed.length == 0 ? "" : "allowed-initiators = [\"" + String.join("\", \"", allowed) + "\"]\n";
        return "\n[[target]]\niqn = \"" + iqn + "\"\n" + acl + "[[target.lun]]\nlun = 0\nvolume = \"" + volume + "\"\n";
    }

    private static byte[] block(int fill) {
        byte[] b = new byte[512];
        Arrays.fill(b, (byte) fill);
        return b;
    }

    private static byte[] fileBlock(Path f, long lba) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "r")) {
            byte[] b = new byte[512];
            r.seek(lba * 512);
            r.readFully(b);
            return b;
        }
    }

    private static int ascq(RawInitiator.Result r) {
        return r.asc() << 8 | (r.sense().length > 13 ? r.sense()[13] & 0xff : 0);
    }

    private TestTarget start(String config) throws Exception {
        return TestTarget.start(dir, ConfigFiles.parse(config, "before"), io.clonetarget.server.Volumes::open);
    }

    @Test
    void aLunNumberNeverQuietlyBecomesAnotherDisk() throws Exception {
        try (TestTarget t = start(head() + target(A, "a")); RawInitiator h = new RawInitiator(t.port())) {
            h.login(A);
            assertEquals(0, h.write10(0, 0, block(0x11), true).status());
            // an extra disk for this host only: its own map starts as the default one, LUN 0 stays a
            Object[] r = CloneIT.cli("lun", "map", A, "b", "--initiator", RAW, "--state-dir", dir.toString());
            assertEquals(ExitCodes.OK, r[0], r[1] + " " + r[2]);
            assertTrue(r[1].toString().contains("+ lun 1 of " + A + " (map of " + RAW + "): volume b"), r[1].toString());
            RawInitiator.Result told = h.write10(0, 1, block(0x22), true);
            assertEquals(0x3f0e, ascq(told), "REPORTED LUNS DATA HAS CHANGED first");
            assertEquals(0, h.write10(0, 1, block(0x22), true).status());
            assertArrayEquals(block(0x22), fileBlock(dir.resolve("a.img"), 1), "LUN 0 is still volume a");
            assertFalse(Arrays.equals(block(0x22), fileBlock(dir.resolve("b.img"), 1)));

            // making LUN 0 of its map another volume under it is refused without --force ...
            Object[] swap = CloneIT.cli("lun", "unmap", A, "0", "--initiator", RAW, "--state-dir", dir.toString());
            assertEquals(ExitCodes.REFUSED, swap[0], swap[1] + " " + swap[2]);
            assertTrue(swap[1].toString().contains("lun 0 of " + A + " as session "), swap[1].toString());
            assertTrue(swap[1].toString().contains("it goes away while in use (use --force)"), swap[1].toString());
            // ... and with it, the host is told its LUN 0 is another device before anything runs there
            String reassigned = head() + "\n[[target]]\niqn = \"" + A + "\"\n[[target.lun]]\nlun = 0\nvolume = \"a\"\n"
                    + "[[target.initiator]]\nname = \"" + RAW + "\"\n[[target.initiator.lun]]\nlun = 0\nvolume = \"b\"\n";
            ApplyResult refused = t.server.apply(ConfigFiles.parse(reassigned, "swap"), false, false);
            assertFalse(refused.applied());
            assertTrue(refused.refusals().toString().contains("it would become volume b instead of a under a host using it"),
                    refused.refusals().toString());
            assertTrue(t.server.apply(ConfigFiles.parse(reassigned, "swap"), true, false).applied());
            RawInitiator.Result changed = h.read10(0, 1, 1);
            assertEquals(0x3f03, ascq(changed), "INQUIRY DATA HAS CHANGED from the unit now behind LUN 0");
            assertArrayEquals(new byte[512], h.read10(0, 1, 1).data(), "and then it reads volume b");
        }
    }

    @Test
    void aRemovedTargetsSessionReachesNothingWhileItIsAskedToLeave() throws Exception {
        try (TestTarget t = start(head() + target(A, "a")); RawInitiator old = new RawInitiator(t.port())) {
            old.login(A);
            assertEquals(0, old.write10(0, 0, block(0x11), true).status());
            ApplyResult r = t.server.apply(ConfigFiles.parse(head() + target(B, "a"), "after"), true, false);
            assertTrue(r.applied(), r.toString());
            RawInitiator.Result w = old.write10(0, 2, block(0x33), true);
            assertEquals(2, w.status());
            assertEquals(0x2500, ascq(w), "LOGICAL UNIT NOT SUPPORTED");
            assertFalse(Arrays.equals(block(0x33), fileBlock(dir.resolve("a.img"), 2)), "nothing landed");
        }
    }

    /** The first login PDU (operational stage, no transit): the target is looked up and access checked. */
    private static void startLogin(RawInitiator h, String target) throws IOException {
        ByteBuffer hd = RawInitiator.header(0x43, (1 << 2) | 1);
        hd.putLong(8, h.isid << 16);
        hd.putInt(16, h.itt);
        hd.putInt(24, h.cmdSn);
        List<Pair> pairs = new ArrayList<>(List.of(new Pair("InitiatorName", RAW), new Pair("TargetName", target),
                new Pair("SessionType", "Normal")));
        h.send(hd, TextSegment.encode(pairs));
        RawInitiator.Pdu p = h.receive();
        assertEquals(0x23, p.opcode());
        assertEquals(0, p.bhs().get(36), "first login step accepted");
    }

    /** The last login PDU; returns the status class and detail. */
    private static int finishLogin(RawInitiator h) throws IOException {
        ByteBuffer hd = RawInitiator.header(0x43, 0x80 | (1 << 2) | 3);
        hd.putLong(8, h.isid << 16);
        hd.putInt(16, h.itt++);
        hd.putInt(24, h.cmdSn);
        h.send(hd, new byte[0]);
        RawInitiator.Pdu p = h.receive();
        assertEquals(0x23, p.opcode());
        return (p.bhs().get(36) & 0xff) << 8 | (p.bhs().get(37) & 0xff);
    }

    @Test
    void aLoginUnderWayWhenItsTargetGoesIsRefused() throws Exception {
        try (TestTarget t = start(head() + target(A, "a")); RawInitiator h = new RawInitiator(t.port())) {
            startLogin(h, A);
            assertTrue(t.server.apply(ConfigFiles.parse(head() + target(B, "a"), "after"), false, false).applied());
            assertEquals(0x0203, finishLogin(h), "NOT FOUND: the target went while it logged in");
            assertTrue(t.server.context().sessions().all().isEmpty());
        }
    }

    @Test
    void aLoginUnderWayWhenItsNameIsRevokedIsRefused() throws Exception {
        try (TestTarget t = start(head() + target(A, "a", RAW)); RawInitiator h = new RawInitiator(t.port())) {
            startLogin(h, A);
            assertTrue(t.server.apply(ConfigFiles.parse(head() + target(A, "a", "iqn.2026-12.com.example:other"),
                    "after"), false, false).applied());
            assertEquals(0x0202, finishLogin(h), "AUTHORIZATION FAILURE: no longer allowed");
            assertTrue(t.server.context().sessions().all().isEmpty());
        }
    }

    @Test
    void aPlanThatFailsToPrepareLeavesNothingBehind() throws Exception {
        try (TestTarget t = start(head() + target(A, "a")); java.net.ServerSocket taken = new java.net.ServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            String next = head().replace("listen = [\"127.0.0.1:0\"]", "listen = [\"127.0.0.1:0\", \"127.0.0.1:"
                    + taken.getLocalPort() + "\"]") + "\n[[volume]]\nname = \"c\"\npath = \"" + dir + "/c.img\"\nsize = \"4M\"\n"
                    + target(A, "a");
            IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                    () -> t.server.apply(ConfigFiles.parse(next, "next"), false, false));
            assertTrue(e.getMessage().contains("server.listen: cannot listen on 127.0.0.1:" + taken.getLocalPort()),
                    e.getMessage());
            assertFalse(java.nio.file.Files.exists(dir.resolve("c.img")), "the volume file it made is gone again");
            assertEquals(2, t.server.config().volumes().size(), "nothing changed");
        }
    }

    @Test
    void removingTheLastAllowedNameNeedsForce() throws Exception {
        try (TestTarget t = start(head() + target(A, "a", RAW))) {
            Object[] r = CloneIT.cli("acl", "remove", A, "--initiator", RAW, "--state-dir", dir.toString());
            assertEquals(ExitCodes.FAILURE, r[0], r[1] + " " + r[2]);
            assertTrue(r[2].toString().contains("removing the last allowed initiator of " + A
                    + " opens it to every initiator name; use --force if that is meant"), r[2].toString());
            assertEquals(List.of(RAW), t.server.config().target(A).allowedInitiators());
        }
    }
}
