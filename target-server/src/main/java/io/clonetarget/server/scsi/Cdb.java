package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/** Big-endian field access on CDBs and parameter lists, with unsigned results. */
public final class Cdb {
    private Cdb() {
    }

    public static int u8(ByteBuffer b, int offset) {
        return b.get(offset) & 0xff;
    }

    public static int u16(ByteBuffer b, int offset) {
        return b.getShort(offset) & 0xffff;
    }

    public static int u24(ByteBuffer b, int offset) {
        return (u8(b, offset) << 16) | u16(b, offset + 1);
    }

    public static long u32(ByteBuffer b, int offset) {
        return b.getInt(offset) & 0xffff_ffffL;
    }

    /** A 64-bit field; values at or above 2^63 come back negative (callers range-check). */
    public static long u64(ByteBuffer b, int offset) {
        return b.getLong(offset);
    }

    public static boolean bit(ByteBuffer b, int offset, int bit) {
        return (b.get(offset) & (1 << bit)) != 0;
    }

    public static int opcode(ByteBuffer cdb) {
        return u8(cdb, 0);
    }

    /** The control byte: the last byte of a CDB of the given length. */
    public static int control(ByteBuffer cdb, int length) {
        return u8(cdb, length - 1);
    }

    /** CDB length from the opcode's group code (SPC-4 section 4.2.5.1), or -1 for vendor groups. */
    public static int lengthOf(int opcode) {
        return switch (opcode >>> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            case 3 -> opcode == 0x7f ? -2 : -1;
            default -> -1;
        };
    }

    public static void put16(ByteBuffer b, int offset, int value) {
        b.putShort(offset, (short) value);
    }

    public static void put32(ByteBuffer b, int offset, long value) {
        b.putInt(offset, (int) value);
    }

    public static void put64(ByteBuffer b, int offset, long value) {
        b.putLong(offset, value);
    }

    /** Writes ASCII text padded with spaces to {@code width} bytes. */
    public static void putAscii(ByteBuffer b, int offset, String text, int width) {
        for (int i = 0; i < width; i++) {
            char c = i < text.length() ? text.charAt(i) : ' ';
            b.put(offset + i, (byte) (c >= 0x20 && c < 0x7f ? c : '?'));
        }
    }
}
