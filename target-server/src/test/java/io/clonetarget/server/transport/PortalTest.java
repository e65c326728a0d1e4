package io.clonetarget.server.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PortalTest {
    /**
     * What a process out of threads does to the code that starts a connection: it throws
     * OutOfMemoryError ("unable to create native thread"). The listener must live on.
     */
    @Test
    void aBoundPortalHoldsConnectionsInItsBacklogUntilItStarts() throws Exception {
        LinkedBlockingQueue<SocketChannel> accepted = new LinkedBlockingQueue<>();
        try (Portal portal = Portal.bind(new InetSocketAddress("127.0.0.1", 0), accepted::add);
             Socket early = new Socket()) {
            early.connect(portal.address(), 5000); // the kernel completes it: the address is held
            assertTrue(accepted.isEmpty(), "nothing accepted before start: no accept thread exists yet");
            portal.start();
            SocketChannel c = accepted.poll(10, TimeUnit.SECONDS);
            assertTrue(c != null, "the waiting connection is accepted once the portal starts");
            c.close();
            portal.start(); // twice is once
        }
    }

    @Test
    void theListenerSurvivesConnectionsThatCannotBeStarted() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        LinkedBlockingQueue<SocketChannel> started = new LinkedBlockingQueue<>();
        try (Portal portal = Portal.open(new InetSocketAddress("127.0.0.1", 0), channel -> {
            if (calls.incrementAndGet() <= 3) {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource"
                        + " limits reached");
            }
            if (calls.get() == 4) {
                throw new IllegalStateException("and a plain failure");
            }
            started.add(channel);
        })) {
            for (int i = 0; i < 4; i++) {
                try (Socket s = new Socket()) {
                    s.connect(portal.address(), 5000);
                    s.setSoTimeout(5000);
                    assertEquals(-1, s.getInputStream().read(), "a connection that could not start is closed");
                }
            }
            try (Socket s = new Socket()) {
                s.connect(portal.address(), 5000);
                SocketChannel accepted = started.poll(10, TimeUnit.SECONDS);
                assertTrue(accepted != null, "the fifth connection is accepted: the listener is alive");
                accepted.close();
            }
        }
    }
}
