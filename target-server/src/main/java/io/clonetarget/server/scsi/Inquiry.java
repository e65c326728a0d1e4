package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Standard INQUIRY data and the vital product data pages of a block logical unit. */
final class Inquiry {
    static final int VPD_SUPPORTED = 0x00;
    static final int VPD_SERIAL = 0x80;
    static final int VPD_DEVICE_ID = 0x83;
    static final int VPD_EXTENDED = 0x86;
    static final int VPD_THIRD_PARTY_COPY = 0x8f;
    static final int VPD_BLOCK_LIMITS = 0xb0;
    static final int VPD_BLOCK_CHARACTERISTICS = 0xb1;
    static final int VPD_PROVISIONING = 0xb2;
    private static final int[] PAGES = {VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID, VPD_EXTENDED, VPD_THIRD_PARTY_COPY,
        VPD_BLOCK_LIMITS, VPD_BLOCK_CHARACTERISTICS, VPD_PROVISIONING};

    /** Limits reported in the Block Limits page, in logical blocks. */
    record Limits(int blockSize, int optimalGranularity, long maxTransfer, long optimalTransfer, long maxUnmapLbas,
                  long maxUnmapDescriptors, long unmapGranularity, long maxWriteSame,
                  int maxCompareAndWrite, AtomicLimits atomic) {
    }

    /**
     * The WRITE ATOMIC fields of the Block Limits page (bytes 44..63), in logical blocks; the
     * atomic boundary fields are zero (ATOMIC BOUNDARY is not supported).
     */
    record AtomicLimits(long maxTransfer, long alignment, long granularity) {
    }

    private Inquiry() {
    }

    /** Standard INQUIRY data (SPC-4 section 6.6.2), 74 bytes, or for an absent LUN the 3Fh-type header. */
    static ByteBuffer standard(LunIdentity id, boolean present) {
        ByteBuffer b = ByteBuffer.allocate(74);
        b.put(0, (byte) (present ? 0x00 : 0x7f));
        b.put(2, (byte) 0x06);
        b.put(3, (byte) 0x12);
        b.put(4, (byte) (74 - 5));
        if (present) {
            // TPGS 01b: implicit ALUA (REPORT TARGET PORT GROUPS); 3PC: third-party copy (VPD 8Fh)
            b.put(5, (byte) (0x10 | 0x08));
        }
        b.put(7, (byte) 0x02);
        Cdb.putAscii(b, 8, id.vendor(), 8);
        Cdb.putAscii(b, 16, id.product(), 16);
        Cdb.putAscii(b, 32, id.revision(), 4);
        int[] versions = {0x00a0, 0x0960, 0x0460, 0x04c0};
        for (int i = 0; i < versions.length; i++) {
            b.putShort(58 + 2 * i, (short) versions[i]);
        }
        return b;
    }

    static boolean supports(int page) {
        for (int p : PAGES) {
            if (p == page) {
                return true;
            }
        }
        return false;
    }

    /** A VPD page, or null when the page is not supported. */
    static ByteBuffer vpd(int page, LunIdentity id, Nexus nexus, Limits limits, ProvisioningInfo provisioning) {
        ByteBuffer b;
        switch (page) {
            case VPD_SUPPORTED -> {
                b = ByteBuffer.allocate(4 + PAGES.length);
                for (int i = 0; i < PAGES.length; i++) {
                    b.put(4 + i, (byte) PAGES[i]);
                }
            }
            case VPD_SERIAL -> {
                byte[] s = id.serial().getBytes(StandardCharsets.US_ASCII);
                b = ByteBuffer.allocate(4 + s.length);
                b.put(4, s);
            }
            case VPD_DEVICE_ID -> b = deviceIdentification(id, nexus);
            case VPD_THIRD_PARTY_COPY -> {
                ByteBuffer d = CopyCommands.vpdDescriptors(limits.blockSize());
                b = ByteBuffer.allocate(4 + d.remaining());
                b.put(4, d, 0, d.remaining());
            }
            case VPD_EXTENDED -> {
                b = ByteBuffer.allocate(64);
                b.put(5, (byte) 0x01);
                b.put(6, (byte) 0x00);
                b.put(7, (byte) 0x00);
                b.put(8, (byte) 0x10);
            }
            case VPD_BLOCK_LIMITS -> {
                b = ByteBuffer.allocate(64);
                b.put(5, (byte) limits.maxCompareAndWrite());
                b.putShort(6, (short) limits.optimalGranularity());
                b.putInt(8, (int) limits.maxTransfer());
                b.putInt(12, (int) limits.optimalTransfer());
                b.putInt(16, (int) limits.maxTransfer());
                b.putInt(20, (int) limits.maxUnmapLbas());
                b.putInt(24, (int) limits.maxUnmapDescriptors());
                b.putInt(28, (int) limits.unmapGranularity());
                b.putInt(32, 0x8000_0000);
                b.putLong(36, limits.maxWriteSame());
                b.putInt(44, (int) limits.atomic().maxTransfer());
                b.putInt(48, (int) limits.atomic().alignment());
                b.putInt(52, (int) limits.atomic().granularity());
            }
            case VPD_BLOCK_CHARACTERISTICS -> {
                b = ByteBuffer.allocate(64);
                b.putShort(4, (short) 1);
                // WABEREQ = WACEREQ = 01b: after a BLOCK or CRYPTO ERASE sanitize, reads complete
                // without error (every block reads zeroes, see SanitizeCommands)
                b.put(7, (byte) 0x50);

            }
            case VPD_PROVISIONING -> {
                b = ByteBuffer.allocate(8);
                int flags = 0x80 | 0x40 | 0x20 | (provisioning.zeroesAfterUnmap() ? 0x04 : 0);
                b.put(4, (byte) provisioning.thresholdExponent());
                b.put(5, (byte) flags);
                b.put(6, (byte) 0x02);
            }
            default -> {
                return null;
            }
        }
        b.put(1, (byte) page);
        b.putShort(2, (short) (b.limit() - 4));
        return b;
    }

    private static ByteBuffer deviceIdentification(LunIdentity id, Nexus nexus) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.position(4);
        // logical unit: NAA-6, binary
        b.put((byte) 0x01).put((byte) 0x03).put((byte) 0).put((byte) 16).put(id.naa());
        // logical unit: T10 vendor id + serial, ASCII
        byte[] t10 = (pad(id.vendor(), 8) + id.serial()).getBytes(StandardCharsets.US_ASCII);
        b.put((byte) 0x02).put((byte) 0x01).put((byte) 0).put((byte) t10.length).put(t10);
        // target port: relative target port identifier, iSCSI, PIV
        b.put((byte) 0x51).put((byte) 0x94).put((byte) 0).put((byte) 4)
                .putShort((short) 0).putShort((short) nexus.relativeTargetPort());
        // target port: target port group, iSCSI, PIV
        b.put((byte) 0x51).put((byte) 0x95).put((byte) 0).put((byte) 4)
                .putShort((short) 0).putShort((short) PortGroups.GROUP);
        // target port: SCSI name string
        putName(b, 0x98, nexus.targetPort());
        // target device: SCSI name string
        putName(b, 0xa8, nexus.targetName());
        b.flip();
        b.put(1, (byte) VPD_DEVICE_ID);
        b.putShort(2, (short) (b.limit() - 4));
        return b;
    }

    private static void putName(ByteBuffer b, int typeByte, String name) {
        byte[] s = name.getBytes(StandardCharsets.UTF_8);
        int length = (s.length + 1 + 3) & ~3;
        b.put((byte) 0x53).put((byte) typeByte).put((byte) 0).put((byte) length).put(s);
        for (int i = s.length; i < length; i++) {
            b.put((byte) 0);
        }
    }

    private static String pad(String s, int width) {
        StringBuilder sb = new StringBuilder(s.length() > width ? s.substring(0, width) : s);
        while (sb.length() < width) {
            sb.append(' ');
        }
        return sb.toString();
    }

    /** What the provisioning page needs from the device. */
    record ProvisioningInfo(boolean zeroesAfterUnmap, int thresholdExponent) {
    }
}
