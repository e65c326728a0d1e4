package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ABORT TASK and LOGICAL UNIT RESET racing Data-Out: a writer sends a write's data in pieces on
 * one thread while the abort comes from another session (LUN RESET) or from the writer's own
 * session (ABORT TASK), at seeded random moments. Invariants: the writer's connection survives
 * (the old code could drop it with a NullPointerException when an abort emptied a buffer the
 * reader was filling); once the abort is answered, the write has either landed (whole) or never
 * will: the blocks are read then, and again at the end, and must not change in between.
 */
class TaskManagementRaceIT {
    static final int BLOCKS = 16;
    @TempDir
    Path dir;

    static byte[] pattern(int round) {
        byte[] b = new byte[BLOCKS * 512];
        Arrays.fill(b, (byte) (round * 7 + 1));
        ByteBuffer.wrap(b).putInt(0, round);
        return b;
    }

    /** Sends a LOGICAL UNIT RESET or an ABORT TASK and waits for its response. */
    static int taskManagement(RawInitiator r, int function, int referencedItt, int referencedCmdSn) throws IOException {
        ByteBuffer h = RawInitiator.header(0x02 | 0x40, 0x80 | function);
        h.putLong(8, 0);
        int itt = r.itt++;
        h.putInt(16, itt).putInt(20, referencedItt).putInt(24, r.cmdSn).putInt(28, r.expStatSn)
                .putInt(32, referencedCmdSn);
        r.send(h, new byte[0]);
        while (true) {
            RawInitiator.Pdu p = r.receive();
            if (p.opcode() == 0x22 && p.itt() == itt) {
                return p.bhs().get(2) & 0xff;
            }
        }
    }

    /** A read that retries once past the unit attention a reset leaves. */
    static byte[] read(RawInitiator r, long lba) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            RawInitiator.Result res = r.read10(0, lba, BLOCKS);
            if (res.status() == 0) {
                return res.data();
            }
            assertEquals(2, res.status(), "a read after a reset: GOOD or the unit attention");
            assertEquals(6, res.senseKey(), "UNIT ATTENTION");
        }
        throw new AssertionError("the unit attention did not clear");
    }

    @Test
    void abortsRacingDataOutNeitherDropConnectionsNorLandLate() throws Exception {
        long seed = Long.getLong("clonetarget.tmfSeed", 20261201L);
        Random random = new Random(seed);
        try (TestTarget t = TestTarget.start(dir, 16L << 20, 1);
             RawInitiator writer = new RawInitiator(t.port());
             RawInitiator resetter = new RawInitiator(t.port())) {
            writer.isid = 0x0002_3d00_0011L;
            resetter.isid = 0x0002_3d00_0012L;
            writer.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144", "ImmediateData", "No",
                    "InitialR2T", "Yes");
            resetter.login(TestTarget.IQN);
            writer.socket.setSoTimeout(20_000);
            byte[][] afterAbort = new byte[40][];
            for (int round = 0; round < afterAbort.length; round++) {
                long lba = 64L * round;
                byte[] data = pattern(round);
                byte[] cdb = new byte[16];
                cdb[0] = 0x2a;
                ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) BLOCKS);
                ByteBuffer cmd = writer.scsiCommand(0x80 | 0x20 | 0x01, 0, data.length, cdb);
                int itt = cmd.getInt(16);
                int cmdSn = cmd.getInt(24);
                writer.send(cmd, new byte[0]);
                RawInitiator.Pdu r2t = writer.receive(0x31);
                int ttt = r2t.bhs().getInt(20);
                boolean ownAbort = random.nextBoolean();
                int pieces = 4;
                int splitAt = random.nextInt(pieces + 1);
                long pause = random.nextInt(3);
                Thread sender = Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < pieces; i++) {
                            int n = data.length / pieces;
                            ByteBuffer d = RawInitiator.header(0x05, i == pieces - 1 ? 0x80 : 0);
                            d.putLong(8, 0).putInt(16, itt).putInt(20, ttt).putInt(28, writer.expStatSn)
                                    .putInt(36, i).putInt(40, i * n);
                            writer.send(d, Arrays.copyOfRange(data, i * n, (i + 1) * n));
                            if (i == splitAt) {
                                Thread.sleep(pause);
                            }
                        }
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                int response;
                if (ownAbort) {
                    sender.join(); // the writer's session sends its own ABORT TASK after (some of) its data
                    response = taskManagement(writer, 1, itt, cmdSn);
                } else {
                    response = taskManagement(resetter, 5, 0, 0);
                    sender.join();
                }
                assertTrue(response == 0 || response == 1, "round " + round + ": TMF response " + response);
                // from here the write has landed whole or never will
                byte[] now = read(writer, lba);
                if (!Arrays.equals(now, data) && !Arrays.equals(now, new byte[data.length])) {
                    fail("round " + round + " (seed " + seed + "): the blocks hold neither the write nor what was there");
                }
                afterAbort[round] = now;
            }
            for (int round = 0; round < afterAbort.length; round++) {
                assertTrue(Arrays.equals(afterAbort[round], read(writer, 64L * round)), "round " + round + " (seed "
                        + seed + "): an aborted write landed after its abort was answered");
            }
            // (a read: this session negotiated ImmediateData=No, which write10's immediate data would break)
            RawInitiator.Result last = writer.read10(0, 4000, 1);
            assertEquals(0, last.status(), "the writer's connection lived through it: sense key " + last.senseKey()
                    + " ASC " + Integer.toHexString(last.asc()));
        }
    }
}
