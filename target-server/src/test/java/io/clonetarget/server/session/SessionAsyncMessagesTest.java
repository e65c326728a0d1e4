package io.clonetarget.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.login.TargetSettings;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.target.LunAddress;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.BufferPool;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.Test;

/**
 * What {@link Session#sendScsiEvent} and {@link Session#requestLogout} refuse and when they send
 * nothing; what they send on a live session is in the integration tests (AsyncMessageIT).
 */
class SessionAsyncMessagesTest {
    static final byte[] LUNS_CHANGED = SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed();
    static final SessionParameters PARAMS = new SessionParameters(false, false, 8192, 8192, 1 << 20, 65536, true,
            true, 1, 2, 20, true, true, 0, 1);

    static Session session(TargetNode target) {
        return new Session(0x400001370001L, 1, "iqn.2026-12.io.clonetarget:initiator", null, null, target, PARAMS,
                new CommandSequencer(1, 128), 1, io.clonetarget.server.transport.DataBudget.server(1 << 20)
                .session(1 << 20));
    }

    @Test
    void deadlinesBecomeWholeSecondsRoundedUpBetween1And65535() {
        assertEquals(1, Session.logoutSeconds(Duration.ZERO));
        assertEquals(1, Session.logoutSeconds(Duration.ofMillis(200)));
        assertEquals(1, Session.logoutSeconds(Duration.ofSeconds(1)));
        assertEquals(2, Session.logoutSeconds(Duration.ofMillis(1001)), "never shorter than asked");
        assertEquals(30, Session.logoutSeconds(Duration.ofSeconds(30)));
        assertEquals(65535, Session.logoutSeconds(Duration.ofDays(2)), "Parameter3 is two bytes");
        assertThrows(IllegalArgumentException.class, () -> Session.logoutSeconds(Duration.ofSeconds(-1)));
    }

    @Test
    void whatIsNotSenseDataIsRefused() {
        Session s = session(new TargetNode("iqn.2026-12.io.clonetarget:t", null, null, null, Set.of()));
        assertThrows(IllegalArgumentException.class, () -> s.sendScsiEvent(0, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> s.sendScsiEvent(0, new byte[7]));
        assertThrows(IllegalArgumentException.class, () -> s.sendScsiEvent(0, new byte[18]), "response code 00h");
        byte[] tooLong = java.util.Arrays.copyOf(LUNS_CHANGED, 253);
        assertThrows(IllegalArgumentException.class, () -> s.sendScsiEvent(0, tooLong));
        assertThrows(NullPointerException.class, () -> s.sendScsiEvent(0, null));
    }

    @Test
    void nothingIsSentWithoutAConnectionOrOnADiscoverySession() {
        Session normal = session(new TargetNode("iqn.2026-12.io.clonetarget:t", null, null, null, Set.of()));
        assertFalse(normal.sendScsiEvent(LunAddress.encode(0), LUNS_CHANGED), "no connection");
        assertFalse(normal.requestLogout("test", Duration.ofSeconds(5)), "no connection");
        Session discovery = session(null);
        assertFalse(discovery.sendScsiEvent(LunAddress.encode(0), LUNS_CHANGED));
        assertFalse(discovery.requestLogout("test", Duration.ofSeconds(5)));
    }

    @Test
    void nothingIsSentOrScheduledBeforeLoginCompleted() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1);
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel server = listener.accept()) {
            ServerContext context = new ServerContext(TargetSettings.defaults(), ServerContext.Timeouts.defaults(),
                    ConnectionLimits.defaults(), pool, pool, (ScheduledExecutorService) timers,
                    new BufferPool(1 << 20));
            Connection connection = new Connection(server, context); // never started: still logging in
            Session s = session(new TargetNode("iqn.2026-12.io.clonetarget:t", null, null, null, Set.of()));
            s.connection = connection;
            assertFalse(s.sendScsiEvent(LunAddress.encode(3), LUNS_CHANGED));
            assertFalse(s.requestLogout("test", Duration.ofSeconds(5)));
            assertEquals(0, timers.getQueue().size(), "no deadline armed");
            client.configureBlocking(false);
            assertEquals(0, client.read(ByteBuffer.allocate(48)), "nothing written");
        } finally {
            pool.shutdownNow();
            timers.shutdownNow();
        }
    }
}
