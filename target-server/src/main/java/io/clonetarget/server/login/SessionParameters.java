package io.clonetarget.server.login;

/**
 * The operational parameters in force for a session and its connection after login.
 *
 * @param initiatorMaxRecvDataSegmentLength the largest segment the initiator receives (our Data-In size)
 * @param targetMaxRecvDataSegmentLength the largest segment we receive (declared by us)
 */
public record SessionParameters(
        boolean headerDigest,
        boolean dataDigest,
        int initiatorMaxRecvDataSegmentLength,
        int targetMaxRecvDataSegmentLength,
        int maxBurstLength,
        int firstBurstLength,
        boolean initialR2T,
        boolean immediateData,
        int maxOutstandingR2T,
        int defaultTime2Wait,
        int defaultTime2Retain,
        boolean dataPduInOrder,
        boolean dataSequenceInOrder,
        int errorRecoveryLevel,
        int maxConnections) {
}
