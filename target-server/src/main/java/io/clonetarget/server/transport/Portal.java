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
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(address, 256);
        } catch (IOException e) {
            server.close();
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
        Portal portal = new Portal(server, onAccept);
        portal.thread.start();
        return portal;
    }

    /** The address actually bound (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return bound;
    }

    private void run() {
        while (server.isOpen()) {
            try {
                SocketChannel channel = server.accept();
                try {
                    onAccept.accept(channel);
                } catch (RuntimeException e) {
                    LOG.error("portal {}: cannot start a connection", bound, e);
                    channel.close();
                }
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("portal {}: accept failed: {}", bound, e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
