package io.clonetarget.config;

/**
 * What initiators can make the server spend ({@code [server.limits]}).
 *
 * @param maxConnections connections open at once, logged in or not
 * @param maxPendingLogins connections that have not logged in yet; when full, the one waiting
 *     longest is closed to make room
 * @param maxConnectionsPerAddress connections from one source address
 * @param sendTimeout how long an initiator may take nothing of what is sent before its
 *     connection is closed
 * @param sessionData data buffers one session's commands may hold before its command window
 *     stops growing (twice that: TASK SET FULL)
 * @param serverData the same for all sessions together
 */
public record LimitsSection(Integer maxConnections, Integer maxPendingLogins, Integer maxConnectionsPerAddress,
                            Interval sendTimeout, ByteSize sessionData, ByteSize serverData) {
    public LimitsSection {
        maxConnections = maxConnections == null ? 1024 : maxConnections;
        maxPendingLogins = maxPendingLogins == null ? 256 : maxPendingLogins;
        maxConnectionsPerAddress = maxConnectionsPerAddress == null ? 256 : maxConnectionsPerAddress;
        sendTimeout = sendTimeout == null ? Interval.ofSeconds(30) : sendTimeout;
        sessionData = sessionData == null ? ByteSize.ofBytes(64L << 20) : sessionData;
        serverData = serverData == null ? ByteSize.ofBytes(1L << 30) : serverData;
    }

    public static LimitsSection defaults() {
        return new LimitsSection(null, null, null, null, null, null);
    }
}
