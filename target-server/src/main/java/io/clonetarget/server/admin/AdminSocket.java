package io.clonetarget.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local admin channel of a running server: a Unix socket {@code admin.sock} in the state
 * directory, readable and writable by the server's user only (0600, whatever the umask). A
 * client sends one JSON request on one line ({@code {"command":"clone-status"}}) and reads one
 * JSON answer on one line ({@code {"ok":true,"result":...}} or {@code {"ok":false,"error":"..."}}).
 *
 * <p>The state directory is locked ({@code server.lock}, mode 0600, holding the server's pid) for
 * as long as the server runs, so two servers never share one; a socket left by a server that
 * died is replaced. A state directory it creates is 0700.
 */
public final class AdminSocket implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminSocket.class);
    public static final String SOCKET = "admin.sock";
    public static final String LOCK = "server.lock";
    static final int MAX_REQUEST = 64 * 1024;
    static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    /** How long a client may take to send its request (not how long the command may run: an export takes minutes). */
    static final long REQUEST_TIMEOUT_MILLIS = 10_000;

    /** Answers requests. */
    @FunctionalInterface
    public interface Handler {
        /**
         * @return the result for {@code request}
         * @throws IllegalArgumentException for a request it does not understand (sent back as the error)
         */
        JsonNode handle(JsonNode request) throws IOException;
    }

    private final Path socketPath;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final ServerSocketChannel server;
    private final Handler handler;
    private final long requestTimeoutMillis;
    private final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("admin-timeouts").unstarted(r));
    private volatile boolean closed;

    private AdminSocket(Path socketPath, FileChannel lockChannel, FileLock lock, ServerSocketChannel server,
                        Handler handler, long requestTimeoutMillis) {
        this.requestTimeoutMillis = requestTimeoutMillis;
        this.socketPath = socketPath;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.server = server;
        this.handler = handler;
    }

    /**
     * Locks {@code stateDir} and listens on its admin socket.
     *
     * @throws IOException when another server holds the directory, or the socket cannot be made
     */
    public static AdminSocket open(Path stateDir, Handler handler) throws IOException {
        return open(stateDir, handler, REQUEST_TIMEOUT_MILLIS);
    }

    /** {@link #open(Path, Handler)} with another limit on the time a client may take to send its request. */
    static AdminSocket open(Path stateDir, Handler handler, long requestTimeoutMillis) throws IOException {
        if (!Files.isDirectory(stateDir)) {
            Files.createDirectories(stateDir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
        }
        Path lockPath = stateDir.resolve(LOCK);
        FileChannel lockChannel = openLock(lockPath);
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by another server in this very process
        } catch (IOException e) {
            lockChannel.close();
            throw e;
        }
        if (lock == null) {
            String holder = Files.readString(lockPath, StandardCharsets.US_ASCII).strip();
            lockChannel.close();
            throw new IOException("another clonetarget server" + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                    + " uses the state directory " + stateDir + "; give this one its own --state-dir");
        }
        lockChannel.truncate(0);
        lockChannel.write(StandardCharsets.US_ASCII.encode(ProcessHandle.current().pid() + "\n"), 0);
        Path socketPath = stateDir.resolve(SOCKET).toAbsolutePath();
        ServerSocketChannel server;
        try {
            server = bindOwnerOnly(socketPath);
        } catch (IOException | RuntimeException e) {
            lock.release();
            lockChannel.close();
            throw new IOException("cannot create the admin socket " + socketPath + ": " + e.getMessage(), e);
        }
        AdminSocket admin = new AdminSocket(socketPath, lockChannel, lock, server, handler, requestTimeoutMillis);
        Thread.ofVirtual().name("admin-accept").start(admin::acceptLoop);
        return admin;
    }

    /**
     * Opens (or creates) the lock file with mode 0600 whatever the umask, and puts back 0600 on
     * one left with a wider mode. Owner only because flock needs no more than read access: a
     * lock file others can open is one they can lock, keeping the server from starting, and one
     * they can write is one whose pid they can fake.
     */
    static FileChannel openLock(Path lockPath) throws IOException {
        FileChannel channel = FileChannel.open(lockPath, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
        try {
            // the mode given at creation is narrowed by the umask, never widened; an old file keeps its own
            if (!Files.getPosixFilePermissions(lockPath).equals(OWNER_ONLY_FILE)) {
                Files.setPosixFilePermissions(lockPath, OWNER_ONLY_FILE);
            }
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw new IOException("cannot make " + lockPath + " readable and writable by its owner only: "
                    + e.getMessage(), e);
        }
        return channel;
    }

    /**
     * Binds the admin socket so that it is never reachable by other users, whatever the umask:
     * bind(2) makes the socket file with mode 0777 less the umask, so it is bound in a new
     * directory only the owner can enter, set to 0600 there, and then renamed into place (which
     * also replaces a socket left by a server that died).
     */
    static ServerSocketChannel bindOwnerOnly(Path socketPath) throws IOException {
        Path dir = socketPath.getParent();
        Path privateDir = Files.createTempDirectory(dir, ".admin-", PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
        Path bound = privateDir.resolve(SOCKET);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(bound));
            Files.setPosixFilePermissions(bound, OWNER_ONLY_FILE);
            Files.move(bound, socketPath, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return server;
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        } finally {
            Files.deleteIfExists(bound);
            Files.deleteIfExists(privateDir);
        }
    }

    public Path path() {
        return socketPath;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("admin socket: accept failed: {}", e.getMessage());
                }
                return;
            }
            Thread.ofVirtual().name("admin-client").start(() -> serve(client));
        }
    }

    /**
     * Only the server's own user (or root) may use the socket: its mode says so already, and the
     * peer's credentials (SO_PEERCRED) are checked as well, so a socket reached through a wider
     * directory or a copied descriptor still refuses others.
     */
    private static void checkPeer(SocketChannel client) throws IOException {
        UnixDomainPrincipal peer = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
        String me = System.getProperty("user.name");
        if (!peer.user().getName().equals(me) && !peer.user().getName().equals("root")) {
            LOG.warn("admin socket: refused user {} (only {} may use it)", peer.user().getName(), me);
            throw new IOException("only " + me + " may use this admin socket");
        }
    }

    private void serve(SocketChannel client) {
        // a client that does not send its request in time is cut off; once it has, the command takes
        // as long as it needs (an export of a large volume runs for minutes)
        ScheduledFuture<?> timeout = timeouts.schedule(() -> closeQuietly(client), requestTimeoutMillis,
                TimeUnit.MILLISECONDS);
        try (client; InputStream in = Channels.newInputStream(client); OutputStream out = Channels.newOutputStream(client)) {
            ObjectNode answer = Json.MAPPER.createObjectNode();
            try {
                checkPeer(client);
                byte[] line = readLine(in);
                if (!timeout.cancel(false)) {
                    return; // cut off while it was read
                }
                JsonNode request = Json.MAPPER.readTree(line);
                if (request == null || !request.isObject() || !request.path("command").isTextual()) {
                    throw new IllegalArgumentException("a request is a JSON object with a \"command\"");
                }
                answer.put("ok", true);
                answer.set("result", handler.handle(request));
            } catch (IllegalArgumentException | AdminError | IOException e) {
                answer.removeAll();
                answer.put("ok", false);
                answer.put("error", e.getMessage() == null ? e.toString() : e.getMessage());
                answer.put("code", e instanceof AdminError a ? a.code() : "bad_request");
                answer.put("status", e instanceof AdminError a ? a.status() : 400);
            }
            out.write(Json.MAPPER.writeValueAsBytes(answer));
            out.write('\n');
            out.flush();
            client.shutdownOutput();
            // read what the client may still be sending (a request that was too long), so that
            // closing does not reset the connection before it has read the answer
            in.skip(16L * MAX_REQUEST);
            timeout.cancel(false);
        } catch (IOException e) {
            LOG.debug("admin client: {}", e.toString());
        } catch (RuntimeException e) {
            LOG.error("admin request failed", e);
        } finally {
            timeout.cancel(false);
        }
    }

    private static byte[] readLine(InputStream in) throws IOException {
        byte[] buf = new byte[1024];
        int n = 0;
        while (true) {
            int b = in.read();
            if (b < 0 || b == '\n') {
                if (n == 0 && b < 0) {
                    throw new IOException("empty request");
                }
                return java.util.Arrays.copyOf(buf, n);
            }
            if (n == MAX_REQUEST) {
                throw new IllegalArgumentException("request longer than " + MAX_REQUEST + " bytes");
            }
            if (n == buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.min(MAX_REQUEST, buf.length * 2));
            }
            buf[n++] = (byte) b;
        }
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Stops listening, removes the socket and releases the state directory. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(server);
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.debug("removing {}: {}", socketPath, e.toString());
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockChannel);
        timeouts.shutdownNow();
    }
}
