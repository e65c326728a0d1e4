package io.clonetarget.server.session;

import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.pdu.OutboundPdu;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.scsi.ScsiResult;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The PDUs that answer a SCSI command (RFC 7143 sections 11.4 and 11.7): Data-In PDUs of at most
 * the initiator's MaxRecvDataSegmentLength, grouped in sequences of MaxBurstLength (F bit), then
 * the status; with GOOD status and no sense the status rides on the last Data-In (phase
 * collapse). Residuals are computed here, in one place, from what the command produced or
 * wanted and the initiator's expected transfer length.
 */
final class CommandResponse {
    private CommandResponse() {
    }

    /**
     * The PDUs in sending order; the last one carries the status.
     *
     * @param wantedOut the data-out bytes the CDB asks for (for a write's residual)
     */
    static List<OutboundPdu> pdus(IscsiTask task, ScsiResult result, SessionParameters params, long wantedOut) {
        ByteBuffer data = result.dataIn();
        long readEdtl = task.read ? Integer.toUnsignedLong(task.edtl) : 0;
        long writeEdtl = task.write ? Integer.toUnsignedLong(task.edtl) : 0;
        long residual;
        int sendBytes = 0;
        if (data != null && result.dataInLength() > 0) {
            residual = result.dataInLength() - readEdtl;
            sendBytes = (int) Math.min(data.remaining(), readEdtl);
        } else if (wantedOut > 0) {
            residual = wantedOut - writeEdtl;
        } else {
            residual = -(task.read ? readEdtl : writeEdtl);
        }
        int status = result.status().code();
        boolean collapse = sendBytes > 0 && result.sense() == null && result.isGood();
        int segment = params.initiatorMaxRecvDataSegmentLength();
        int burst = params.maxBurstLength();
        int offset = 0;
        int dataSn = 0;
        int inBurst = 0;
        OutboundPdu last = null;
        List<OutboundPdu> pdus = new ArrayList<>(2);
        while (offset < sendBytes) {
            int n = Math.min(Math.min(segment, sendBytes - offset), burst - inBurst);
            boolean end = offset + n == sendBytes;
            inBurst += n;
            boolean fin = end || inBurst == burst;
            if (inBurst == burst) {
                inBurst = 0;
            }
            last = Pdus.dataIn(task.lunField, task.itt, dataSn++, offset, data.slice(offset, n), fin,
                    end && collapse, status, residual);
            offset += n;
            if (!end) {
                pdus.add(last);
            }
        }
        OutboundPdu response = collapse ? last
                : Pdus.scsiResponse(task.itt, status, result.sense(), task.write ? task.nextR2tSn : dataSn, residual);
        if (!collapse && last != null) {
            pdus.add(last);
        }
        pdus.add(response);
        return pdus;
    }
}
