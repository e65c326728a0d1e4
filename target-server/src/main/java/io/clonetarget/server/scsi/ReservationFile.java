package io.clonetarget.server.scsi;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The encoding of a {@link PrState} that APTPL keeps (docs/formats/reservation-state.md), big
 * endian:
 *
 * <pre>
 *   0   4  magic "CTPR"
 *   4   2  version (1)
 *   6   2  reserved (0)
 *   8   4  length of the whole file in bytes, checksum included
 *  12  16  NAA designator of the logical unit it belongs to
 *  28   1  reservation type (0: none)
 *  29   1  scope (0: logical unit)
 *  30   2  reserved (0)
 *  32   4  holder: index of its registration, FFFFFFFFh for none or all-registrants types
 *  36   4  number of registrations N
 *  40      N registrations, each: key (8, non-zero), relative target port (2), then the
 *          initiator name, initiator port and target name, each a 2-byte length and UTF-8
 * L-4   4  CRC32C of bytes 0 to L-4
 * </pre>
 *
 * Decoding checks, in order, the size, the magic, the version, the length, the checksum, the
 * logical unit, then every field, and names the first that fails. Stateless.
 */
final class ReservationFile {
    static final int MAGIC = 0x43545052; // "CTPR"
    static final int VERSION = 1;
    static final int HEADER = 40;
    private static final int NO_HOLDER = -1;
    private static final int MAX_REGISTRATIONS = 1 << 16;
    private static final int MAX_NAME = 1024;

    private ReservationFile() {
    }

    static byte[] encode(PrState state, byte[] naa) {
        List<byte[][]> names = new ArrayList<>();
        int size = HEADER + 4;
        int holderIndex = NO_HOLDER;
        int i = 0;
        for (Nexus n : state.registrations().keySet()) {
            byte[][] s = {utf8(n.initiatorName()), utf8(n.initiatorPort()), utf8(n.targetName())};
            names.add(s);
            size = Math.addExact(size, 8 + 2 + 6 + s[0].length + s[1].length + s[2].length);
            if (n.equals(state.holder())) {
                holderIndex = i;
            }
            i++;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putInt(MAGIC).putShort((short) VERSION).putShort((short) 0).putInt(size).put(naa);
        b.put((byte) state.type()).put((byte) 0).putShort((short) 0);
        b.putInt(holderIndex).putInt(state.registrations().size());
        i = 0;
        for (Map.Entry<Nexus, Long> e : state.registrations().entrySet()) {
            b.putLong(e.getValue()).putShort((short) e.getKey().relativeTargetPort());
            for (byte[] s : names.get(i++)) {
                b.putShort((short) s.length).put(s);
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, size - 4);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    private static byte[] utf8(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_NAME) {
            throw new IllegalArgumentException("name longer than " + MAX_NAME + " bytes: " + s);
        }
        return b;
    }

    /** The state in {@code bytes}, which must belong to the logical unit {@code naa}; APTPL is on. */
    static PrState decode(byte[] bytes, byte[] naa) throws CorruptReservationStateException {
        if (bytes.length < HEADER + 4) {
            throw corrupt(bytes.length + " bytes, shorter than the " + (HEADER + 4)
                    + "-byte header and checksum (torn or truncated)");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int magic = b.getInt(0);
        if (magic != MAGIC) {
            throw corrupt(String.format("magic is %08xh, not %08xh (\"CTPR\"): not a reservation state file", magic, MAGIC));
        }
        int version = b.getShort(4) & 0xffff;
        if (version != VERSION) {
            throw corrupt("version " + version + "; this clonetarget reads version " + VERSION);
        }
        long length = b.getInt(8) & 0xffff_ffffL;
        if (length != bytes.length) {
            throw corrupt("the header says " + length + " bytes but the file has " + bytes.length
                    + " (torn or truncated)");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        int stored = b.getInt(bytes.length - 4);
        if (stored != (int) crc.getValue()) {
            throw corrupt(String.format("checksum mismatch: stored %08xh, computed %08xh", stored, (int) crc.getValue()));
        }
        byte[] owner = new byte[16];
        b.get(12, owner);
        if (!java.util.Arrays.equals(owner, naa)) {
            throw corrupt("belongs to the logical unit " + HexFormat.of().formatHex(owner) + ", not "
                    + HexFormat.of().formatHex(naa));
        }
        int type = b.get(28) & 0xff;
        if (type != 0 && !PrState.validType(type)) {
            throw corrupt("reservation type " + type + " is not a persistent reservation type");
        }
        if ((b.get(29) & 0xff) != 0) {
            throw corrupt("scope " + (b.get(29) & 0xff) + " is not 0 (logical unit)");
        }
        int holderIndex = b.getInt(32);
        long count = b.getInt(36) & 0xffff_ffffL;
        if (count > MAX_REGISTRATIONS) {
            throw corrupt(count + " registrations, more than " + MAX_REGISTRATIONS);
        }
        Map<Nexus, Long> registrations = new LinkedHashMap<>();
        Nexus holder = null;
        b.position(HEADER).limit(bytes.length - 4);
        for (int i = 0; i < count; i++) {
            Nexus n;
            long key;
            try {
                key = b.getLong();
                int port = b.getShort() & 0xffff;
                n = new Nexus(string(b), string(b), string(b), port);
            } catch (BufferUnderflowException e) {
                throw corrupt("registration " + i + " of " + count + " runs past the end");
            }
            if (key == 0) {
                throw corrupt("registration " + i + " has key 0");
            }
            if (!n.initiatorPort().startsWith(n.initiatorName() + ",i,0x")) {
                throw corrupt("registration " + i + ": initiator port " + n.initiatorPort() + " is not of "
                        + n.initiatorName());
            }
            if (registrations.put(n, key) != null) {
                throw corrupt("registration " + i + " repeats " + n.initiatorPort() + " on " + n.targetPort());
            }
            if (i == holderIndex) {
                holder = n;
            }
        }
        if (b.hasRemaining()) {
            throw corrupt(b.remaining() + " bytes after the last registration");
        }
        boolean needsHolder = type != 0 && !PrState.allRegistrants(type);
        if (needsHolder && holder == null) {
            throw corrupt("a reservation of type " + type + " whose holder index " + holderIndex
                    + " is not one of the " + count + " registrations");
        }
        if (!needsHolder && holderIndex != NO_HOLDER) {
            throw corrupt("holder index " + holderIndex + " without a single-holder reservation");
        }
        if (type != 0 && registrations.isEmpty()) {
            throw corrupt("a reservation of type " + type + " without registrations");
        }
        return new PrState(registrations, holder, type, true);
    }

    private static String string(ByteBuffer b) throws CorruptReservationStateException {
        int length = b.getShort() & 0xffff;
        if (length > MAX_NAME) {
            throw corrupt("a name of " + length + " bytes, more than " + MAX_NAME);
        }
        byte[] s = new byte[length];
        b.get(s);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(s)).toString();
        } catch (CharacterCodingException e) {
            throw corrupt("a name that is not UTF-8");
        }
    }

    private static CorruptReservationStateException corrupt(String why) {
        return new CorruptReservationStateException(why);
    }
}
