package io.clonetarget.server.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * A well-behaved initiator that proves the target still works: it logs in as a new session, writes
 * a 4 KiB block as immediate data and 512 KiB that need an R2T, reads both back and compares, reads
 * the capacity, and logs out; the target must answer the logout and close the connection. A unit
 * attention (a reset by the fuzzer) is retried, as any initiator does.
 */
final class Checker {
    /** The target failed the check; the message says at which step and how. */
    static final class CheckFailed extends Exception {
        CheckFailed(String message) {
            super(message);
        }
    }

    private record Result(int status, byte[] data, byte[] sense) {
        int senseKey() {
            return sense.length > 2 ? sense[2] & 0x0f : -1;
        }
    }

    private final FuzzRound.Endpoint endpoint;
    private final LunLayout layout;
    private final Random rnd;
    private int checks;
    private Peer peer;
    private int cmdSn;
    private int itt;

    Checker(FuzzRound.Endpoint endpoint, LunLayout layout, long seed) {
        this.endpoint = endpoint;
        this.layout = layout;
        this.rnd = new Random(seed);
    }

    void check() throws CheckFailed {
        String step = "connect";
        checks++;
        try (Peer pr = Peer.connect(endpoint.host(), endpoint.port(), 262144, 10_000)) {
            peer = pr;
            step = "login";
            cmdSn = rnd.nextInt();
            itt = 1;
            long isid = 0x0000_2300_0000L | (checks & 0xffffff);
            peer.login(isid, itt++, cmdSn, Peer.keys("iqn.2026-11.io.clonetarget:checker", endpoint.iqn(), 262144,
                    Map.of("ImmediateData", "Yes", "InitialR2T", "Yes", "FirstBurstLength", "262144",
                            "MaxBurstLength", "262144")));
            step = "TEST UNIT READY";
            Result r = null;
            for (int i = 0; i < 4; i++) {
                r = command(new byte[16], new byte[0], 0);
                if (r.status() == 0) {
                    break;
                }
                if (r.senseKey() != 6) {
                    throw new CheckFailed("TEST UNIT READY: status " + r.status() + " sense key " + r.senseKey());
                }
            }
            if (r.status() != 0) {
                throw new CheckFailed("TEST UNIT READY still failing after 4 unit attentions");
            }
            step = "READ CAPACITY(10)";
            byte[] cap = new byte[16];
            cap[0] = 0x25;
            r = good(step, retried(cap, new byte[0], 8));
            long lastLba = Integer.toUnsignedLong(ByteBuffer.wrap(r.data()).getInt(0));
            int blockLength = ByteBuffer.wrap(r.data()).getInt(4);
            if (lastLba != layout.lunBlocks() - 1 || blockLength != layout.blockSize()) {
                throw new CheckFailed("READ CAPACITY says " + (lastLba + 1) + " blocks of " + blockLength
                        + ", expected " + layout.lunBlocks() + " of " + layout.blockSize());
            }
            for (int blocks : new int[]{4096 / layout.blockSize(), (512 << 10) / layout.blockSize()}) {
                long lba = layout.checkerLba() + rnd.nextInt((int) (layout.checkerBlocks() - blocks + 1));
                byte[] data = new byte[blocks * layout.blockSize()];
                rnd.nextBytes(data);
                step = "WRITE(10) of " + blocks + " blocks at " + lba;
                good(step, retried(cdb10(0x2a, lba, blocks), data, 0));
                step = "READ(10) of " + blocks + " blocks at " + lba;
                r = good(step, retried(cdb10(0x28, lba, blocks), new byte[0], data.length));
                if (!Arrays.equals(r.data(), data)) {
                    throw new CheckFailed("read back differs from what was written (" + blocks + " blocks at LBA "
                            + lba + ")");
                }
            }
            step = "logout";
            ByteBuffer h = Wire.header(0x40 | Wire.LOGOUT_REQUEST, 0x80);
            h.putInt(16, itt++).putInt(24, cmdSn).putInt(28, peer.expStatSn);
            peer.send(Wire.pdu(h.array(), new byte[0], peer.params.headerDigest(), false));
            Peer.Received lr = next(Wire.LOGOUT_RESPONSE, -1);
            if (lr.header()[2] != 0) {
                throw new CheckFailed("logout response " + lr.header()[2]);
            }
            if (!peer.awaitClose(10_000)) {
                throw new CheckFailed("the target did not close the connection within 10 s of the logout response");
            }
        } catch (IOException e) {
            throw new CheckFailed(step + ": " + e);
        } finally {
            peer = null;
        }
    }

    private static byte[] cdb10(int op, long lba, int blocks) {
        byte[] cdb = new byte[16];
        cdb[0] = (byte) op;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return cdb;
    }

    private static Result good(String step, Result r) throws CheckFailed {
        if (r.status() != 0) {
            throw new CheckFailed(step + ": status " + r.status() + ", sense key " + r.senseKey() + ", sense "
                    + Wire.hex(r.sense()));
        }
        return r;
    }

    /**
     * A command sent again after a unit attention, up to 4 times, as any initiator does: a reset
     * the fuzzer's last PDUs asked for may be carried out while this session runs.
     */
    private Result retried(byte[] cdb, byte[] dataOut, int readLength) throws IOException, CheckFailed {
        Result r = command(cdb, dataOut, readLength);
        for (int i = 0; i < 4 && r.status() != 0 && r.senseKey() == 6; i++) {
            r = command(cdb, dataOut, readLength);
        }
        return r;
    }

    /** One command: immediate data up to 256 KiB, the rest on R2Ts; collects Data-In and status. */
    private Result command(byte[] cdb, byte[] dataOut, int readLength) throws IOException, CheckFailed {
        boolean write = dataOut.length > 0;
        int myItt = itt++;
        ByteBuffer h = Wire.header(Wire.SCSI_COMMAND, 0x80 | (write ? 0x20 : 0) | (readLength > 0 ? 0x40 : 0) | 1);
        h.putLong(8, (long) endpoint.lun() << 48);
        h.putInt(16, myItt).putInt(20, write ? dataOut.length : readLength).putInt(24, cmdSn++);
        h.putInt(28, peer.expStatSn).put(32, cdb);
        int imm = Math.min(dataOut.length, Math.min(peer.params.firstBurst(), peer.params.targetMrdsl()));
        if (!peer.params.immediateData()) {
            imm = 0;
        }
        peer.send(Wire.pdu(h.array(), Arrays.copyOf(dataOut, imm), peer.params.headerDigest(),
                peer.params.dataDigest()));
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        while (true) {
            Peer.Received p = next(-1, myItt);
            switch (p.opcode()) {
                case Wire.R2T -> {
                    int ttt = p.int32(20);
                    int offset = p.int32(40);
                    int length = p.int32(44);
                    int dataSn = 0;
                    for (int done = 0; done < length; ) {
                        int n = Math.min(length - done, peer.params.targetMrdsl());
                        ByteBuffer d = Wire.header(Wire.DATA_OUT, done + n == length ? 0x80 : 0);
                        d.putLong(8, (long) endpoint.lun() << 48);
                        d.putInt(16, myItt).putInt(20, ttt).putInt(28, peer.expStatSn).putInt(36, dataSn++)
                                .putInt(40, offset + done);
                        peer.send(Wire.pdu(d.array(), Arrays.copyOfRange(dataOut, offset + done, offset + done + n),
                                peer.params.headerDigest(), peer.params.dataDigest()));
                        done += n;
                    }
                }
                case Wire.DATA_IN -> {
                    in.write(p.data());
                    if ((p.header()[1] & 1) != 0) {
                        return new Result(p.header()[3] & 0xff, in.toByteArray(), new byte[0]);
                    }
                }
                case Wire.SCSI_RESPONSE -> {
                    byte[] sense = new byte[0];
                    if (p.data().length >= 2) {
                        int n = ((p.data()[0] & 0xff) << 8) | (p.data()[1] & 0xff);
                        sense = Arrays.copyOfRange(p.data(), 2, Math.min(p.data().length, 2 + n));
                    }
                    return new Result(p.header()[3] & 0xff, in.toByteArray(), sense);
                }
                default -> throw new CheckFailed("unexpected opcode " + Integer.toHexString(p.opcode())
                        + " for the checker's command: " + Wire.hex(p.header()));
            }
        }
    }

    /** The next PDU for {@code forItt} (or of {@code opcode}), answering NOP-In pings on the way. */
    private Peer.Received next(int opcode, int forItt) throws IOException, CheckFailed {
        while (true) {
            Peer.Received p = peer.receive();
            if (!peer.targetErrors.isEmpty()) {
                throw new CheckFailed("malformed PDU from the target: " + peer.targetErrors.getFirst());
            }
            if (p.opcode() == Wire.NOP_IN) {
                if (p.int32(20) != Wire.RESERVED_TAG) {
                    ByteBuffer h = Wire.header(0x40 | Wire.NOP_OUT, 0x80);
                    h.putLong(8, ByteBuffer.wrap(p.header()).getLong(8));
                    h.putInt(16, Wire.RESERVED_TAG).putInt(20, p.int32(20)).putInt(24, cmdSn)
                            .putInt(28, peer.expStatSn);
                    peer.send(Wire.pdu(h.array(), new byte[0], peer.params.headerDigest(), false));
                }
                continue;
            }
            if (p.opcode() == Wire.ASYNC) {
                continue;
            }
            if (p.opcode() == Wire.REJECT) {
                throw new CheckFailed("the target rejected the checker's PDU: reason " + (p.header()[2] & 0xff)
                        + ", header " + Wire.hex(p.data(), 0, Math.min(48, p.data().length)));
            }
            if ((opcode >= 0 && p.opcode() == opcode) || (forItt != -1 && p.itt() == forItt)) {
                return p;
            }
            throw new CheckFailed("unexpected PDU for the checker: " + Wire.hex(p.header()).replace('\n', ' '));
        }
    }
}
