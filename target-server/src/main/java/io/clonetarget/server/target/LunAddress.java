package io.clonetarget.server.target;

/**
 * The 8-byte LUN field (SAM-5 section 4.7): single-level peripheral device addressing for LUNs
 * below 256, flat space addressing up to 16383.
 */
public final class LunAddress {
    public static final int MAX_LUN = 16383;

    private LunAddress() {
    }

    /** The LUN number of an 8-byte LUN field, or -1 when it is not a single-level address we use. */
    public static int decode(long field) {
        if ((field & 0x0000_ffff_ffff_ffffL) != 0) {
            return -1;
        }
        int b0 = (int) (field >>> 56) & 0xff;
        int b1 = (int) (field >>> 48) & 0xff;
        return switch (b0 >>> 6) {
            case 0 -> (b0 & 0x3f) == 0 ? b1 : -1;
            case 1 -> ((b0 & 0x3f) << 8) | b1;
            default -> -1;
        };
    }

    /** The 8-byte LUN field for a LUN number. */
    public static long encode(int lun) {
        if (lun < 0 || lun > MAX_LUN) {
            throw new IllegalArgumentException("LUN " + lun + " outside 0.." + MAX_LUN);
        }
        long b0 = lun < 256 ? 0 : 0x40 | (lun >>> 8);
        long b1 = lun & 0xff;
        return (b0 << 56) | (b1 << 48);
    }
}
