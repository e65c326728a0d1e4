package io.clonetarget.server.login;

import io.clonetarget.server.pdu.Bhs;
import java.nio.ByteBuffer;

/**
 * The fields of a Login Request BHS (RFC 7143 section 11.12).
 *
 * <pre>
 *    0|.|1| 0x03      |T|C|.|.|CSG|NSG| Version-max   | Version-min   |
 *    4|TotalAHSLength | DataSegmentLength                             |
 *    8| ISID                                                          |
 *   12|                               | TSIH                          |
 *   16| Initiator Task Tag                                            |
 *   20| CID                           | Reserved                      |
 *   24| CmdSN                                                         |
 *   28| ExpStatSN                                                     |
 * </pre>
 */
public record LoginRequest(
        boolean transit,
        boolean cont,
        int csg,
        int nsg,
        int versionMax,
        int versionMin,
        long isid,
        int tsih,
        int itt,
        int cid,
        int cmdSn,
        int expStatSn) {

    public static LoginRequest parse(ByteBuffer bhs) {
        int flags = Bhs.flags(bhs);
        long isid = (bhs.getLong(8) >>> 16) & 0xffff_ffff_ffffL;
        return new LoginRequest(
                (flags & 0x80) != 0,
                (flags & 0x40) != 0,
                (flags >> 2) & 3,
                flags & 3,
                bhs.get(2) & 0xff,
                bhs.get(3) & 0xff,
                isid,
                bhs.getShort(14) & 0xffff,
                bhs.getInt(16),
                bhs.getShort(20) & 0xffff,
                bhs.getInt(24),
                bhs.getInt(28));
    }
}
