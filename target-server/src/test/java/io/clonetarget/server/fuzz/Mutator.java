package io.clonetarget.server.fuzz;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Mutations of one PDU: of the header before it is framed (bit flips, fields set to boundary
 * values, another opcode, a bogus AHS, a data segment length that lies), then of the framed bytes
 * (truncated, garbage in front, sent twice, digests or padding wrong, sent in fragments).
 *
 * <p>Every SCSI Command header that leaves here passes {@link #sanitize}: whatever the mutation
 * did, its CDB either reads, or writes only inside the fuzz region. That is what makes "no byte
 * outside the fuzz region changes" a property of the target and not of luck. (A header that the
 * target finds inside garbage or a desynchronised stream cannot be sanitised; for it to write a
 * protected block it would need opcode 01h, a write CDB, an LBA in the protected range, a CmdSN
 * inside the window or the I bit, and a consistent transfer: far below once per billion runs.)
 */
final class Mutator {
    private static final int[] FIELDS = {4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44};
    private static final int[] INTERESTING = {0, 1, -1, 0x7fffffff, 0x80000000, 0xfffffffe, 512, 4096, 65536,
        0x00ffffff, 0x01000000, 16 << 20, (16 << 20) + 512, 64 << 20, (64 << 20) + 1, 0x40000000};
    /** CDB opcodes that read or do nothing to the medium. */
    private static final int[] READ_ONLY = {0x00, 0x03, 0x08, 0x12, 0x1a, 0x25, 0x28, 0x2f, 0x35, 0x5a, 0x5e, 0x88,
        0x8f, 0x91, 0x9e, 0xa0, 0xa3, 0xa8};

    /**
     * Off only to test the fuzzer itself ({@code -Dclonetarget.fuzzNoSanitize=true}): mutated write
     * CDBs then reach the protected blocks, and the run must fail with protected-bytes-changed.
     */
    static final boolean SANITIZE = !Boolean.getBoolean("clonetarget.fuzzNoSanitize");
    private final Random rnd;
    private final LunLayout layout;
    /** What the last {@link #mutate} call did, for the round's statistics and the report. */
    final List<String> applied = new ArrayList<>();

    Mutator(Random rnd, LunLayout layout) {
        this.rnd = rnd;
        this.layout = layout;
    }

    /**
     * The bytes to send for a PDU with {@code header} (48 bytes, maybe followed by an AHS whose
     * length byte 4 gives) and {@code data}, mutated when {@code mutate}; never more than one chunk
     * per fragment in {@code out}.
     */
    List<byte[]> frame(byte[] header, byte[] data, boolean hd, boolean dd, boolean mutate) {
        applied.clear();
        byte[] h = header.clone();
        byte[] d = data;
        Wire.setDataSegmentLength(h, d.length);
        if (mutate) {
            int n = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) : 0);
            for (int i = 0; i < n; i++) {
                h = mutateHeader(h, d);
            }
        }
        sanitize(h, layout, rnd);
        byte[] framed = Wire.frame(h, d, hd, dd);
        if (mutate && rnd.nextInt(6) == 0) {
            return mutateFrame(framed, h.length, d.length, hd, dd);
        }
        if (rnd.nextInt(20) == 0) {
            applied.add("fragmented");
            return fragments(framed);
        }
        return List.of(framed);
    }

    /**
     * One header mutation. Weighted towards what keeps the stream framed (fields, flags, bits past
     * the length bytes), so that a round goes on past its first mutation more often than not.
     */
    private byte[] mutateHeader(byte[] h, byte[] d) {
        int w = rnd.nextInt(100);
        int kind = w < 30 ? 1 : w < 50 ? 0 : w < 55 ? 2 : w < 63 ? 3 : w < 68 ? 4 : w < 73 ? 5 : w < 83 ? 6
                : w < 88 ? 7 : 8;
        if (kind == 8 && Wire.opcode(h) != Wire.SCSI_COMMAND) {
            kind = 1;
        }
        switch (kind) {
            case 8 -> cdb(h);
            case 0 -> {
                int bits = 1 + rnd.nextInt(4);
                boolean framing = rnd.nextInt(4) == 0;
                for (int i = 0; i < bits; i++) {
                    int bit = framing ? rnd.nextInt(Wire.BHS * 8) : 64 + rnd.nextInt((Wire.BHS - 8) * 8);
                    h[bit / 8] ^= (byte) (1 << (bit % 8));
                }
                applied.add("bitflip x" + bits);
            }
            case 1 -> {
                int off = FIELDS[rnd.nextInt(FIELDS.length)];
                if (off == 4 && rnd.nextInt(3) != 0) {
                    off = 16; // the segment length lies rarely; ITTs more often
                }
                int v = rnd.nextInt(3) == 0 ? rnd.nextInt() : INTERESTING[rnd.nextInt(INTERESTING.length)];
                if (off == 4) {
                    v = (h[4] & 0xff) << 24 | (v & 0x00ffffff); // keep the AHS length; lie about the segment
                }
                ByteBuffer.wrap(h).putInt(off, v);
                applied.add(String.format("field@%d=%08x", off, v));
            }
            case 2 -> {
                int code = rnd.nextInt(64);
                h[0] = (byte) ((h[0] & 0x40) | code);
                applied.add(String.format("opcode=%02x", code));
            }
            case 3 -> {
                int at = rnd.nextInt(Wire.BHS);
                h[at] = (byte) (rnd.nextBoolean() ? rnd.nextInt(256) : rnd.nextBoolean() ? 0 : 0xff);
                applied.add("byte@" + at);
            }
            case 4 -> {
                return bogusAhs(h);
            }
            case 5 -> {
                int dsl = switch (rnd.nextInt(4)) {
                    case 0 -> 0xffffff;
                    case 1 -> rnd.nextInt(1 << 24);
                    default -> Math.max(0, d.length + rnd.nextInt(1201) - 600);
                };
                Wire.setDataSegmentLength(h, dsl);
                applied.add("dsl=" + dsl + " (sent " + d.length + ")");
            }
            case 6 -> {
                h[1] = (byte) rnd.nextInt(256);
                applied.add(String.format("flags=%02x", h[1] & 0xff));
            }
            default -> {
                h[0] ^= 0x40;
                applied.add("immediate bit flipped");
            }
        }
        return h;
    }

    /** A SCSI Command's CDB: its LBA anywhere in (or just past) the LUN, or one of its bytes random. */
    private void cdb(byte[] h) {
        ByteBuffer cdb = ByteBuffer.wrap(h, 32, 16).slice();
        int op = cdb.get(0) & 0xff;
        long lba = (long) (rnd.nextDouble() * (layout.lunBlocks() + 16));
        if (rnd.nextBoolean() && (op == 0x28 || op == 0x2a || op == 0x2f)) {
            cdb.putInt(2, (int) lba);
            applied.add(String.format("cdb %02xh lba=%d", op, lba));
        } else if (rnd.nextBoolean() && (op == 0x88 || op == 0x8a)) {
            cdb.putLong(2, lba);
            applied.add(String.format("cdb %02xh lba=%d", op, lba));
        } else {
            int at = 1 + rnd.nextInt(15);
            cdb.put(at, (byte) rnd.nextInt(256));
            applied.add(String.format("cdb %02xh byte %d", op, at));
        }
    }

    /** An AHS of random words; byte 4 says so, or lies (more or fewer words than sent). */
    private byte[] bogusAhs(byte[] h) {
        int words = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 255 : 8);
        byte[] ahs = new byte[words * 4];
        rnd.nextBytes(ahs);
        if (rnd.nextBoolean()) { // a well-formed extended CDB or bidirectional AHS header
            int length = rnd.nextBoolean() ? words * 4 - 3 : rnd.nextInt(1 << 16);
            ahs[0] = (byte) (length >>> 8);
            ahs[1] = (byte) length;
            ahs[2] = (byte) (1 + rnd.nextInt(2));
        }
        int claimed = rnd.nextInt(4) == 0 ? rnd.nextInt(256) : words;
        byte[] out = Arrays.copyOf(h, Wire.BHS + ahs.length);
        System.arraycopy(ahs, 0, out, Wire.BHS, ahs.length);
        out[4] = (byte) claimed;
        applied.add("ahs " + words + " words, claims " + claimed);
        return out;
    }

    private List<byte[]> mutateFrame(byte[] framed, int headerLength, int dataLength, boolean hd, boolean dd) {
        switch (rnd.nextInt(6)) {
            case 0 -> {
                int cut = rnd.nextInt(framed.length);
                applied.add("truncated to " + cut + " of " + framed.length);
                return List.of(Arrays.copyOf(framed, cut));
            }
            case 1 -> {
                byte[] junk = new byte[1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 200)];
                rnd.nextBytes(junk);
                applied.add("garbage " + junk.length + " bytes before");
                return List.of(junk, framed);
            }
            case 2 -> {
                applied.add("sent twice");
                return List.of(framed, framed);
            }
            case 3 -> {
                if (hd || dd) {
                    int at = hd && (rnd.nextBoolean() || !dd || dataLength == 0) ? headerLength : framed.length - 4;
                    framed[Math.max(0, Math.min(at, framed.length - 1))] ^= 0x5a;
                    applied.add("digest corrupted at " + at);
                } else {
                    framed[rnd.nextInt(framed.length)] ^= (byte) (1 + rnd.nextInt(255));
                    applied.add("one byte of the frame changed");
                }
                return List.of(framed);
            }
            case 4 -> {
                int pad = Wire.padding(dataLength);
                if (pad == 0) {
                    byte[] more = Arrays.copyOf(framed, framed.length + 1 + rnd.nextInt(3));
                    applied.add("extra bytes after the frame");
                    return List.of(more);
                }
                int end = headerLength + (hd ? 4 : 0) + dataLength;
                byte[] out = new byte[framed.length - pad];
                System.arraycopy(framed, 0, out, 0, end);
                System.arraycopy(framed, end + pad, out, end, framed.length - end - pad);
                applied.add("padding left out");
                return List.of(out);
            }
            default -> {
                applied.add("fragmented");
                return fragments(framed);
            }
        }
    }

    private List<byte[]> fragments(byte[] framed) {
        List<byte[]> parts = new ArrayList<>();
        int at = 0;
        while (at < framed.length) {
            int n = Math.min(framed.length - at, 1 + rnd.nextInt(rnd.nextBoolean() ? 7 : 100));
            parts.add(Arrays.copyOfRange(framed, at, at + n));
            at += n;
        }
        return parts;
    }

    /**
     * Makes a SCSI Command header harmless to the protected region: a write CDB (WRITE(10),
     * (12), (16)) is moved into the fuzz region, any other CDB that is not known to be read-only
     * becomes a READ(10) with the same remaining bytes.
     */
    static void sanitize(byte[] h, LunLayout layout, Random rnd) {
        if (h.length < Wire.BHS || Wire.opcode(h) != Wire.SCSI_COMMAND || !SANITIZE) {
            return;
        }
        ByteBuffer cdb = ByteBuffer.wrap(h, 32, 16).slice();
        int op = cdb.get(0) & 0xff;
        switch (op) {
            case 0x2a -> {
                long lba = Integer.toUnsignedLong(cdb.getInt(2));
                long blocks = cdb.getShort(7) & 0xffff;
                if (!layout.fuzzWritable(lba, blocks)) {
                    blocks = Math.min(blocks, 256);
                    cdb.putInt(2, (int) into(layout, lba, blocks)).putShort(7, (short) blocks);
                }
            }
            case 0xaa -> {
                long lba = Integer.toUnsignedLong(cdb.getInt(2));
                long blocks = Integer.toUnsignedLong(cdb.getInt(6));
                if (!layout.fuzzWritable(lba, blocks)) {
                    blocks = Math.min(blocks, 256);
                    cdb.putInt(2, (int) into(layout, lba, blocks)).putInt(6, (int) blocks);
                }
            }
            case 0x8a -> {
                long lba = cdb.getLong(2);
                long blocks = Integer.toUnsignedLong(cdb.getInt(10));
                if (lba < 0 || !layout.fuzzWritable(lba, blocks)) {
                    blocks = Math.min(blocks, 256);
                    cdb.putLong(2, into(layout, lba, blocks)).putInt(10, (int) blocks);
                }
            }
            default -> {
                boolean readOnly = false;
                for (int r : READ_ONLY) {
                    readOnly |= r == op;
                }
                if (!readOnly) {
                    cdb.put(0, (byte) 0x28);
                }
            }
        }
    }

    private static long into(LunLayout layout, long lba, long blocks) {
        long room = layout.fuzzBlocks() - blocks;
        return layout.fuzzLba() + Math.floorMod(lba, room + 1);
    }
}
