package io.clonetarget.server.scsi;

/**
 * Sense data (SPC-4 section 4.5): a sense key, ASC/ASCQ, optionally an INFORMATION value and a
 * sense-key specific field (the field pointer of an ILLEGAL REQUEST). Encoded in fixed format
 * (response code 70h) or, when the control mode page's D_SENSE bit is set, descriptor format
 * (72h).
 *
 * @param information the INFORMATION field, or -1 for none
 * @param senseKeySpecific the 3-byte sense-key specific field with SKSV set, or 0 for none
 */
public record SenseData(SenseKey key, int asc, int ascq, long information, int senseKeySpecific) {

    public static SenseData of(Asc asc) {
        return new SenseData(asc.key(), asc.asc(), asc.ascq(), -1, 0);
    }

    /** An ILLEGAL REQUEST with a field pointer into the CDB ({@code inCdb}) or the parameter list. */
    public static SenseData fieldPointer(Asc asc, boolean inCdb, int byteOffset, int bit) {
        int sks = 0x800000 | (inCdb ? 0x400000 : 0) | (byteOffset & 0xffff);
        if (bit >= 0) {
            sks |= 0x080000 | ((bit & 7) << 16);
        }
        return new SenseData(asc.key(), asc.asc(), asc.ascq(), -1, sks);
    }

    /**
     * Sense with a progress indication (SPC-4 4.5.2.4.4): how far an operation in progress has
     * got, as a numerator over 65536.
     */
    public static SenseData progress(Asc asc, int numerator) {
        return new SenseData(asc.key(), asc.asc(), asc.ascq(), -1, 0x800000 | (numerator & 0xffff));
    }

    public SenseData withInformation(long value) {
        return new SenseData(key, asc, ascq, value, senseKeySpecific);
    }

    /** Fixed format (70h) sense data, 18 bytes. */
    public byte[] fixed() {
        byte[] b = new byte[18];
        b[0] = (byte) (0x70 | (information >= 0 ? 0x80 : 0));
        b[2] = (byte) key.code();
        if (information >= 0) {
            b[3] = (byte) (information >>> 24);
            b[4] = (byte) (information >>> 16);
            b[5] = (byte) (information >>> 8);
            b[6] = (byte) information;
        }
        b[7] = 10;
        b[12] = (byte) asc;
        b[13] = (byte) ascq;
        if (senseKeySpecific != 0) {
            b[15] = (byte) (senseKeySpecific >>> 16);
            b[16] = (byte) (senseKeySpecific >>> 8);
            b[17] = (byte) senseKeySpecific;
        }
        return b;
    }

    /** Descriptor format (72h) sense data with information and sense-key specific descriptors. */
    public byte[] descriptor() {
        int length = 8 + (information >= 0 ? 12 : 0) + (senseKeySpecific != 0 ? 8 : 0);
        byte[] b = new byte[length];
        b[0] = 0x72;
        b[1] = (byte) key.code();
        b[2] = (byte) asc;
        b[3] = (byte) ascq;
        b[7] = (byte) (length - 8);
        int p = 8;
        if (information >= 0) {
            b[p] = 0x00;
            b[p + 1] = 0x0a;
            b[p + 2] = (byte) 0x80;
            for (int i = 0; i < 8; i++) {
                b[p + 4 + i] = (byte) (information >>> (56 - 8 * i));
            }
            p += 12;
        }
        if (senseKeySpecific != 0) {
            b[p] = 0x02;
            b[p + 1] = 0x06;
            b[p + 4] = (byte) (senseKeySpecific >>> 16);
            b[p + 5] = (byte) (senseKeySpecific >>> 8);
            b[p + 6] = (byte) senseKeySpecific;
        }
        return b;
    }

    public byte[] encode(boolean descriptorFormat) {
        return descriptorFormat ? descriptor() : fixed();
    }

    @Override
    public String toString() {
        return String.format("%s %02xh/%02xh", key, asc, ascq);
    }
}
