package io.clonetarget.server.session;

import io.clonetarget.server.auth.FailureThrottle;
import io.clonetarget.server.login.ChapCredentials;
import io.clonetarget.server.login.LoginContext;
import io.clonetarget.server.login.TargetSettings;
import io.clonetarget.server.metrics.ServerMetrics;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.BufferPool;
import io.clonetarget.server.transport.DataBudget;
import io.clonetarget.storage.time.Clock;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What every connection shares: targets, settings, sessions, executors and buffers. Owned by
 * the server, which shuts the executors down.
 *
 * @param commands runs SCSI commands (platform threads: storage I/O blocks them)
 * @param background runs waits that must not block a reader (task management, logout)
 */
public final class ServerContext implements LoginContext {
    /** Timing of login and keepalive. */
    /**
     * @param taskWait how long task management waits for storage to give back the commands it
     *     aborts before it closes the connection instead of answering
     */
    public record Timeouts(Duration login, Duration nopInterval, Duration nopTimeout, Duration taskWait) {
        public Timeouts(Duration login, Duration nopInterval, Duration nopTimeout) {
            this(login, nopInterval, nopTimeout, Duration.ofSeconds(60));
        }

        public static Timeouts defaults() {
            return new Timeouts(Duration.ofSeconds(30), Duration.ofSeconds(15), Duration.ofSeconds(30));
        }
    }

    public static final int PORTAL_GROUP_TAG = 1;

    private final TargetSettings settings;
    private final Timeouts timeouts;
    private final Map<String, TargetNode> targets = new ConcurrentSkipListMap<>();
    private final List<InetSocketAddress> portals = new CopyOnWriteArrayList<>();
    private final SessionRegistry sessions = new SessionRegistry();
    private final java.util.Set<Connection> connections = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final ExecutorService commands;
    private final ExecutorService background;
    private final ScheduledExecutorService timers;
    private final BufferPool buffers;
    private final ConnectionLimits limits;
    private final Admission admission;
    private final DataBudget dataBudget;
    private final FailureThrottle throttle = new FailureThrottle(Clock.SYSTEM, FailureThrottle.TYPING_FAILURES);
    private final ServerMetrics metrics = new ServerMetrics();
    /** Discovery's credentials, replaced as a pair so that a login never sees one old and one new. */
    private record DiscoveryChap(ChapCredentials chap, ChapCredentials mutual) {
    }

    private volatile DiscoveryChap discovery = new DiscoveryChap(null, null);

    public ServerContext(TargetSettings settings, Timeouts timeouts, ExecutorService commands,
                         ExecutorService background, ScheduledExecutorService timers, BufferPool buffers) {
        this(settings, timeouts, ConnectionLimits.defaults(), commands, background, timers, buffers);
    }

    public ServerContext(TargetSettings settings, Timeouts timeouts, ConnectionLimits limits, ExecutorService commands,
                         ExecutorService background, ScheduledExecutorService timers, BufferPool buffers) {
        this.limits = limits;
        this.admission = new Admission(limits);
        this.dataBudget = DataBudget.server(limits.serverDataBytes());
        this.settings = settings;
        this.timeouts = timeouts;
        this.commands = commands;
        this.background = background;
        this.timers = timers;
        this.buffers = buffers;
    }

    @Override
    public TargetSettings settings() {
        return settings;
    }

    public Timeouts timeouts() {
        return timeouts;
    }

    @Override
    public int portalGroupTag() {
        return PORTAL_GROUP_TAG;
    }

    @Override
    public Optional<TargetNode> findTarget(String name) {
        return Optional.ofNullable(targets.get(name));
    }

    public void addTarget(TargetNode target) {
        if (targets.putIfAbsent(target.name(), target) != null) {
            throw new IllegalArgumentException("target " + target.name() + " exists");
        }
    }

    public TargetNode removeTarget(String name) {
        return targets.remove(name);
    }

    public Collection<TargetNode> targets() {
        return targets.values();
    }

    public void setDiscoveryChap(ChapCredentials chap, ChapCredentials mutual) {
        this.discovery = new DiscoveryChap(chap, mutual);
    }

    @Override
    public ChapCredentials discoveryChap() {
        return discovery.chap();
    }

    @Override
    public ChapCredentials discoveryMutualChap() {
        return discovery.mutual();
    }

    @Override
    public FailureThrottle throttle() {
        return throttle;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** Registers a listening address for SendTargets answers. */
    public void addPortal(InetSocketAddress address) {
        portals.add(address);
    }

    /** Stops advertising a listening address (its portal is closed). */
    public void removePortal(InetSocketAddress address) {
        portals.remove(address);
    }

    public List<InetSocketAddress> portals() {
        return new ArrayList<>(portals);
    }

    /** Every open connection, logged in or not. */
    public java.util.Set<Connection> connections() {
        return connections;
    }

    public SessionRegistry sessions() {
        return sessions;
    }

    ExecutorService commands() {
        return commands;
    }

    ExecutorService background() {
        return background;
    }

    ScheduledExecutorService timers() {
        return timers;
    }

    public BufferPool buffers() {
        return buffers;
    }

    public ConnectionLimits limits() {
        return limits;
    }

    Admission admission() {
        return admission;
    }

    /** The data buffers all sessions together may hold. */
    public DataBudget dataBudget() {
        return dataBudget;
    }

    /** Connections open now (logged in or not), connections still logging in, and those closed or refused for limits. */
    public record ConnectionCounts(int open, int pending, long evicted, long refused) {
    }

    public ConnectionCounts connectionCounts() {
        return new ConnectionCounts(admission.total(), admission.pending(), admission.evicted(), admission.refused());
    }
}
