package io.clonetarget.server.pdu;

import io.clonetarget.server.pdu.OutboundPdu.StatSnUse;
import java.nio.ByteBuffer;

/**
 * Builders for the PDUs a target sends (RFC 7143 section 11). StatSN, ExpCmdSN and MaxCmdSN are
 * left to the writer; each builder says whether the PDU consumes a StatSN.
 */
public final class Pdus {
    private Pdus() {
    }

    private static ByteBuffer header(Opcode op, int flags) {
        return Bhs.begin(OutboundPdu.newHeader(), op, flags);
    }

    /**
     * Login Response.
     *
     * <pre>
     *    0|.|.| 0x23      |T|C|.|.|CSG|NSG| Version-max   | Version-active|
     *    8| ISID (6 bytes)                                | TSIH          |
     *   16| Initiator Task Tag                                            |
     *   36| Status-Class  | Status-Detail | Reserved                      |
     * </pre>
     */
    public static OutboundPdu loginResponse(boolean transit, int csg, int nsg, long isid, int tsih, int itt,
                                            int statusClass, int statusDetail, byte[] data) {
        int flags = (transit ? 0x80 : 0) | ((csg & 3) << 2) | (nsg & 3);
        ByteBuffer h = header(Opcode.LOGIN_RESPONSE, flags);
        h.putLong(8, (isid << 16) | (tsih & 0xffff));
        h.putInt(16, itt);
        h.put(36, (byte) statusClass);
        h.put(37, (byte) statusDetail);
        return OutboundPdu.of(h, data.length > 0 ? ByteBuffer.wrap(data) : null, StatSnUse.ADVANCE);
    }

    /** Text Response; {@code ttt} is 0xffffffff on the final part. */
    public static OutboundPdu textResponse(boolean fin, boolean cont, long lun, int itt, int ttt, byte[] data) {
        ByteBuffer h = header(Opcode.TEXT_RESPONSE, (fin ? 0x80 : 0) | (cont ? 0x40 : 0));
        h.putLong(8, lun);
        h.putInt(16, itt);
        h.putInt(20, ttt);
        return OutboundPdu.of(h, data.length > 0 ? ByteBuffer.wrap(data) : null, StatSnUse.ADVANCE);
    }

    /** NOP-In answering a NOP-Out (consumes a StatSN) with the ping data echoed. */
    public static OutboundPdu nopInReply(long lun, int itt, ByteBuffer pingData) {
        ByteBuffer h = header(Opcode.NOP_IN, 0x80);
        h.putLong(8, lun);
        h.putInt(16, itt);
        h.putInt(20, Bhs.RESERVED_TAG);
        return OutboundPdu.of(h, pingData != null && pingData.hasRemaining() ? pingData : null, StatSnUse.ADVANCE);
    }

    /** A target-initiated NOP-In asking for an answer with {@code ttt} (does not consume a StatSN). */
    public static OutboundPdu nopInPing(int ttt) {
        ByteBuffer h = header(Opcode.NOP_IN, 0x80);
        h.putInt(16, Bhs.RESERVED_TAG);
        h.putInt(20, ttt);
        return OutboundPdu.of(h, null, StatSnUse.CURRENT);
    }

    /**
     * R2T.
     *
     * <pre>
     *   20| Target Transfer Tag  | 36| R2TSN | 40| Buffer Offset | 44| Desired Data Transfer Length
     * </pre>
     */
    public static OutboundPdu r2t(long lun, int itt, int ttt, int r2tSn, int offset, int length) {
        ByteBuffer h = header(Opcode.R2T, 0x80);
        h.putLong(8, lun);
        h.putInt(16, itt);
        h.putInt(20, ttt);
        h.putInt(36, r2tSn);
        h.putInt(40, offset);
        h.putInt(44, length);
        return OutboundPdu.of(h, null, StatSnUse.CURRENT);
    }

    /** Residual flags of Data-In (with S) and SCSI Response: O=overflow, U=underflow. */
    public static int residualFlags(long residual) {
        return residual > 0 ? 0x04 : residual < 0 ? 0x02 : 0;
    }

    /**
     * SCSI Data-In.
     *
     * <pre>
     *    0|.|.| 0x25      |F|A|0 0 0|O|U|S| Reserved      | Status or Rsvd|
     *   20| Target Transfer Tag (0xffffffff)                              |
     *   24| StatSN (with S) | 36| DataSN | 40| Buffer Offset | 44| Residual Count
     * </pre>
     *
     * @param residual positive: overflow, negative: underflow, 0: none (used only with status)
     */
    public static OutboundPdu dataIn(long lun, int itt, int dataSn, int offset, ByteBuffer data, boolean fin,
                                     boolean withStatus, int status, long residual) {
        int flags = (fin ? 0x80 : 0) | (withStatus ? 0x01 | residualFlags(residual) : 0);
        ByteBuffer h = header(Opcode.DATA_IN, flags);
        if (withStatus) {
            h.put(3, (byte) status);
            h.putInt(44, (int) Math.abs(residual));
        }
        h.putLong(8, lun);
        h.putInt(16, itt);
        h.putInt(20, Bhs.RESERVED_TAG);
        h.putInt(36, dataSn);
        h.putInt(40, offset);
        return OutboundPdu.of(h, data, withStatus ? StatSnUse.ADVANCE : StatSnUse.NONE);
    }

    /**
     * SCSI Response.
     *
     * <pre>
     *    0|.|.| 0x21      |1|. .|o|u|O|U|.| Response      | Status        |
     *   36| ExpDataSN | 40| Bidirectional Read Residual Count | 44| Residual Count
     *   48| SenseLength (2 bytes) | Sense Data ...
     * </pre>
     */
    public static OutboundPdu scsiResponse(int itt, int status, byte[] sense, int expDataSn, long residual) {
        ByteBuffer h = header(Opcode.SCSI_RESPONSE, 0x80 | residualFlags(residual));
        h.put(2, (byte) 0x00);
        h.put(3, (byte) status);
        h.putInt(16, itt);
        h.putInt(36, expDataSn);
        h.putInt(44, (int) Math.abs(residual));
        ByteBuffer data = null;
        if (sense != null && sense.length > 0) {
            data = ByteBuffer.allocate(2 + sense.length);
            data.putShort((short) sense.length).put(sense).flip();
        }
        return OutboundPdu.of(h, data, StatSnUse.ADVANCE);
    }

    /** Task Management Function Response. */
    public static OutboundPdu tmfResponse(int itt, int response) {
        ByteBuffer h = header(Opcode.TASK_MANAGEMENT_RESPONSE, 0x80);
        h.put(2, (byte) response);
        h.putInt(16, itt);
        return OutboundPdu.of(h, null, StatSnUse.ADVANCE);
    }

    /** Logout Response (Time2Wait and Time2Retain 0: nothing to retain at ERL 0). */
    public static OutboundPdu logoutResponse(int itt, int response) {
        ByteBuffer h = header(Opcode.LOGOUT_RESPONSE, 0x80);
        h.put(2, (byte) response);
        h.putInt(16, itt);
        return OutboundPdu.of(h, null, StatSnUse.ADVANCE);
    }

    /**
     * Reject, carrying the rejected PDU's header as its data segment.
     *
     * <pre>
     *    0|.|.| 0x3f      |1| Reserved    | Reason        | Reserved      |
     *   16| 0xffffffff | 36| DataSN/R2TSN or Reserved | 48| Header of the bad PDU
     * </pre>
     */
    public static OutboundPdu reject(RejectReason reason, ByteBuffer rejectedHeader) {
        ByteBuffer h = header(Opcode.REJECT, 0x80);
        h.put(2, (byte) reason.code());
        h.putInt(16, Bhs.RESERVED_TAG);
        ByteBuffer copy = ByteBuffer.allocate(Bhs.LENGTH);
        copy.put(rejectedHeader.duplicate().position(0).limit(Bhs.LENGTH)).flip();
        return OutboundPdu.of(h, copy, StatSnUse.ADVANCE);
    }

    /**
     * Asynchronous Message with SCSI sense data (AsyncEvent 0): how a target tells initiators
     * that its LUNs changed (RFC 7143 section 11.9). Consumes a StatSN, as every PDU with
     * status does: the Linux initiator sets its ExpStatSN to this StatSN + 1.
     *
     * <pre>
     *    0|.|.| 0x32      |1| Reserved                                    |
     *    8| LUN                                                           |
     *   16| 0xffffffff | 20| Reserved | 24| StatSN | 28| ExpCmdSN | 32| MaxCmdSN
     *   36| AsyncEvent (0) | AsyncVCode (0) | Parameter1..3 (reserved)    |
     *   48| SenseLength (2 bytes) | Sense Data ...
     * </pre>
     *
     * @param lun the 8-byte LUN field the event is about
     * @param sense the sense data (for example REPORTED LUNS DATA HAS CHANGED, 3Fh/0Eh)
     */
    public static OutboundPdu asyncScsiEvent(long lun, byte[] sense) {
        if (sense.length > 0xffff) {
            throw new IllegalArgumentException("sense data of " + sense.length + " bytes");
        }
        ByteBuffer h = header(Opcode.ASYNC_MESSAGE, 0x80);
        h.putLong(8, lun);
        h.putInt(16, Bhs.RESERVED_TAG);
        h.put(36, (byte) 0);
        ByteBuffer data = ByteBuffer.allocate(2 + sense.length);
        data.putShort((short) sense.length).put(sense).flip();
        return OutboundPdu.of(h, data, StatSnUse.ADVANCE);
    }

    /**
     * Asynchronous Message asking the initiator to log out within {@code seconds} (AsyncEvent 1,
     * Parameter3 = seconds; LUN and the other parameters reserved, no data segment). Consumes a
     * StatSN.
     *
     * <pre>
     *   36| AsyncEvent (1) | AsyncVCode (0) | Parameter1 (0) | 40| Parameter2 (0) | 42| Parameter3
     * </pre>
     */
    public static OutboundPdu asyncRequestLogout(int seconds) {
        if (seconds < 0 || seconds > 0xffff) {
            throw new IllegalArgumentException("Parameter3 of " + seconds + " s");
        }
        ByteBuffer h = header(Opcode.ASYNC_MESSAGE, 0x80);
        h.putInt(16, Bhs.RESERVED_TAG);
        h.put(36, (byte) 1);
        h.putShort(42, (short) seconds);
        return OutboundPdu.of(h, null, StatSnUse.ADVANCE);
    }
}
