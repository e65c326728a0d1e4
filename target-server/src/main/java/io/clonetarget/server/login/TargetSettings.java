package io.clonetarget.server.login;

/**
 * What this target offers in negotiation: the values it prefers and the limits it accepts.
 * The defaults are the fast ones of {@code clients.md}: no initial R2T, immediate data,
 * 256 KiB segments and first bursts, large bursts and several outstanding R2Ts.
 *
 * @param maxRecvDataSegmentLength the largest data segment this target receives (declared)
 * @param maxBurstLength the largest burst this target accepts (result: minimum)
 * @param firstBurstLength the largest unsolicited burst this target accepts (result: minimum)
 * @param initialR2T whether this target wants an R2T before any unsolicited data (result: OR)
 * @param immediateData whether this target accepts immediate data (result: AND)
 * @param maxOutstandingR2T R2Ts per task this target may have outstanding (result: minimum)
 * @param defaultTime2Wait seconds (result: maximum)
 * @param defaultTime2Retain seconds (result: minimum)
 * @param headerDigest whether CRC32C header digests may, must or must not be used on normal sessions
 * @param dataDigest the same for data digests
 * @param commandWindow the CmdSN window a session gets
 * @param discoveryHeaderDigest the header digest rule of discovery sessions: its own, because an
 *     initiator may have no digest setting for discovery (open-iscsi has none), so a target that
 *     requires digests on normal sessions must not lock such hosts out of SendTargets
 * @param discoveryDataDigest the same for data digests
 */
public record TargetSettings(
        int maxRecvDataSegmentLength,
        int maxBurstLength,
        int firstBurstLength,
        boolean initialR2T,
        boolean immediateData,
        int maxOutstandingR2T,
        int defaultTime2Wait,
        int defaultTime2Retain,
        DigestUse headerDigest,
        DigestUse dataDigest,
        int commandWindow,
        DigestUse discoveryHeaderDigest,
        DigestUse discoveryDataDigest) {

    public static final int MIN_SEGMENT = 512;
    public static final int MAX_SEGMENT = 16_777_215;

    public TargetSettings {
        checkRange("MaxRecvDataSegmentLength", maxRecvDataSegmentLength, MIN_SEGMENT, MAX_SEGMENT);
        checkRange("MaxBurstLength", maxBurstLength, MIN_SEGMENT, MAX_SEGMENT);
        checkRange("FirstBurstLength", firstBurstLength, MIN_SEGMENT, MAX_SEGMENT);
        if (firstBurstLength > maxBurstLength) {
            throw new IllegalArgumentException("FirstBurstLength " + firstBurstLength
                    + " exceeds MaxBurstLength " + maxBurstLength);
        }
        checkRange("MaxOutstandingR2T", maxOutstandingR2T, 1, 65535);
        checkRange("DefaultTime2Wait", defaultTime2Wait, 0, 3600);
        checkRange("DefaultTime2Retain", defaultTime2Retain, 0, 3600);
        checkRange("command window", commandWindow, 1, 65536);
    }

    private static void checkRange(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " " + value + " outside [" + min + ", " + max + "]");
        }
    }

    /** Discovery sessions allow digests without requiring them. */
    public TargetSettings(int maxRecvDataSegmentLength, int maxBurstLength, int firstBurstLength, boolean initialR2T,
                          boolean immediateData, int maxOutstandingR2T, int defaultTime2Wait, int defaultTime2Retain,
                          DigestUse headerDigest, DigestUse dataDigest, int commandWindow) {
        this(maxRecvDataSegmentLength, maxBurstLength, firstBurstLength, initialR2T, immediateData, maxOutstandingR2T,
                defaultTime2Wait, defaultTime2Retain, headerDigest, dataDigest, commandWindow, DigestUse.ALLOWED,
                DigestUse.ALLOWED);
    }

    /** The fast defaults. */
    public static TargetSettings defaults() {
        return new TargetSettings(262_144, 16_776_192, 262_144, false, true, 16, 2, 20, DigestUse.ALLOWED,
                DigestUse.ALLOWED, 256);
    }

    /** The header digest rule for a normal or a discovery session. */
    public DigestUse headerDigest(boolean discovery) {
        return discovery ? discoveryHeaderDigest : headerDigest;
    }

    /** The data digest rule for a normal or a discovery session. */
    public DigestUse dataDigest(boolean discovery) {
        return discovery ? discoveryDataDigest : dataDigest;
    }
}
