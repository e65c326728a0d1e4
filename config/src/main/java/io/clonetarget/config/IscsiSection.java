package io.clonetarget.config;

/**
 * What the target offers in login negotiation (RFC 7143 section 13). Defaults are the fast
 * ones: no initial R2T, immediate data, 256 KiB segments and first bursts, 16 MiB bursts.
 *
 * @param headerDigest whether CRC32C header digests may, must or must not be used
 * @param dataDigest the same for data digests
 * @param commandWindow how many commands a session may have outstanding (CmdSN window)
 * @param discoveryHeaderDigest the header digest rule of discovery (SendTargets) sessions, its
 *     own because some initiators (open-iscsi) have no digest setting for them: {@code allowed}
 *     by default, whatever {@code header-digest} says
 * @param discoveryDataDigest the same for data digests
 */
public record IscsiSection(ByteSize maxRecvDataSegmentLength, ByteSize firstBurstLength, ByteSize maxBurstLength,
                           Integer maxOutstandingR2t, Boolean initialR2t, Boolean immediateData,
                           DigestPolicy headerDigest, DigestPolicy dataDigest, Integer commandWindow,
                           DigestPolicy discoveryHeaderDigest, DigestPolicy discoveryDataDigest) {
    public IscsiSection {
        maxRecvDataSegmentLength = maxRecvDataSegmentLength == null ? ByteSize.ofBytes(262_144) : maxRecvDataSegmentLength;
        firstBurstLength = firstBurstLength == null ? ByteSize.ofBytes(262_144) : firstBurstLength;
        maxBurstLength = maxBurstLength == null ? ByteSize.ofBytes(16_776_192) : maxBurstLength;
        maxOutstandingR2t = maxOutstandingR2t == null ? 16 : maxOutstandingR2t;
        initialR2t = initialR2t != null && initialR2t;
        immediateData = immediateData == null || immediateData;
        headerDigest = headerDigest == null ? DigestPolicy.ALLOWED : headerDigest;
        dataDigest = dataDigest == null ? DigestPolicy.ALLOWED : dataDigest;
        commandWindow = commandWindow == null ? 256 : commandWindow;
        discoveryHeaderDigest = discoveryHeaderDigest == null ? DigestPolicy.ALLOWED : discoveryHeaderDigest;
        discoveryDataDigest = discoveryDataDigest == null ? DigestPolicy.ALLOWED : discoveryDataDigest;
    }

    /** With the default discovery digest rules. */
    public IscsiSection(ByteSize maxRecvDataSegmentLength, ByteSize firstBurstLength, ByteSize maxBurstLength,
                        Integer maxOutstandingR2t, Boolean initialR2t, Boolean immediateData,
                        DigestPolicy headerDigest, DigestPolicy dataDigest, Integer commandWindow) {
        this(maxRecvDataSegmentLength, firstBurstLength, maxBurstLength, maxOutstandingR2t, initialR2t, immediateData,
                headerDigest, dataDigest, commandWindow, null, null);
    }

    public static IscsiSection defaults() {
        return new IscsiSection(null, null, null, null, null, null, null, null, null, null, null);
    }
}
