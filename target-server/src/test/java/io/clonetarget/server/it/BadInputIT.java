package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.pdu.Bhs;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed and rule-breaking PDUs from a raw initiator: each gets a Reject, a failed command or
 * a closed connection, never a write to storage, and other sessions go on.
 */
class BadInputIT {
    @TempDir
    static Path dir;
    static TestTarget target;
    static final byte[] WRITE_ONE_BLOCK = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};
    static final byte[] READ_ONE_BLOCK = {0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0};

    @BeforeAll
    static void start() throws Exception {
        target = TestTarget.start(dir, 16L << 20, 1);
    }

    @AfterAll
    static void stop() {
        target.close();
    }

    @BeforeEach
    void zeroTheLun() throws Exception {
        Files.write(target.image(0), new byte[8192], java.nio.file.StandardOpenOption.WRITE);
    }

    RawInitiator loggedIn(String... keys) throws Exception {
        RawInitiator r = new RawInitiator(target.port());
        r.login(TestTarget.IQN, keys);
        return r;
    }

    /** Block 8 of the LUN file (LBA 8) must still be zero. */
    static void nothingWritten() throws Exception {
        byte[] b = Files.readAllBytes(target.image(0));
        assertTrue(Arrays.equals(new byte[512], Arrays.copyOfRange(b, 4096, 4608)), "LBA 8 was written");
    }

    /** A second, well-behaved session still works. */
    static void othersContinue() throws Exception {
        try (RawInitiator other = new RawInitiator(target.port())) {
            other.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
            other.send(other.scsiCommand(0xc0, 0, 512, READ_ONE_BLOCK), new byte[0]);
            RawInitiator.Pdu p = other.receive(0x25);
            assertEquals(1, Bhs.flags(p.bhs()) & 1, "status in the Data-In");
            assertEquals(0, p.bhs().get(3), "GOOD");
        }
    }

    @Test
    void unknownOpcodeGetsRejectAndTheConnectionGoesOn() throws Exception {
        try (RawInitiator r = loggedIn()) {
            ByteBuffer h = RawInitiator.header(0x1c, 0x80);
            h.putInt(16, 99);
            r.send(h, new byte[12]);
            RawInitiator.Pdu reject = r.receive(0x3f);
            assertEquals(0x05, reject.bhs().get(2), "command not supported");
            assertEquals(0x1c, reject.data()[0], "carries the rejected header");
            ByteBuffer nop = RawInitiator.header(0x40, 0x80);
            nop.putInt(16, 7).putInt(20, Bhs.RESERVED_TAG).putInt(24, r.cmdSn);
            r.send(nop, new byte[]{1, 2, 3});
            RawInitiator.Pdu pong = r.receive(0x20);
            assertEquals(7, pong.itt());
            assertEquals(3, pong.data().length);
        }
        othersContinue();
    }

    @Test
    void dataSegmentLongerThanMaxRecvClosesTheConnection() throws Exception {
        try (RawInitiator r = loggedIn()) {
            ByteBuffer h = r.scsiCommand(0xa0, 0, 1 << 20, WRITE_ONE_BLOCK);
            Bhs.setDataSegmentLength(h, 300_000);
            r.sendRaw(h.array());
            RawInitiator.Pdu reject = r.receive(0x3f);
            assertEquals(0x04, reject.bhs().get(2), "protocol error");
            assertTrue(r.closedByTarget());
        }
        nothingWritten();
        othersContinue();
    }

    @Test
    void truncatedPduThenCloseLeavesNothingBehind() throws Exception {
        try (RawInitiator r = loggedIn()) {
            ByteBuffer h = r.scsiCommand(0xa0, 0, 512, WRITE_ONE_BLOCK);
            Bhs.setDataSegmentLength(h, 512);
            r.sendRaw(Arrays.copyOf(h.array(), 48));
            r.sendRaw(new byte[100]);
        }
        // the server has seen the end of that connection (and dropped its half command)
        io.clonetarget.storage.testing.Await.until(java.time.Duration.ofSeconds(10), () -> "connection closed",
                () -> target.server.context().connections().isEmpty());
        nothingWritten();
        othersContinue();
    }

    @Test
    void cmdSnOutsideTheWindowIsIgnored() throws Exception {
        try (RawInitiator r = loggedIn()) {
            ByteBuffer h = r.scsiCommand(0xa0, 0, 512, WRITE_ONE_BLOCK);
            h.putInt(24, r.cmdSn + 100_000);
            byte[] block = new byte[512];
            Arrays.fill(block, (byte) 0x77);
            r.send(h, block);
            assertFalse(r.closedByTarget(), "no answer, no close: silently ignored");
        }
        nothingWritten();
    }

    @Test
    void immediateDataBeyondFirstBurstFailsTheCommand() throws Exception {
        try (RawInitiator r = loggedIn("FirstBurstLength", "512", "MaxBurstLength", "512")) {
            byte[] cdb = {0x2a, 0, 0, 0, 0, 8, 0, 0, 2, 0};
            r.send(r.scsiCommand(0xa0, 0, 1024, cdb), new byte[1024]);
            RawInitiator.Pdu response = r.receive(0x21);
            assertEquals(0x02, response.bhs().get(3), "CHECK CONDITION");
            byte[] sense = Arrays.copyOfRange(response.data(), 2, response.data().length);
            assertEquals(0x0b, sense[2] & 0x0f, "ABORTED COMMAND");
            assertEquals(0x0c, sense[12], "UNEXPECTED UNSOLICITED DATA");
            assertEquals(0x0c, sense[13]);
        }
        nothingWritten();
        othersContinue();
    }

    @Test
    void dataOutWithWrongDataSnFailsOnlyThatCommand() throws Exception {
        try (RawInitiator r = loggedIn("ImmediateData", "No", "InitialR2T", "No")) {
            ByteBuffer cmd = r.scsiCommand(0x20, 0, 512, WRITE_ONE_BLOCK);
            int itt = cmd.getInt(16);
            r.send(cmd, new byte[0]);
            ByteBuffer data = RawInitiator.header(0x05, 0x80);
            data.putInt(16, itt).putInt(20, Bhs.RESERVED_TAG).putInt(36, 5).putInt(40, 0);
            byte[] block = new byte[512];
            Arrays.fill(block, (byte) 0x66);
            r.send(data, block);
            RawInitiator.Pdu response = r.receive(0x21);
            assertEquals(itt, response.itt());
            byte[] sense = Arrays.copyOfRange(response.data(), 2, response.data().length);
            assertEquals(0x0b, sense[2] & 0x0f);
            assertEquals(0x4b, sense[12] & 0xff, "DATA PHASE ERROR");
            r.send(r.scsiCommand(0xc0, 0, 512, READ_ONE_BLOCK), new byte[0]);
            assertEquals(0, r.receive(0x25).bhs().get(3), "the session goes on");
        }
        nothingWritten();
    }

    @Test
    void headerDigestErrorClosesTheConnection() throws Exception {
        try (RawInitiator r = loggedIn("HeaderDigest", "CRC32C")) {
            ByteBuffer h = r.scsiCommand(0xc0, 0, 512, READ_ONE_BLOCK);
            r.sendRaw(h.array());
            r.sendRaw(new byte[]{1, 2, 3, 4});
            assertTrue(r.closedByTarget());
        }
        othersContinue();
    }

    @Test
    void garbageInsteadOfALoginIsDropped() throws Exception {
        try (RawInitiator r = new RawInitiator(target.port())) {
            byte[] junk = new byte[96];
            Arrays.fill(junk, (byte) 0xff);
            r.sendRaw(junk);
            assertTrue(r.closedByTarget());
        }
        othersContinue();
    }

    @Test
    void loginToAnUnknownTargetFailsWithNotFound() throws Exception {
        try (RawInitiator r = new RawInitiator(target.port())) {
            java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> r.login("iqn.2026-11.io.clonetarget:nope"));
            assertTrue(e.getMessage().contains("status 2/3"), e.getMessage());
            assertTrue(r.closedByTarget());
        }
    }
}
