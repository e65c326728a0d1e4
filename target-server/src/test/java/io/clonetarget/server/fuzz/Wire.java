package io.clonetarget.server.fuzz;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * iSCSI framing for the fuzzer, written from RFC 7143 without the server's classes: the 48-byte
 * BHS, padding, CRC32C digests (least significant byte first on the wire) and text segments.
 */
public final class Wire {
    public static final int BHS = 48;
    public static final int RESERVED_TAG = 0xffffffff;

    static final int NOP_OUT = 0x00;
    static final int SCSI_COMMAND = 0x01;
    static final int TMF_REQUEST = 0x02;
    static final int LOGIN_REQUEST = 0x03;
    static final int TEXT_REQUEST = 0x04;
    static final int DATA_OUT = 0x05;
    static final int LOGOUT_REQUEST = 0x06;
    static final int SNACK = 0x10;

    static final int NOP_IN = 0x20;
    static final int SCSI_RESPONSE = 0x21;
    static final int TMF_RESPONSE = 0x22;
    static final int LOGIN_RESPONSE = 0x23;
    static final int TEXT_RESPONSE = 0x24;
    static final int DATA_IN = 0x25;
    static final int LOGOUT_RESPONSE = 0x26;
    static final int R2T = 0x31;
    static final int ASYNC = 0x32;
    static final int REJECT = 0x3f;

    private Wire() {
    }

    /** Whether a target may send this opcode (RFC 7143 section 11.1.1). */
    static boolean targetOpcode(int code) {
        return switch (code) {
            case NOP_IN, SCSI_RESPONSE, TMF_RESPONSE, LOGIN_RESPONSE, TEXT_RESPONSE, DATA_IN, LOGOUT_RESPONSE, R2T,
                 ASYNC, REJECT -> true;
            default -> false;
        };
    }

    static ByteBuffer header(int opcodeByte, int flags) {
        ByteBuffer h = ByteBuffer.allocate(BHS);
        h.put(0, (byte) opcodeByte).put(1, (byte) flags);
        return h;
    }

    static int opcode(byte[] h) {
        return h[0] & 0x3f;
    }

    static int dataSegmentLength(byte[] h) {
        return ((h[5] & 0xff) << 16) | ((h[6] & 0xff) << 8) | (h[7] & 0xff);
    }

    static void setDataSegmentLength(byte[] h, int length) {
        h[5] = (byte) (length >>> 16);
        h[6] = (byte) (length >>> 8);
        h[7] = (byte) length;
    }

    static int padding(int length) {
        return (4 - (length & 3)) & 3;
    }

    static int crc32c(byte[] b, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(b, off, len);
        crc.update(new byte[3], 0, padding(len));
        return (int) crc.getValue();
    }

    static void putDigest(ByteArrayOutputStream out, int digest) {
        out.write(digest);
        out.write(digest >>> 8);
        out.write(digest >>> 16);
        out.write(digest >>> 24);
    }

    static int getDigest(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    /**
     * A whole PDU: header (with AHS appended, its length already in byte 4), header digest,
     * data, padding, data digest. The data segment length field is set from {@code data}.
     */
    static byte[] pdu(byte[] header, byte[] data, boolean headerDigest, boolean dataDigest) {
        byte[] h = header.clone();
        setDataSegmentLength(h, data.length);
        return frame(h, data, headerDigest, dataDigest);
    }

    /** As {@link #pdu}, but keeps whatever data segment length the header says (for lies). */
    static byte[] frame(byte[] header, byte[] data, boolean headerDigest, boolean dataDigest) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(header.length + data.length + 12);
        out.writeBytes(header);
        if (headerDigest) {
            putDigest(out, crc32c(header, 0, header.length));
        }
        out.writeBytes(data);
        out.write(new byte[padding(data.length)], 0, padding(data.length));
        if (dataDigest && data.length > 0) {
            putDigest(out, crc32c(data, 0, data.length));
        }
        return out.toByteArray();
    }

    /** {@code key=value\0...}. */
    static byte[] text(Map<String, String> pairs) {
        StringBuilder sb = new StringBuilder();
        pairs.forEach((k, v) -> sb.append(k).append('=').append(v).append('\0'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Map<String, String> parseText(byte[] data) {
        Map<String, String> pairs = new LinkedHashMap<>();
        String s = new String(data, StandardCharsets.UTF_8);
        for (String entry : s.split("\0")) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                pairs.put(entry.substring(0, eq), entry.substring(eq + 1));
            }
        }
        return pairs;
    }

    public static String hex(byte[] b) {
        return hex(b, 0, b.length);
    }

    /** Hex in groups of four bytes, 48 bytes (one BHS) per line. */
    public static String hex(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder();
        HexFormat f = HexFormat.of();
        for (int i = 0; i < len; i++) {
            if (i > 0) {
                sb.append(i % 48 == 0 ? "\n" : i % 4 == 0 ? " " : "");
            }
            sb.append(f.toHexDigits(b[off + i]));
        }
        return sb.toString();
    }
}
