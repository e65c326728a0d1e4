package io.clonetarget.server.fuzz;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * SCSI commands other than READ and WRITE for the fuzzer, with plausible fields: every one reads
 * or does nothing to the medium (VERIFY compares its data), and the last is a random CDB, which the
 * mutator's sanitizer makes harmless.
 */
final class Cdbs {
    /** A command to send: CDB, expected transfer length, flags byte, immediate data. */
    record Command(byte[] cdb, int edtl, int flags, byte[] data) {
    }

    private Cdbs() {
    }

    private static int pick(Random rnd, int... values) {
        return values[rnd.nextInt(values.length)];
    }

    static Command other(Random rnd, LunLayout layout, Peer.Negotiated p) {
        byte[] cdb = new byte[16];
        int edtl = 512;
        int flags = 0xc0;
        byte[] data = new byte[0];
        switch (rnd.nextInt(12)) {
            case 0 -> edtl = 0; // TEST UNIT READY
            case 1 -> {
                cdb[0] = 0x12;
                cdb[1] = (byte) rnd.nextInt(2);
                cdb[2] = (byte) pick(rnd, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2, rnd.nextInt(256));
                edtl = rnd.nextInt(1024);
                cdb[4] = (byte) edtl;
                cdb[3] = (byte) (edtl >> 8);
            }
            case 2 -> {
                cdb[0] = 0x25;
                edtl = 8;
            }
            case 3 -> {
                cdb[0] = (byte) 0x9e;
                cdb[1] = (byte) (rnd.nextBoolean() ? 0x10 : 0x12);
                edtl = rnd.nextInt(4096);
                ByteBuffer.wrap(cdb).putLong(2, rnd.nextInt(1 << 17)).putInt(10, edtl);
            }
            case 4 -> {
                cdb[0] = (byte) (rnd.nextBoolean() ? 0x1a : 0x5a);
                cdb[2] = (byte) rnd.nextInt(256);
                edtl = 255;
                cdb[4] = (byte) 255;
                cdb[8] = (byte) 255;
            }
            case 5 -> {
                cdb[0] = (byte) 0xa0;
                edtl = 4096;
                ByteBuffer.wrap(cdb).putInt(6, edtl);
            }
            case 6 -> {
                cdb[0] = 0x03;
                edtl = 252;
                cdb[4] = (byte) 252;
            }
            case 7 -> {
                cdb[0] = (byte) (rnd.nextBoolean() ? 0x35 : 0x91);
                edtl = 0;
                flags = 0x80;
            }
            case 8 -> { // VERIFY(10) with BYTCHK: data out that is compared, never written
                int blocks = 1 + rnd.nextInt(8);
                cdb = FuzzRound.rw10(0x2f, rnd.nextInt((int) Math.min(layout.lunBlocks(), 1 << 30)), blocks);
                cdb[1] = 0x02;
                edtl = blocks * layout.blockSize();
                int imm = Math.min(Math.min(p.firstBurst(), p.maxBurst()), p.targetMrdsl());
                data = new byte[Math.min(edtl, p.immediateData() ? imm : 0)];
                rnd.nextBytes(data);
                flags = 0xa0;
            }
            case 9 -> {
                cdb[0] = (byte) 0xa3;
                cdb[1] = 0x0c;
                edtl = 8192;
                ByteBuffer.wrap(cdb).putInt(6, edtl);
            }
            case 10 -> {
                cdb[0] = 0x5e;
                cdb[1] = (byte) rnd.nextInt(4);
                edtl = 1024;
                cdb[8] = 4;
            }
            default -> {
                rnd.nextBytes(cdb);
                edtl = rnd.nextInt(1 << 16);
                flags = rnd.nextInt(256);
            }
        }
        return new Command(cdb, edtl, flags, data);
    }
}
