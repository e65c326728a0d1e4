package io.clonetarget.server.pdu;

import java.nio.ByteBuffer;

/**
 * Accessors over the 48-byte basic header segment, in place (absolute indexes, big-endian).
 *
 * <pre>
 * Byte/     0       |       1       |       2       |       3       |
 *    0|.|I| Opcode  |F|  Opcode-specific fields                       |
 *    4|TotalAHSLength | DataSegmentLength                             |
 *    8| LUN or opcode-specific fields                                 |
 *   12|                                                               |
 *   16| Initiator Task Tag                                            |
 *   20| Opcode-specific: TTT, EDTL, ...                               |
 *   24| CmdSN (initiator) / StatSN (target)                           |
 *   28| ExpStatSN (initiator) / ExpCmdSN (target)                     |
 *   32| opcode-specific / MaxCmdSN (target)                           |
 *   36| DataSN, R2TSN, ExpDataSN, ...                                 |
 *   40| Buffer Offset, ...                                            |
 *   44| Residual Count, Desired Data Transfer Length, ...             |
 * </pre>
 *
 * <p>Only the fields shared by many PDUs have named accessors; the rest use
 * {@link #int32(ByteBuffer, int)} with the offsets below.
 */
public final class Bhs {
    public static final int LENGTH = 48;
    public static final int RESERVED_TAG = 0xffffffff;

    public static final int OFF_ITT = 16;
    public static final int OFF_TTT = 20;
    public static final int OFF_EDTL = 20;
    public static final int OFF_CMDSN = 24;
    public static final int OFF_STATSN = 24;
    public static final int OFF_EXPSTATSN = 28;
    public static final int OFF_EXPCMDSN = 28;
    public static final int OFF_MAXCMDSN = 32;
    public static final int OFF_DATASN = 36;
    public static final int OFF_BUFFER_OFFSET = 40;
    public static final int OFF_RESIDUAL = 44;
    public static final int OFF_CDB = 32;

    public static final int FLAG_FINAL = 0x80;

    private Bhs() {
    }

    public static int opcodeCode(ByteBuffer bhs) {
        return bhs.get(0) & 0x3f;
    }

    public static boolean immediate(ByteBuffer bhs) {
        return (bhs.get(0) & 0x40) != 0;
    }

    /** Byte 1: the F bit and opcode-specific flags. */
    public static int flags(ByteBuffer bhs) {
        return bhs.get(1) & 0xff;
    }

    public static boolean finalBit(ByteBuffer bhs) {
        return (bhs.get(1) & FLAG_FINAL) != 0;
    }

    /** Total AHS length in bytes (the wire field counts 4-byte words). */
    public static int ahsLength(ByteBuffer bhs) {
        return (bhs.get(4) & 0xff) * 4;
    }

    public static int dataSegmentLength(ByteBuffer bhs) {
        return ((bhs.get(5) & 0xff) << 16) | ((bhs.get(6) & 0xff) << 8) | (bhs.get(7) & 0xff);
    }

    public static long lun(ByteBuffer bhs) {
        return bhs.getLong(8);
    }

    public static int itt(ByteBuffer bhs) {
        return bhs.getInt(OFF_ITT);
    }

    public static int int32(ByteBuffer bhs, int offset) {
        return bhs.getInt(offset);
    }

    /** Starts a target PDU: clears the header and sets opcode and flags. */
    public static ByteBuffer begin(ByteBuffer bhs, Opcode opcode, int flags) {
        for (int i = 0; i < LENGTH; i += 8) {
            bhs.putLong(i, 0L);
        }
        bhs.put(0, (byte) opcode.code());
        bhs.put(1, (byte) flags);
        return bhs;
    }

    public static void setDataSegmentLength(ByteBuffer bhs, int length) {
        if (length < 0 || length > 0xffffff) {
            throw new IllegalArgumentException("data segment length " + length);
        }
        bhs.put(5, (byte) (length >>> 16));
        bhs.put(6, (byte) (length >>> 8));
        bhs.put(7, (byte) length);
    }

    public static void setLun(ByteBuffer bhs, long lun) {
        bhs.putLong(8, lun);
    }

    public static void setInt32(ByteBuffer bhs, int offset, int value) {
        bhs.putInt(offset, value);
    }

    /** A header's hex dump for log lines. */
    public static String hex(ByteBuffer bhs) {
        StringBuilder sb = new StringBuilder(LENGTH * 2 + 8);
        for (int i = 0; i < Math.min(LENGTH, bhs.limit()); i++) {
            if (i > 0 && i % 4 == 0) {
                sb.append(' ');
            }
            sb.append(Character.forDigit((bhs.get(i) >> 4) & 0xf, 16)).append(Character.forDigit(bhs.get(i) & 0xf, 16));
        }
        return sb.toString();
    }

    /** Bytes of padding after a segment of {@code length} bytes (to a 4-byte boundary). */
    public static int padding(int length) {
        return (-length) & 3;
    }
}
