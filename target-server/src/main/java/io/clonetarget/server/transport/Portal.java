package io.clonetarget.server.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A listening TCP socket that hands every accepted connection to a consumer. */
public final class Portal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Portal.class);
    private final ServerSocketChannel server;
    private final InetSocketAddress bound;
    private final Consumer<SocketChannel> onAccept;
    private final Thread thread;

    private Portal(ServerSocketChannel server, Consumer<SocketChannel> onAccept) throws IOException {
        this.server = server;
        this.bound = (InetSocketAddress) server.getLocalAddress();
        this.onAccept = onAccept;
        this.thread = Thread.ofPlatform().daemon().name("iscsi-accept-" + bound.getPort()).unstarted(this::run);
    }

    /**
     * Binds and starts accepting.
     *
     * @throws IOException naming the address when it cannot be bound (in use, not local)
     */
    public static Portal open(InetSocketAddress address, Consumer<SocketChannel> onAccept) throws IOException {
        Portal portal = bind(address, onAccept);
        portal.start();
        return portal;
    }

    /**
     * Binds without accepting yet: connections wait in the backlog until {@link #start}, so that a
     * server can hold the address before it has anything to serve on it (a configuration change
     * binds its new portals first, to fail early, and starts them when its targets are in place).
     *
     * @throws IOException naming the address when it cannot be bound (in use, not local)
     */
    public static Portal bind(InetSocketAddress address, Consumer<SocketChannel> onAccept) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(address, 256);
        } catch (IOException e) {
            server.close();
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
        return new Portal(server, onAccept);
    }

    /** Starts accepting (once). */
    public synchronized void start() {
        if (thread.getState() == Thread.State.NEW) {
            thread.start();
        }
    }

    /** The address actually bound (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return bound;
    }

    /**
     * Accepts until closed. Nothing a connection does can end this loop: a failure to start one
     * (even an {@link Error}, such as no memory for another thread) closes that connection,
     * is logged once per burst, and the loop backs off briefly and goes on.
     */
    private void run() {
        long quietUntil = 0;
        while (server.isOpen()) {
            SocketChannel channel = null;
            try {
                channel = server.accept();
                onAccept.accept(channel);
            } catch (ClosedChannelException e) {
                return;
            } catch (Throwable e) {
                closeQuietly(channel);
                long now = System.nanoTime();
                if (now - quietUntil > 0) {
                    LOG.error("portal {}: cannot {} a connection: {} (the portal goes on; more of these in the next"
                            + " 10 s are not logged)", bound, channel == null ? "accept" : "start", e.toString());
                    quietUntil = now + 10_000_000_000L;
                }
                try {
                    Thread.sleep(channel == null ? 100 : 10);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (Throwable ignored) {
                // already failing
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
