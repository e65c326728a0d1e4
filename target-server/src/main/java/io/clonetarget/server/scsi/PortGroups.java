package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/**
 * Asymmetric logical unit access (SPC-4 ALUA), implicit: every portal of a target belongs to its
 * one portal group, so a logical unit has one target port (relative target port identifier 1)
 * in one target port group ({@link #GROUP}), always active/optimized. Every path (every portal,
 * every session) therefore gets the same REPORT TARGET PORT GROUPS answer and the same VPD 83h
 * designators, which is what Windows MPIO and Linux dm-multipath need to see one disk.
 * The states cannot be set (no SET TARGET PORT GROUPS): TPGS is 01b.
 */
final class PortGroups {
    /** The target port group of every unit. */
    static final int GROUP = 1;

    private PortGroups() {
    }

    /** REPORT TARGET PORT GROUPS (MAINTENANCE IN, service action 0Ah). */
    static ScsiResult report(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        int format = Cdb.u8(cdb, 1) >>> 5;
        if (format > 1) {
            throw ScsiException.invalidCdbField(1, 7);
        }
        long allocation = Cdb.u32(cdb, 6);
        int header = format == 1 ? 8 : 4;
        ByteBuffer b = ByteBuffer.allocate(header + 8 + 4);
        b.putInt(0, b.capacity() - 4);
        if (format == 1) {
            b.put(4, (byte) 0x10); // FORMAT TYPE 001b; IMPLICIT TRANSITION TIME 0: there are no transitions
        }
        int d = header;
        b.put(d, (byte) 0x80); // PREF, active/optimized
        b.put(d + 1, (byte) 0x01); // AO_SUP: the only state this group can be in
        b.putShort(d + 2, (short) GROUP);
        b.put(d + 7, (byte) 1); // one target port
        b.putShort(d + 8 + 2, (short) task.nexus().relativeTargetPort());
        return ScsiResult.good(ModePages.copyOut(task, b.position(0), (int) Math.min(allocation, Integer.MAX_VALUE)));
    }
}
