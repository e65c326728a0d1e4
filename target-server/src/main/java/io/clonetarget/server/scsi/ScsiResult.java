package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/**
 * How a command ended.
 *
 * @param status the SAM status
 * @param sense encoded sense data, or null
 * @param dataIn data for the initiator (position 0 .. limit), or null; the transport sends at
 *     most the initiator's expected length of it
 * @param dataInLength how many data-in bytes the command produced; can exceed what
 *     {@code dataIn} holds when the initiator's buffer was smaller (a residual overflow)
 */
public record ScsiResult(ScsiStatus status, byte[] sense, ByteBuffer dataIn, long dataInLength) {

    public static ScsiResult good() {
        return new ScsiResult(ScsiStatus.GOOD, null, null, 0);
    }

    public static ScsiResult good(ByteBuffer dataIn) {
        return new ScsiResult(ScsiStatus.GOOD, null, dataIn, dataIn.remaining());
    }

    /** A failed command without data. */
    public static ScsiResult failed(ScsiStatus status, byte[] sense) {
        return new ScsiResult(status, sense, null, 0);
    }

    public boolean isGood() {
        return status == ScsiStatus.GOOD || status == ScsiStatus.CONDITION_MET;
    }
}
