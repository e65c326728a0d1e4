package io.clonetarget.server.scsi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The names a logical unit answers to: a 16-byte NAA-6 (IEEE Registered Extended) designator
 * for VPD page 83h and a serial number for VPD page 80h. Both are derived from a stable seed
 * (a volume UUID, or a file's identity) so they stay the same across restarts and portals, and
 * a new volume gets new ones.
 */
public record LunIdentity(byte[] naa, String serial, String vendor, String product, String revision) {
    /**
     * The IEEE company id in the NAA designator. It has the locally-administered bit (X) set:
     * clonetarget owns no OUI, and a CID of this form can never collide with a registered one.
     */
    public static final int COMPANY_ID = 0x0AC10E;

    public LunIdentity {
        if (naa.length != 16 || (naa[0] & 0xf0) != 0x60) {
            throw new IllegalArgumentException("NAA designator must be 16 bytes of type 6");
        }
        naa = naa.clone();
        if (serial.isEmpty() || serial.length() > 32) {
            throw new IllegalArgumentException("serial must be 1..32 characters");
        }
    }

    @Override
    public byte[] naa() {
        return naa.clone();
    }

    /** An identity derived from {@code seed}; the same seed gives the same identity. */
    public static LunIdentity fromSeed(String seed, String product) {
        byte[] hash;
        try {
            hash = MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] naa = new byte[16];
        naa[0] = (byte) (0x60 | (COMPANY_ID >>> 20));
        naa[1] = (byte) (COMPANY_ID >>> 12);
        naa[2] = (byte) (COMPANY_ID >>> 4);
        naa[3] = (byte) ((COMPANY_ID << 4) | (hash[0] & 0x0f));
        System.arraycopy(hash, 1, naa, 4, 12);
        String serial = HexFormat.of().formatHex(hash, 16, 28);
        return new LunIdentity(naa, serial, "CLONETGT", product, "0001");
    }

    /** The NAA designator as 32 hex digits (what Linux shows as the wwn). */
    public String naaHex() {
        return HexFormat.of().formatHex(naa);
    }
}
