package io.clonetarget.server;

import io.clonetarget.config.ChapConfig;
import io.clonetarget.config.ConfigChange;
import io.clonetarget.config.ConfigDiff;
import io.clonetarget.config.ConfigException;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.Endpoint;
import io.clonetarget.config.InitiatorConfig;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.Network;
import io.clonetarget.config.SecretFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.server.ApplyResult.Refusal;
import io.clonetarget.server.login.ChapCredentials;
import io.clonetarget.server.metrics.LunMetrics;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.BlockLogicalUnit;
import io.clonetarget.server.scsi.FileReservationStore;
import io.clonetarget.server.scsi.ReservationStore;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.session.Session;
import io.clonetarget.server.session.ServerContext;
import io.clonetarget.server.target.LunAddress;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.Portal;
import io.clonetarget.storage.clone.CloneVolume;
import io.clonetarget.storage.lock.RangeLock;
import io.clonetarget.storage.snapshot.SnapshotFiles;
import io.clonetarget.storage.snapshot.SnapshotVolume;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running state of a server (volumes, targets with their access rules and LUN maps,
 * portals) and the one way it changes: {@link #apply}, which brings it to a desired
 * configuration without touching what does not change. Start-up is an apply from nothing.
 *
 * <p>An apply is all or nothing. It validates the desired configuration, computes the plan
 * ({@link ConfigDiff}) and refuses the whole of it when one change cannot be made live or needs
 * force that was not given; then it opens what is new (volumes, portals, secret files) and
 * saves the desired configuration (atomically, in the state directory), undoing the openings if
 * either fails; only then does it switch the running state over, which cannot fail. What went
 * away is closed last, after the commands still running on it finished.
 *
 * <p>Applies are serialized by the object's monitor; readers use {@link #config()} and
 * {@link #volumes()}, each replaced whole and published through a volatile field.
 */
final class LiveState {
    private static final Logger LOG = LoggerFactory.getLogger(LiveState.class);
    /** How long commands on a LUN that goes away may take to finish before its volume closes anyway. */
    private static final Duration DRAIN = Duration.ofSeconds(30);
    /** How long a session asked to log out has before its connection is closed. */
    static final Duration LOGOUT_DEADLINE = Duration.ofSeconds(5);
    /** Volume keys that can change while the volume is open. */
    private static final Set<String> LIVE_VOLUME_KEYS = Set.of("hydration.rate");
    /** The directory below the state directory with the units' saved persistent reservations. */
    static final String RESERVATIONS = "reservations";

    private final ServerContext context;
    private final TargetServer.VolumeOpener opener;
    private final Consumer<SocketChannel> accept;
    private final Path saveTo;

    private volatile ServerConfig config;
    private volatile Map<String, OpenVolume> volumes = Map.of();
    private volatile List<Portal> portalList = List.of();
    /** Under the monitor: the logical unit of each volume each target exports. */
    private final Map<String, Map<String, TargetNode.Exported>> units = new HashMap<>();
    /** Under the monitor: the open portals by their configured address. */
    private final Map<String, Portal> portals = new LinkedHashMap<>();
    /** Under the monitor: the server is stopping; no apply opens anything any more. */
    private boolean stopped;

    /**
     * @param initial the configuration before anything is open: its settings, no inventory
     * @param saveTo where the running configuration is saved after every change (null: not saved)
     */
    LiveState(ServerContext context, TargetServer.VolumeOpener opener, Consumer<SocketChannel> accept,
              ServerConfig initial, Path saveTo) {
        this.context = context;
        this.opener = opener;
        this.accept = accept;
        this.saveTo = saveTo;
        this.config = initial.withInventory(List.of(), List.of()).withDiscovery(null);
    }

    ServerConfig config() {
        return config;
    }

    Map<String, OpenVolume> volumes() {
        return volumes;
    }

    List<InetSocketAddress> addresses() {
        return portalList.stream().map(Portal::address).toList();
    }

    /**
     * Plans, and unless {@code dryRun} applies, the change to {@code desired}.
     *
     * @param force apply changes that disrupt initiators (removing LUNs in use or reserved, targets with sessions)
     * @throws ConfigException when {@code desired} is not a valid configuration for this server
     * @throws IOException when something new cannot be opened or the configuration cannot be
     *     saved; nothing was changed
     */
    synchronized ApplyResult apply(ServerConfig desired, boolean force, boolean dryRun)
            throws ConfigException, IOException {
        return apply(desired, force, dryRun, true);
    }

    /**
     * Plans and applies an edit of the running configuration (an imperative command), made
     * under the same lock, so that two edits at once never lose one another.
     */
    synchronized ApplyResult edit(java.util.function.UnaryOperator<ServerConfig> change, boolean force, boolean dryRun)
            throws ConfigException, IOException {
        return apply(change.apply(config), force, dryRun, true);
    }

    /**
     * @param machineChecks run {@link TargetServer#check}'s file checks on what is new (start-up
     *     leaves them to the caller, which ran them on everything)
     */
    synchronized ApplyResult apply(ServerConfig desired, boolean force, boolean dryRun, boolean machineChecks)
            throws ConfigException, IOException {
        if (stopped) {
            throw new IOException("the server is stopping");
        }
        ServerConfig running = config;
        desired = keepStartSettings(running, desired);
        desired = ConfigFiles.validate(desired, "the desired configuration",
                machineChecks ? c -> checkNew(running, c) : io.clonetarget.config.ConfigCheck.NONE);
        List<ConfigChange> changes = ConfigDiff.between(running, desired);
        List<Refusal> refusals = new ArrayList<>();
        List<String> effects = new ArrayList<>();
        Set<Session> leaving = Collections.newSetFromMap(new IdentityHashMap<>());
        classify(running, desired, changes, refusals, effects, leaving);
        boolean portalsChange = !portals.keySet().equals(new HashSet<>(desired.server().listen()));
        boolean blocked = refusals.stream().anyMatch(r -> !r.forceable() || !force);
        if (dryRun || blocked || (changes.isEmpty() && !portalsChange)) {
            return new ApplyResult(false, dryRun, changes, refusals, effects);
        }
        Prepared prepared = prepare(running, desired);
        try {
            if (saveTo != null) {
                ConfigFiles.save(saveTo, desired);
            }
        } catch (IOException | RuntimeException e) {
            prepared.undo();
            throw new IOException("cannot save the running configuration to " + saveTo + ": " + e.getMessage(), e);
        }
        commit(running, desired, prepared, leaving, effects);
        for (ConfigChange c : changes) {
            LOG.info("applied: {}", c.describe());
        }
        return new ApplyResult(true, false, changes, refusals, effects);
    }

    /**
     * The settings a file cannot express but the command line set at start ({@code --state-dir},
     * {@code --admin-listen}): a desired configuration that leaves them out keeps the running ones.
     */
    private static ServerConfig keepStartSettings(ServerConfig running, ServerConfig desired) {
        if (desired.server().stateDir() == null && running.server().stateDir() != null) {
            desired = desired.withServer(desired.server().withStateDir(running.server().stateDir()));
        }
        if (desired.admin().listen() == null && running.admin().listen() != null) {
            desired = desired.withAdmin(new io.clonetarget.config.AdminSection(running.admin().listen(),
                    desired.admin().metricsPublic()));
        }
        return desired;
    }

    /** The machine checks ({@link TargetServer#check}) of what is new in {@code desired}: what is open already passed them. */
    private List<String> checkNew(ServerConfig running, ServerConfig desired) {
        List<VolumeConfig> fresh = new ArrayList<>();
        for (VolumeConfig v : desired.volumes()) {
            if (running.volume(v.name()) == null) {
                fresh.add(v);
            }
        }
        List<String> problems = new ArrayList<>(SecretFiles.check(desired));
        List<String> volumeProblems = VolumeChecks.problems(desired.withInventory(fresh, List.of()));
        for (String p : volumeProblems) {
            // renumber volume[i] of the subset to its index in the desired file
            int close = p.indexOf(']');
            if (p.startsWith("volume[") && close > 0) {
                String name = fresh.get(Integer.parseInt(p.substring(7, close))).name();
                p = "volume[" + desired.volumes().indexOf(desired.volume(name)) + p.substring(close);
            }
            problems.add(p);
        }
        return problems;
    }

    // ---- planning ----------------------------------------------------------------------------

    private void classify(ServerConfig running, ServerConfig desired, List<ConfigChange> changes,
                          List<Refusal> refusals, List<String> effects, Set<Session> leaving) {
        for (ConfigChange c : changes) {
            switch (c.kind()) {
                case SETTING -> refusals.add(new Refusal(c.subject(), "read only at start; restart the server to change"
                        + " it (sessions reconnect)", false));
                case VOLUME -> {
                    if (c.op() == ConfigChange.Op.CHANGE) {
                        String why = "size".equals(c.field())
                                ? growth(running.volume(c.name()), desired.volume(c.name()), effects)
                                : volumeChange(running.volume(c.name()), c.field());
                        if (why != null) {
                            refusals.add(new Refusal(c.subject(), why, false));
                        }
                    }
                }
                case TARGET -> {
                    if (c.op() == ConfigChange.Op.REMOVE) {
                        TargetNode node = context.findTarget(c.target()).orElse(null);
                        List<Session> sessions = node == null ? List.of() : context.sessions().of(node);
                        if (!sessions.isEmpty()) {
                            refusals.add(new Refusal(c.subject(), sessions.size() + " session(s) logged in: "
                                    + names(sessions), true));
                        }
                        for (Session s : sessions) {
                            if (leaving.add(s)) {
                                effects.add("session " + s.tsih() + " of " + s.initiatorName() + " on " + c.target()
                                        + " is asked to log out (its target goes)");
                            }
                        }
                        if (node != null) {
                            for (LogicalUnit u : node.units()) {
                                if (u.reserved()) {
                                    refusals.add(new Refusal(c.subject(), "a LUN of it is reserved by an initiator", true));
                                    break;
                                }
                            }
                        }
                    }
                }
                case PORTAL, ACCESS, CHAP, LUN_MAP, LUN -> {
                    // live: portals open and close, access applies to the next login, maps switch
                }
            }
        }
        viewsInUse(running, desired, refusals);
        if (desired.targets().isEmpty() && !running.targets().isEmpty()) {
            refusals.add(new Refusal("the configuration", "it removes every target (" + running.targets().size()
                    + " running); an empty or truncated file by mistake?", true));
        }
        // sessions that the new access rules would not admit are asked to leave
        for (TargetConfig t : desired.targets()) {
            TargetNode node = context.findTarget(t.iqn()).orElse(null);
            if (node == null) {
                continue;
            }
            TargetNode.Access next = access(t);
            for (Session s : context.sessions().of(node)) {
                InetSocketAddress from = s.remote();
                if (!admits(next, s.initiatorName(), from == null ? null : from.getAddress()) && leaving.add(s)) {
                    effects.add("session " + s.tsih() + " of " + s.initiatorName() + " on " + t.iqn()
                            + " is no longer allowed and is asked to log out");
                } else if (t.chap() != null && !t.chap().user().equals(s.authenticatedAs()) && leaving.add(s)) {
                    effects.add("session " + s.tsih() + " of " + s.initiatorName() + " on " + t.iqn() + " did not prove"
                            + " CHAP user " + t.chap().user() + " and is asked to log out");
                }
            }
        }
    }

    /** Why a volume's key cannot change while it is open, or null when it can. */
    private String volumeChange(VolumeConfig v, String field) {
        if (LIVE_VOLUME_KEYS.contains(field) && v.type() == VolumeType.CLONE) {
            return null;
        }
        return switch (field) {
            case "region-size" -> "a clone's region size is fixed when the clone is made (its metadata counts regions);"
                    + " make a new clone to change it";
            case "type", "path", "source", "metadata" -> "a volume's " + field + " is what it is; to serve other data,"
                    + " add a volume with another name";
            default -> "read when the volume is opened; remove the volume (and its LUNs) and add it again, or restart";
        };
    }

    /**
     * Why a volume cannot take its new size live, or null when it grows (a file volume, larger):
     * the initiators that use it get CAPACITY DATA HAS CHANGED.
     */
    private String growth(VolumeConfig was, VolumeConfig next, List<String> effects) {
        OpenVolume open = volumes.get(was.name());
        if (next.size() == null) {
            return null; // the file stays as it is; only the configuration forgets its size
        }
        long now = open.device().size();
        long wanted = next.size().bytes();
        if (was.type() != VolumeType.FILE || !(open.device() instanceof FileBlockDevice)) {
            return "only a file volume can be resized";
        }
        if (was.readOnly()) {
            return "a read-only volume is never resized";
        }
        if (wanted < now) {
            return "shrinking would cut off the end of the disk (" + now + " bytes now); make a new volume instead";
        }
        if (wanted > now) {
            effects.add("volume " + was.name() + " grows from " + now + " to " + wanted
                    + " bytes: its initiators get CAPACITY DATA HAS CHANGED");
        }
        return null;
    }

    /**
     * What a logged-in session would lose: every LUN number of its view (its own map, else the
     * default one) that goes away or comes to mean another volume needs force, whatever line of
     * the plan causes it (a LUN removed or replaced, an own map made or removed); so does a unit
     * reserved by an initiator that goes from any view.
     */
    private void viewsInUse(ServerConfig running, ServerConfig desired, List<Refusal> refusals) {
        for (TargetConfig t : running.targets()) {
            TargetConfig next = desired.target(t.iqn());
            if (next == null) {
                continue; // a removed target: refused on its own if it has sessions
            }
            TargetNode node = context.findTarget(t.iqn()).orElse(null);
            if (node == null) {
                continue;
            }
            for (Session s : context.sessions().of(node)) {
                Map<Integer, String> before = view(t, s.initiatorName());
                Map<Integer, String> after = view(next, s.initiatorName());
                for (Map.Entry<Integer, String> e : before.entrySet()) {
                    String now = after.get(e.getKey());
                    if (!e.getValue().equals(now)) {
                        refusals.add(new Refusal("lun " + e.getKey() + " of " + t.iqn() + " as session " + s.tsih()
                                + " (" + s.initiatorName() + ") sees it", now == null ? "it goes away while in use"
                                : "it would become volume " + now + " instead of " + e.getValue() + " under a host using it",
                                true));
                    }
                }
            }
            for (Map.Entry<String, TargetNode.Exported> e : units.getOrDefault(t.iqn(), Map.of()).entrySet()) {
                if (!exports(next, e.getKey()) && e.getValue().unit().reserved()) {
                    refusals.add(new Refusal("volume " + e.getKey() + " on " + t.iqn(),
                            "reserved by an initiator (SPC-2 or persistent reservation)", true));
                }
            }
        }
    }

    /** The LUN map an initiator sees on a target: its own, else the default one (number to volume). */
    static Map<Integer, String> view(TargetConfig t, String initiator) {
        InitiatorConfig own = t.initiator(initiator);
        Map<Integer, String> m = new TreeMap<>();
        for (LunConfig l : own != null ? own.luns() : t.luns()) {
            m.put(l.lun(), l.volume());
        }
        return m;
    }

    private static boolean exports(TargetConfig t, String volume) {
        for (LunConfig l : t.luns()) {
            if (l.volume().equals(volume)) {
                return true;
            }
        }
        for (InitiatorConfig i : t.initiators()) {
            for (LunConfig l : i.luns()) {
                if (l.volume().equals(volume)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String names(List<Session> sessions) {
        List<String> list = new ArrayList<>();
        for (Session s : sessions) {
            list.add("session " + s.tsih() + " (" + s.initiatorName() + ")");
        }
        return String.join(", ", list);
    }

    // ---- preparing: everything that can fail, undone on failure ------------------------------

    private final class Prepared {
        final Map<String, OpenVolume> opened = new LinkedHashMap<>();
        final Map<String, Portal> bound = new LinkedHashMap<>();
        final Map<String, FileBlockDevice> grown = new LinkedHashMap<>();
        /** Files that opening the new volumes created: removed again if the plan fails. */
        final List<java.nio.file.Path> created = new ArrayList<>();
        final Map<String, TargetNode.Access> access = new HashMap<>();
        ChapCredentials discovery;
        ChapCredentials discoveryMutual;

        void undo() {
            for (Map.Entry<String, FileBlockDevice> g : grown.entrySet()) {
                try {
                    g.getValue().abortGrow();
                } catch (IOException e) {
                    LOG.error("volume {}: taking back its growth failed: {}", g.getKey(), e.getMessage());
                }
            }
            for (Portal p : bound.values()) {
                try {
                    p.close();
                } catch (IOException e) {
                    LOG.warn("closing portal {}: {}", p.address(), e.getMessage());
                }
            }
            for (OpenVolume v : opened.values()) {
                closeVolume(v);
            }
            for (java.nio.file.Path f : created) {
                try {
                    java.nio.file.Files.deleteIfExists(f);
                } catch (IOException e) {
                    LOG.warn("removing {}, made for a plan that failed: {}", f, e.getMessage());
                }
            }
        }
    }

    private Prepared prepare(ServerConfig running, ServerConfig desired) throws IOException {
        Prepared p = new Prepared();
        try {
            if (desired.discovery() != null) {
                p.discovery = chap("discovery", desired.discovery(), false);
                p.discoveryMutual = chap("discovery", desired.discovery(), true);
            }
            for (int i = 0; i < desired.targets().size(); i++) {
                TargetConfig t = desired.targets().get(i);
                String at = "target[" + i + "].chap";
                ChapCredentials chap = t.chap() == null ? null : chap(at, t.chap(), false);
                ChapCredentials mutual = t.chap() == null ? null : chap(at, t.chap(), true);
                p.access.put(t.iqn(), new TargetNode.Access(chap, mutual, new HashSet<>(t.allowedInitiators()),
                        networks(t)));
            }
            for (VolumeConfig v : desired.volumes()) {
                VolumeConfig was = running.volume(v.name());
                if (was != null && v.size() != null && volumes.get(v.name()).device() instanceof FileBlockDevice f
                        && v.size().bytes() > f.size()) {
                    if (volumes.get(v.name()).snapshots() != null) {
                        throw new IOException("volume " + v.name() + " has snapshots, whose copy-on-write maps are made "
                                + "for its size; it cannot grow (this version)");
                    }
                    try {
                        f.prepareGrow(v.size().bytes());
                    } catch (IOException e) {
                        throw new IOException("volume " + v.name() + ": cannot grow " + v.path() + " to " + v.size() + ": "
                                + e.getMessage(), e);
                    }
                    p.grown.put(v.name(), f);
                }
                if (was == null) {
                    for (String f : new String[] {v.path(), v.type() == VolumeType.CLONE ? v.metadata() : null}) {
                        if (f != null && !java.nio.file.Files.exists(java.nio.file.Path.of(f))) {
                            p.created.add(java.nio.file.Path.of(f)); // listed before opening: a failed open may leave it
                        }
                    }
                    OpenVolume opened = v.type() == VolumeType.CLONE && v.source().startsWith(VolumeConfig.SNAPSHOT_SOURCE)
                            ? CloneVolumes.open(v, location -> snapshotSource(location, v.name(), p))
                            : opener.open(v);
                    p.opened.put(v.name(), opened);
                    if (v.snapshots() != null) {
                        opened = opened.withSnapshots(snapshots(desired, v, opened));
                        p.opened.put(v.name(), opened);
                    }
                    java.nio.file.Path journal = AtomicJournals.location(desired, v);
                    if (journal != null) {
                        if (!java.nio.file.Files.exists(journal)) {
                            p.created.add(journal); // a journal made for a plan that fails holds nothing
                        }
                        opened = opened.withAtomic(AtomicJournals.open(v, opened, journal));
                        p.opened.put(v.name(), opened);
                    }
                    LOG.info("volume {}: {}", v.name(), opened.description());
                }
            }
            settleGroups(p);
            for (TargetConfig t : desired.targets()) {
                List<LunConfig> all = new ArrayList<>(t.luns());
                for (io.clonetarget.config.InitiatorConfig i : t.initiators()) {
                    all.addAll(i.luns());
                }
                for (LunConfig l : all) {
                    if (!l.isSnapshot()) {
                        continue;
                    }
                    OpenVolume ov = p.opened.containsKey(l.volumeName()) ? p.opened.get(l.volumeName())
                            : volumes.get(l.volumeName());
                    if (ov == null || ov.snapshots() == null || ov.snapshots().get(l.snapshotName()) == null) {
                        throw new IOException("target " + t.iqn() + " LUN " + l.lun() + ": volume " + l.volumeName()
                                + " has no snapshot named " + l.snapshotName() + " (take it with clonetarget snapshot "
                                + "create " + l.volume() + ")");
                    }
                }
            }
            for (String listen : desired.server().listen()) {
                if (!portals.containsKey(listen)) {
                    InetSocketAddress address = Endpoint.parse(listen);
                    try {
                        p.bound.put(listen, Portal.bind(address, accept)); // accepting from the commit on
                    } catch (IOException e) {
                        throw new IOException("server.listen: cannot listen on " + listen + ": " + e.getMessage(), e);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            p.undo();
            throw e;
        }
        return p;
    }

    private static List<Predicate<InetAddress>> networks(TargetConfig t) {
        List<Predicate<InetAddress>> list = new ArrayList<>();
        for (String n : t.allowedNetworks()) {
            Network network = Network.parse(n);
            list.add(network::contains);
        }
        return list;
    }

    /** The access rules of a target as configured, without reading secrets (for planning). */
    private static TargetNode.Access access(TargetConfig t) {
        return new TargetNode.Access(null, null, new HashSet<>(t.allowedInitiators()), networks(t));
    }

    private static boolean admits(TargetNode.Access a, String name, InetAddress from) {
        return new TargetNode("planning", null, a).admits(name, from);
    }

    static ChapCredentials chap(String at, ChapConfig c, boolean mutual) throws IOException {
        String user = mutual ? c.mutualUser() : c.user();
        String inline = mutual ? c.mutualSecret() : c.secret();
        String file = mutual ? c.mutualSecretFile() : c.secretFile();
        if (user == null) {
            return null;
        }
        String secret = inline != null ? inline
                : SecretFiles.read(at + (mutual ? ".mutual-secret-file" : ".secret-file"), Path.of(file));
        return ChapCredentials.of(user, secret);
    }

    // ---- committing: switch over (cannot fail), then close what went away --------------------

    private void commit(ServerConfig running, ServerConfig desired, Prepared p, Set<Session> leaving,
                        List<String> effects) {
        Map<String, OpenVolume> nextVolumes = new LinkedHashMap<>();
        for (VolumeConfig v : desired.volumes()) {
            OpenVolume open = p.opened.containsKey(v.name()) ? p.opened.get(v.name()) : volumes.get(v.name());
            nextVolumes.put(v.name(), open);
        }
        Map<String, OpenVolume> allOpen = new LinkedHashMap<>(volumes);
        allOpen.putAll(p.opened);
        volumes = Collections.unmodifiableMap(new LinkedHashMap<>(allOpen)); // removed ones stay until drained
        config = desired;
        context.setDiscoveryChap(p.discovery, p.discoveryMutual);
        for (VolumeConfig v : desired.volumes()) {
            VolumeConfig was = running.volume(v.name());
            if (was != null && !was.equals(v) && nextVolumes.get(v.name()).device() instanceof CloneVolume clone) {
                clone.setRate(v.hydration().rate().bytes());
            }
        }

        for (Map.Entry<String, FileBlockDevice> g : p.grown.entrySet()) {
            g.getValue().commitGrow();
            for (Map<String, TargetNode.Exported> m : units.values()) {
                TargetNode.Exported e = m.get(g.getKey());
                if (e != null) {
                    e.unit().notifyAll(Asc.CAPACITY_DATA_HAS_CHANGED);
                }
            }
            LOG.info("volume {} grew to {} bytes", g.getKey(), g.getValue().size());
        }

        // what each session could reach before, to wait for its commands on what goes away
        Map<Session, NavigableMap<Integer, TargetNode.Exported>> before = new IdentityHashMap<>();
        for (TargetNode node : context.targets()) {
            for (Session s : context.sessions().of(node)) {
                before.put(s, node.luns(s.initiatorName()));
            }
        }
        List<TargetNode.Exported> retired = new ArrayList<>();
        for (TargetConfig t : running.targets()) {
            if (desired.target(t.iqn()) == null) {
                TargetNode removed = context.removeTarget(t.iqn());
                if (removed != null) {
                    removed.retire(); // its sessions, until they leave, see no LUN and no login is admitted
                }
                Map<String, TargetNode.Exported> gone = units.remove(t.iqn());
                if (gone != null) {
                    retired.addAll(gone.values());
                }
                LOG.info("target {} removed", t.iqn());
            }
        }
        for (TargetConfig t : desired.targets()) {
            TargetNode node = context.findTarget(t.iqn()).orElse(null);
            boolean fresh = node == null;
            if (fresh) {
                node = new TargetNode(t.iqn(), t.alias(), p.access.get(t.iqn()));
            } else {
                node.setAlias(t.alias());
                node.setAccess(p.access.get(t.iqn()));
            }
            Map<String, TargetNode.Exported> mine = units.computeIfAbsent(t.iqn(), k -> new HashMap<>());
            Map<String, TargetNode.Exported> kept = new HashMap<>();
            NavigableMap<Integer, TargetNode.Exported> defaults = map(t.iqn(), t.luns(), mine, kept, nextVolumes);
            Map<String, NavigableMap<Integer, TargetNode.Exported>> own = new HashMap<>();
            for (InitiatorConfig i : t.initiators()) {
                own.put(i.name(), map(t.iqn(), i.luns(), mine, kept, nextVolumes));
            }
            for (Map.Entry<String, TargetNode.Exported> e : mine.entrySet()) {
                if (!kept.containsKey(e.getKey())) {
                    retired.add(e.getValue());
                }
            }
            mine.clear();
            mine.putAll(kept);
            TargetNode.Maps next = new TargetNode.Maps(defaults, own);
            Map<Session, Set<Integer>> renumbered = fresh ? Map.of() : renumbered(node, next);
            if (!renumbered.isEmpty()) {
                // a LUN number that comes to mean another unit (only with force): first unmapped, its
                // commands finished, then mapped to the new unit, which tells the session it changed
                node.setMaps(withoutRenumbered(node.maps(), next));
                await(renumbered);
            }
            Predicate<String> changed = node.setMaps(next);
            renumbered.forEach((s, numbers) -> {
                for (int lun : numbers) {
                    next.of(s.initiatorName()).get(lun).unit().notify(s.nexus(), Asc.INQUIRY_DATA_HAS_CHANGED);
                }
            });
            if (fresh) {
                context.addTarget(node);
                LOG.info("target {} added", t.iqn());
            } else {
                for (Session s : context.sessions().of(node)) {
                    if (changed.test(s.initiatorName()) && !leaving.contains(s)) {
                        announceLunsChanged(s, node);
                        effects.add("session " + s.tsih() + " of " + s.initiatorName() + " is told its LUNs changed");
                    }
                }
            }
        }
        for (Session s : leaving) {
            requestLogout(s);
        }
        // a login that was under way while this switched over registered before it looked at the
        // configuration, or looks at it after this: the ones registered now are checked here
        for (Session s : context.sessions().all()) {
            TargetNode node = s.target();
            if (node == null || leaving.contains(s)) {
                continue;
            }
            InetSocketAddress from = s.remote();
            if (context.findTarget(node.name()).orElse(null) != node
                    || !node.admits(s.initiatorName(), from == null ? null : from.getAddress())) {
                requestLogout(s);
                effects.add("session " + s.tsih() + " of " + s.initiatorName() + " on " + node.name()
                        + " logged in while this changed and is asked to log out");
            }
        }

        // portals: new ones were bound in prepare; close those no longer wanted
        for (Map.Entry<String, Portal> e : p.bound.entrySet()) {
            portals.put(e.getKey(), e.getValue());
            context.addPortal(e.getValue().address());
            e.getValue().start(); // the targets are in place: a discovery now lists them
            LOG.info("listening on {}", Endpoint.format(e.getValue().address()));
        }
        for (String listen : new ArrayList<>(portals.keySet())) {
            if (!desired.server().listen().contains(listen)) {
                Portal gone = portals.remove(listen);
                context.removePortal(gone.address());
                try {
                    gone.close();
                } catch (IOException e) {
                    LOG.warn("closing portal {}: {}", listen, e.getMessage());
                }
                LOG.info("stopped listening on {} (connections already made stay)", listen);
            }
        }
        portalList = List.copyOf(portals.values());

        drain(retired, before);
        for (TargetNode.Exported e : retired) {
            e.unit().close();
            e.metrics().close();
        }
        List<OpenVolume> closing = new ArrayList<>();
        for (Map.Entry<String, OpenVolume> e : allOpen.entrySet()) {
            if (!nextVolumes.containsKey(e.getKey())) {
                closing.add(e.getValue());
            }
        }
        volumes = Collections.unmodifiableMap(nextVolumes);
        for (OpenVolume v : closing) {
            closeVolume(v);
            LOG.info("volume {} closed", v.name());
        }
    }

    /** A LUN map, reusing the units this target already exports for the same volumes. */
    private NavigableMap<Integer, TargetNode.Exported> map(String iqn, List<LunConfig> luns,
                                                           Map<String, TargetNode.Exported> existing,
                                                           Map<String, TargetNode.Exported> kept,
                                                           Map<String, OpenVolume> open) {
        NavigableMap<Integer, TargetNode.Exported> m = new TreeMap<>();
        for (LunConfig l : luns) {
            TargetNode.Exported e = kept.get(l.volume());
            if (e == null) {
                e = existing.get(l.volume());
            }
            if (e == null) {
                OpenVolume volume = open.get(l.volumeName());
                VolumeConfig vc = config.volume(l.volumeName());
                LogicalUnit unit;
                if (l.isSnapshot()) {
                    SnapshotVolume.SnapshotInfo snap = volume.snapshots().get(l.snapshotName());
                    LunIdentity id = LunIdentity.fromSeed(
                            "snapshot:" + volume.snapshots().status().trackingId() + ":" + snap.id(), "snapshot");
                    unit = new BlockLogicalUnit(iqn + " snapshot " + l.volume(),
                            volume.snapshots().image(l.snapshotName(), l.writeAccess()), id, !l.writeAccess(),
                            context.buffers(), new RangeLock(), reservationStore(iqn, id));
                } else {
                    unit = new BlockLogicalUnit(iqn + " volume " + l.volume(), volume.served(), volume.identity(),
                            vc.readOnly(), context.buffers(), volume.ranges(), reservationStore(iqn, volume.identity()));
                }
                if (config.server().spaceWarning() != null && unit instanceof BlockLogicalUnit b) {
                    b.warnBelow(config.server().spaceWarning().bytes());
                }
                e = new TargetNode.Exported(unit, context.metrics().lun(iqn, l.volume()));
            }
            kept.put(l.volume(), e);
            m.put(l.lun(), e);
        }
        return m;
    }

    /**
     * Where the unit of {@code identity} on target {@code iqn} keeps its APTPL reservations:
     * {@code STATE-DIR/reservations/IQN/NAA.pr}. The NAA designator comes from the volume's stable
     * identity (a clone's UUID, a file's device and inode, a snapshot's tracking id and number),
     * so a snapshot LUN and its volume's LUN never share a file, and each target (a logical unit
     * of its own) has its own. Without a state directory, APTPL is refused.
     */
    private ReservationStore reservationStore(String iqn, LunIdentity identity) {
        String stateDir = config.server().stateDir();
        if (stateDir == null) {
            return ReservationStore.NONE;
        }
        return new FileReservationStore(java.nio.file.Path.of(stateDir).resolve(RESERVATIONS).resolve(iqn)
                .resolve(identity.naaHex() + ".pr"));
    }

    /** For each session of the node: the LUN numbers of its view that stay but mean another unit in {@code next}. */
    private Map<Session, Set<Integer>> renumbered(TargetNode node, TargetNode.Maps next) {
        Map<Session, Set<Integer>> found = new IdentityHashMap<>();
        TargetNode.Maps old = node.maps();
        for (Session s : context.sessions().of(node)) {
            NavigableMap<Integer, TargetNode.Exported> was = old.of(s.initiatorName());
            NavigableMap<Integer, TargetNode.Exported> now = next.of(s.initiatorName());
            Set<Integer> numbers = new HashSet<>();
            was.forEach((lun, e) -> {
                TargetNode.Exported n = now.get(lun);
                if (n != null && n.unit() != e.unit()) {
                    numbers.add(lun);
                }
            });
            if (!numbers.isEmpty()) {
                found.put(s, numbers);
            }
        }
        return found;
    }

    /** {@code next} without the numbers whose unit differs from {@code old} in the same view. */
    private static TargetNode.Maps withoutRenumbered(TargetNode.Maps old, TargetNode.Maps next) {
        NavigableMap<Integer, TargetNode.Exported> defaults = without(old.defaults(), next.defaults());
        Map<String, NavigableMap<Integer, TargetNode.Exported>> own = new HashMap<>();
        next.own().forEach((name, m) -> own.put(name, without(old.of(name), m)));
        return new TargetNode.Maps(defaults, own);
    }

    private static NavigableMap<Integer, TargetNode.Exported> without(NavigableMap<Integer, TargetNode.Exported> old,
                                                                      NavigableMap<Integer, TargetNode.Exported> next) {
        NavigableMap<Integer, TargetNode.Exported> m = new TreeMap<>(next);
        next.forEach((lun, e) -> {
            TargetNode.Exported was = old.get(lun);
            if (was != null && was.unit() != e.unit()) {
                m.remove(lun);
            }
        });
        return m;
    }

    /** Waits (bounded) for the sessions' commands on the given LUN numbers. */
    private static void await(Map<Session, Set<Integer>> numbers) {
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        numbers.forEach((s, set) -> waits.add(s.tasksDone(set::contains)));
        awaitAll(waits);
    }

    private static void awaitAll(List<CompletableFuture<Void>> waits) {
        try {
            CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).get(DRAIN.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            LOG.warn("commands on changed LUNs still running after {} s; going on", DRAIN.toSeconds());
        } catch (ExecutionException e) {
            LOG.warn("waiting for commands on changed LUNs: {}", e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits (bounded) for the commands sessions had running on units that are going away. */
    private void drain(List<TargetNode.Exported> retired, Map<Session, NavigableMap<Integer, TargetNode.Exported>> before) {
        if (retired.isEmpty()) {
            return;
        }
        Set<LogicalUnit> gone = Collections.newSetFromMap(new IdentityHashMap<>());
        retired.forEach(e -> gone.add(e.unit()));
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        for (Map.Entry<Session, NavigableMap<Integer, TargetNode.Exported>> e : before.entrySet()) {
            Set<Integer> numbers = new HashSet<>();
            e.getValue().forEach((lun, x) -> {
                if (gone.contains(x.unit())) {
                    numbers.add(lun);
                }
            });
            if (!numbers.isEmpty()) {
                waits.add(e.getKey().tasksDone(numbers::contains));
            }
        }
        awaitAll(waits);
    }

    private static void announceLunsChanged(Session s, TargetNode node) {
        NavigableMap<Integer, TargetNode.Exported> view = node.luns(s.initiatorName());
        long lunField = LunAddress.encode(view.isEmpty() ? 0 : view.firstKey());
        s.sendScsiEvent(lunField, SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed());
    }

    private static void requestLogout(Session s) {
        s.requestLogout("the configuration changed", LOGOUT_DEADLINE);
    }

    /**
     * Deletes a snapshot under the lock changes take, after {@code check} (which throws when a
     * LUN map still shows it), so no apply can map it in between.
     */
    synchronized void deleteSnapshot(String volume, String snapshot, Runnable check) throws IOException {
        check.run();
        OpenVolume v = volumes.get(volume);
        if (v == null || v.snapshots() == null) {
            throw new IllegalArgumentException("no volume named \"" + volume + "\" with snapshots");
        }
        v.snapshots().delete(snapshot);
    }

    /** A snapshot of a volume already open (or opened earlier in this plan) as the source of clone {@code clone}. */
    private io.clonetarget.storage.clone.CloneSource snapshotSource(String location, String clone, Prepared p)
            throws IOException {
        String ref = location.substring(VolumeConfig.SNAPSHOT_SOURCE.length());
        String volume = ref.substring(0, ref.indexOf('@'));
        String snapshot = ref.substring(ref.indexOf('@') + 1);
        OpenVolume v = p.opened.containsKey(volume) ? p.opened.get(volume) : volumes.get(volume);
        if (v == null || v.snapshots() == null) {
            throw new IOException("clone " + clone + ": its source " + location + " names no volume with snapshots "
                    + "(it must be listed before the clone, with a [volume.snapshots] table)");
        }
        try {
            return io.clonetarget.storage.snapshot.SnapshotSource.open(v.snapshots(), snapshot, clone);
        } catch (IllegalArgumentException e) {
            throw new IOException("clone " + clone + ": " + e.getMessage(), e);
        }
    }

    /** Settles the group snapshots of volumes just opened whose creation a crash cut short. */
    private void settleGroups(Prepared p) {
        List<SnapshotVolume> opened = new ArrayList<>();
        List<SnapshotVolume> others = new ArrayList<>();
        p.opened.values().stream().map(OpenVolume::snapshots).filter(java.util.Objects::nonNull).forEach(opened::add);
        volumes.values().stream().map(OpenVolume::snapshots).filter(java.util.Objects::nonNull)
                .filter(sv -> !opened.contains(sv)).forEach(others::add);
        if (!opened.isEmpty()) {
            for (String line : SnapshotVolume.resolveGroups(opened, others)) {
                LOG.warn("{}", line);
            }
        }
    }

    /** Opens (or makes) the snapshot store of a volume in {@code STATE-DIR/snapshots/NAME}. */
    private static SnapshotVolume snapshots(ServerConfig desired, VolumeConfig v, OpenVolume opened)
            throws IOException {
        if (desired.server().stateDir() == null) {
            throw new IOException("volume " + v.name() + " has snapshots, which live in the state directory; give the "
                    + "server a state-dir");
        }
        java.nio.file.Path dir = java.nio.file.Path.of(desired.server().stateDir()).resolve("snapshots").resolve(v.name());
        long size = opened.device().size();
        SnapshotVolume.Settings d = SnapshotVolume.Settings.defaults(size);
        int chunk = Math.toIntExact(v.snapshots().chunkSize().bytes());
        long limit = v.snapshots().limit() == null ? Math.max(chunk, size - size % chunk)
                : v.snapshots().limit().bytes() - v.snapshots().limit().bytes() % chunk;
        SnapshotVolume.Settings settings = new SnapshotVolume.Settings(chunk, limit, d.growStep(),
                v.snapshots().lowSpacePercent(), d.tableCapacity(), d.copyBuffers());
        try {
            SnapshotVolume sv = SnapshotFiles.open(v.name(), opened.device(), dir, settings);
            LOG.info("volume {}: snapshots in {} ({} held, chunk {})", v.name(), dir, sv.list().size(),
                    io.clonetarget.config.ByteSize.ofBytes(sv.chunkSize()));
            return sv;
        } catch (IOException e) {
            throw new IOException("volume " + v.name() + ": snapshots in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void closeVolume(OpenVolume v) {
        if (v.atomic() != null) {
            try {
                v.atomic().close();
            } catch (IOException e) {
                LOG.error("closing the atomic journal of volume {}: {}", v.name(), e.getMessage());
            }
        }
        if (v.snapshots() != null) {
            try {
                v.snapshots().close();
            } catch (IOException e) {
                LOG.error("closing the snapshots of volume {}: {}", v.name(), e.getMessage());
            }
        }
        try {
            v.owner().close();
        } catch (IOException e) {
            LOG.error("closing volume {}: {}", v.name(), e.getMessage());
        }
    }

    /** Stops listening (the server stops). */
    synchronized void closePortals() {
        stopped = true;
        for (Portal p : portals.values()) {
            try {
                p.close();
            } catch (IOException e) {
                LOG.warn("closing portal {}: {}", p.address(), e.getMessage());
            }
        }
        portals.clear();
        portalList = List.of();
    }

    /** After the commands stopped: flush and close every unit and volume. */
    synchronized void closeVolumes() {
        for (Map<String, TargetNode.Exported> m : units.values()) {
            for (TargetNode.Exported e : m.values()) {
                e.unit().close();
            }
        }
        units.clear();
        for (OpenVolume v : volumes.values()) {
            closeVolume(v);
        }
        volumes = Map.of();
    }
}
