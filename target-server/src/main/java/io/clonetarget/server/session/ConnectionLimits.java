package io.clonetarget.server.session;

import java.time.Duration;

/**
 * What one initiator (or many) can make the server spend on connections, and how long a
 * connection may fail to take what is sent to it.
 *
 * @param maxConnections connections open at once, logged in or not
 * @param maxPendingLogins connections that have not completed login; when full, the one waiting
 *     longest is closed to make room (a flood of idle connections cannot lock a real initiator out)
 * @param maxPerAddress connections from one source address; the same eviction applies to its
 *     pending logins
 * @param sendTimeout how long queued responses may wait for an initiator that does not read
 *     before its connection is closed
 * @param sessionDataBytes data buffers one session may hold before its window stops growing
 *     (see {@link io.clonetarget.server.transport.DataBudget})
 * @param serverDataBytes the same for all sessions together
 */
public record ConnectionLimits(int maxConnections, int maxPendingLogins, int maxPerAddress, Duration sendTimeout,
                               long sessionDataBytes, long serverDataBytes) {
    public ConnectionLimits {
        if (maxConnections < 1 || maxPendingLogins < 1 || maxPerAddress < 1) {
            throw new IllegalArgumentException("connection limits must be positive");
        }
        if (sendTimeout.isNegative() || sendTimeout.isZero()) {
            throw new IllegalArgumentException("send timeout must be positive");
        }
        if (sessionDataBytes < (1 << 20) || serverDataBytes < sessionDataBytes) {
            throw new IllegalArgumentException("data budgets: at least 1 MiB per session, and the server's at least "
                    + "a session's");
        }
    }

    public static ConnectionLimits defaults() {
        return new ConnectionLimits(1024, 256, 256, Duration.ofSeconds(30), 64L << 20, 1L << 30);
    }
}
