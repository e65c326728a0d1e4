package io.clonetarget.server;

import io.clonetarget.config.AdminSection;
import io.clonetarget.config.ChapConfig;
import io.clonetarget.config.DigestPolicy;
import io.clonetarget.config.Endpoint;
import io.clonetarget.config.IscsiSection;
import io.clonetarget.config.LimitsSection;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.SecretFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.admin.AdminApi;
import io.clonetarget.server.admin.AdminSocket;
import io.clonetarget.server.admin.TlsIdentity;
import io.clonetarget.server.admin.TokenStore;
import io.clonetarget.server.auth.FailureThrottle;
import io.clonetarget.server.login.ChapCredentials;
import io.clonetarget.server.login.DigestUse;
import io.clonetarget.server.login.TargetSettings;
import io.clonetarget.server.metrics.ServerMetrics;
import io.clonetarget.server.scsi.BlockLogicalUnit;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.session.Connection;
import io.clonetarget.server.session.ConnectionLimits;
import io.clonetarget.server.session.ServerContext;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.BufferPool;
import io.clonetarget.server.transport.Portal;
import io.clonetarget.storage.clone.CloneStatus;
import io.clonetarget.storage.clone.CloneVolume;
import io.clonetarget.storage.time.Clock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running target: volumes, target nodes, portals and the threads behind them.
 *
 * <p>{@link #close()} stops in the order that loses nothing: stop accepting, close connections,
 * let commands already running finish, flush and close every volume, stop the threads. It is
 * idempotent and also what SIGTERM and Ctrl-C run.
 */
public final class TargetServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TargetServer.class);
    /** The name of the running configuration in the state directory, saved after every change. */
    public static final String RUNNING_CONFIG = "running.toml";
    private final ServerConfig startConfig;
    private final ServerContext context;
    private final ExecutorService commands;
    private final ExecutorService background;
    private final ScheduledExecutorService timers;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Set once the start-up configuration is applied: before, changes are refused (they would be overwritten). */
    private volatile boolean started;
    private final LiveState live;
    private AdminSocket admin;
    private AdminApi api;
    private TlsIdentity apiIdentity;

    /** Opens the volume a configuration entry describes. */
    @FunctionalInterface
    public interface VolumeOpener {
        OpenVolume open(VolumeConfig volume) throws IOException;
    }

    private TargetServer(ServerConfig config, VolumeOpener opener) {
        this.startConfig = config;
        IscsiSection i = config.iscsi();
        TargetSettings settings = new TargetSettings((int) i.maxRecvDataSegmentLength().bytes(),
                (int) i.maxBurstLength().bytes(), (int) i.firstBurstLength().bytes(), i.initialR2t(),
                i.immediateData(), i.maxOutstandingR2t(), 2, 20, digest(i.headerDigest()), digest(i.dataDigest()),
                i.commandWindow(), digest(i.discoveryHeaderDigest()), digest(i.discoveryDataDigest()));
        LimitsSection l = config.server().limits();
        ConnectionLimits limits = new ConnectionLimits(l.maxConnections(), l.maxPendingLogins(),
                l.maxConnectionsPerAddress(), l.sendTimeout().duration(), l.sessionData().bytes(), l.serverData().bytes());
        int threads = config.server().ioThreads();
        AtomicInteger n = new AtomicInteger();
        this.commands = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> Thread.ofPlatform().daemon().name("scsi-io-" + n.incrementAndGet()).unstarted(r));
        this.background = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("iscsi-bg-", 0).factory());
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("iscsi-timer").unstarted(r));
        ServerContext.Timeouts timeouts = new ServerContext.Timeouts(config.server().loginTimeout().duration(),
                config.server().nopInterval().duration(), config.server().nopTimeout().duration(),
                config.server().taskWait().duration());
        this.context = new ServerContext(settings, timeouts, limits, commands, background, timers,
                new BufferPool(256L << 20));
        String stateDir = config.server().stateDir();
        this.live = new LiveState(context, opener, this::accept, config,
                stateDir == null ? null : Path.of(stateDir).resolve(RUNNING_CONFIG));
    }

    /** The login code's digest rule for the configuration's (the login code does not know the config module). */
    private static DigestUse digest(DigestPolicy p) {
        return switch (p) {
            case OFF -> DigestUse.OFF;
            case ALLOWED -> DigestUse.ALLOWED;
            case REQUIRED -> DigestUse.REQUIRED;
        };
    }

    /**
     * Opens every volume, builds the targets and starts listening.
     *
     * @throws IOException naming the volume or portal that failed; whatever was opened is closed
     */
    public static TargetServer start(ServerConfig config) throws IOException {
        return start(config, Volumes::open);
    }

    /** As {@link #start(ServerConfig)}, with another way of opening volumes (tests wrap devices). */
    public static TargetServer start(ServerConfig config, VolumeOpener opener) throws IOException {
        TargetServer server = new TargetServer(config, opener);
        try {
            server.open();
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        return server;
    }

    private void open() throws IOException {
        ServerConfig config = startConfig;
        if (config.server().stateDir() != null) {
            // first: the state directory's lock keeps a second server off the same volumes
            AdminCommands adminCommands = new AdminCommands(this);
            admin = AdminSocket.open(Path.of(config.server().stateDir()), adminCommands);
            api = startApi(Path.of(config.server().stateDir()), adminCommands);
        }
        context.metrics().clones(this::cloneFigures);
        context.metrics().snapshots(this::snapshotFigures);
        try {
            // start-up is an apply from nothing: the same path as every later change
            live.apply(config, true, false, false);
        } catch (io.clonetarget.config.ConfigException e) {
            throw new IllegalArgumentException("invalid configuration " + e.getMessage(), e);
        }
        started = true;
    }

    /**
     * Brings the running state to {@code desired} without touching what does not change, or
     * only plans it ({@code dryRun}); see {@link LiveState}. Changes that cannot be made live
     * refuse the whole plan; changes that disrupt initiators need {@code force}.
     *
     * @throws io.clonetarget.config.ConfigException when {@code desired} is not valid
     * @throws IOException when something new cannot be opened or the configuration not saved;
     *     nothing changed
     */
    public ApplyResult apply(ServerConfig desired, boolean force, boolean dryRun)
            throws io.clonetarget.config.ConfigException, IOException {
        checkRunning();
        return live.apply(desired, force, dryRun);
    }

    private void checkRunning() throws IOException {
        if (!started) {
            throw new IOException("the server is still starting (its configuration is being applied); try again");
        }
        if (closed.get()) {
            throw new IOException("the server is stopping");
        }
    }

    /** Applies an edit of the running configuration (an imperative command), as {@link #apply}. */
    public ApplyResult edit(java.util.function.UnaryOperator<ServerConfig> change, boolean force, boolean dryRun)
            throws io.clonetarget.config.ConfigException, IOException {
        checkRunning();
        return live.edit(change, force, dryRun);
    }

    /**
     * The HTTPS admin API, unless {@code [admin] listen = "off"}. When the default address is
     * taken (another server on this host) it says so and goes on without; an address chosen in
     * the configuration that cannot be had stops the start.
     */
    private AdminApi startApi(Path stateDir, AdminCommands adminCommands) throws IOException {
        AdminSection section = startConfig.admin();
        String listen = section.listenOrDefault();
        if (listen == null) {
            LOG.info("admin API off ([admin] listen = \"off\")");
            return null;
        }
        InetSocketAddress address = Endpoint.parse(listen);
        TlsIdentity identity = TlsIdentity.loadOrCreate(stateDir, List.of(address.getHostString()));
        TokenStore tokens = TokenStore.loadOrCreate(stateDir);
        if (tokens.created()) {
            LOG.info("admin API token written to {} (mode 0600; it is not written again)",
                    stateDir.resolve(TokenStore.TOKEN));
        }
        try {
            AdminApi started = AdminApi.start(address, identity, tokens, new FailureThrottle(Clock.SYSTEM, 0),
                    adminCommands, context.metrics(), section.metricsPublic());
            try {
                started.advertise(stateDir, identity);
            } catch (IOException e) {
                started.close();
                throw e;
            }
            apiIdentity = identity;
            return started;
        } catch (java.net.BindException e) {
            String why = "admin API cannot listen on " + listen + ": " + e.getMessage();
            if (section.defaultListen()) {
                LOG.warn("{} (another clonetarget on this host?); running without it. Set [admin] listen to another "
                        + "address, or \"off\"", why);
                return null;
            }
            throw new IOException("admin.listen: " + why, e);
        }
    }

    private List<ServerMetrics.SnapshotFigures> snapshotFigures() {
        List<ServerMetrics.SnapshotFigures> list = new ArrayList<>();
        for (OpenVolume v : live.volumes().values()) {
            if (v.snapshots() != null) {
                var st = v.snapshots().status();
                long failed = v.snapshots().failedCount();
                list.add(new ServerMetrics.SnapshotFigures(v.name(), st.snapshots(), failed, st.diffUsedBytes(),
                        st.diffLimitBytes(), st.lowSpace() ? 1 : 0, st.copies()));
            }
        }
        return list;
    }

    private List<ServerMetrics.CloneFigures> cloneFigures() {
        List<ServerMetrics.CloneFigures> list = new ArrayList<>();
        for (OpenVolume v : live.volumes().values()) {
            if (v.device() instanceof CloneVolume c) {
                CloneStatus st = c.status();
                list.add(new ServerMetrics.CloneFigures(v.name(), st.size(), st.hydratedBytes(), st.rateBytesPerSecond(),
                        st.errors()));
            }
        }
        return list;
    }

    /** The admin API's URL for clients on this host, or null when it does not run. */
    public java.net.URI adminApiUrl() {
        return api == null ? null : api.url();
    }

    /** The SHA-256 fingerprint of the admin API's certificate, or null when it does not run. */
    public String adminFingerprint() {
        return apiIdentity == null ? null : apiIdentity.fingerprint();
    }

    /** The admin API's address, or null when it does not run. */
    public InetSocketAddress adminApi() {
        return api == null ? null : api.address();
    }

    private void accept(java.nio.channels.SocketChannel channel) {
        if (closed.get()) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // shutting down
            }
            return;
        }
        try {
            new Connection(channel, context).start(); // refused or evicting: it closes what it must
        } catch (IOException e) {
            LOG.warn("cannot set up connection: {}", e.getMessage());
            try {
                channel.close();
            } catch (IOException ignored) {
                // already broken
            }
        }
    }

    /**
     * What {@link #start} would fail on with this configuration, found without creating,
     * opening or changing anything: volumes that cannot be opened or created, secret files that
     * cannot be used. {@code config check} reports these, and {@code serve} refuses on them before
     * it creates any file.
     *
     * @return every problem, each as {@code field.path: message}
     */
    public static List<String> check(ServerConfig config) {
        List<String> problems = new ArrayList<>(SecretFiles.check(config));
        problems.addAll(VolumeChecks.problems(config));
        return problems;
    }

    /** The running configuration: what the server was started with and every change applied since. */
    public ServerConfig config() {
        return live.config();
    }

    public ServerContext context() {
        return context;
    }

    /** Deletes a snapshot once {@code check} passes, with no configuration change in between. */
    void deleteSnapshot(String volume, String snapshot, Runnable check) throws IOException {
        checkRunning();
        live.deleteSnapshot(volume, snapshot, check);
    }

    /** The open volumes by name (a snapshot; changes replace it). */
    public Map<String, OpenVolume> volumes() {
        return live.volumes();
    }

    /** The admin socket, or null when the server has no state directory. */
    public Path adminSocket() {
        return admin == null ? null : admin.path();
    }

    /** The addresses actually bound, in configuration order. */
    public List<InetSocketAddress> addresses() {
        return live.addresses();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        live.closePortals();
        for (Connection c : new ArrayList<>(context.connections())) {
            c.close("server shutting down");
        }
        commands.shutdown();
        try {
            if (!commands.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("commands still running after 30 s; closing volumes anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        live.closeVolumes();
        background.shutdownNow();
        timers.shutdownNow();
        if (api != null) {
            api.close();
        }
        if (admin != null) {
            admin.close();
        }
        LOG.info("server stopped");
    }
}
