package io.clonetarget.server.target;

import io.clonetarget.server.login.ChapCredentials;
import io.clonetarget.server.login.LoginTarget;
import io.clonetarget.server.metrics.LunMetrics;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.Cdb;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.scsi.ScsiResult;
import io.clonetarget.server.scsi.ScsiStatus;
import io.clonetarget.server.scsi.ScsiTask;
import io.clonetarget.server.scsi.SenseData;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * One iSCSI target node: its access rules and its LUN maps, both replaced as a whole (copy on
 * write) so that login and command threads read them without locks, and the server changes
 * them live without touching sessions.
 *
 * <p>An initiator sees the default map unless it has its own ({@link Maps#own}): then it sees
 * that one instead. The same logical unit may appear in several maps, under different numbers.
 * Writers ({@link #setMaps}, {@link #setAccess}) are serialized by the node's monitor.
 */
public final class TargetNode implements LoginTarget {
    /**
     * Who may log in.
     *
     * @param chap credentials initiators must prove, or null
     * @param mutualChap credentials the target proves on request, or null
     * @param names initiator names allowed; empty: every name
     * @param networks source addresses allowed; empty: every address
     */
    public record Access(ChapCredentials chap, ChapCredentials mutualChap, Set<String> names,
                         List<Predicate<InetAddress>> networks) {
        public Access {
            names = Set.copyOf(names);
            networks = List.copyOf(networks);
        }

        public static final Access OPEN = new Access(null, null, Set.of(), List.of());
    }

    /** A logical unit as a map shows it, with its counters. */
    public record Exported(LogicalUnit unit, LunMetrics metrics) {
    }

    /**
     * The LUN maps: the default one and the initiators' own ones (by initiator name).
     */
    public record Maps(NavigableMap<Integer, Exported> defaults, Map<String, NavigableMap<Integer, Exported>> own) {
        public static final Maps EMPTY = new Maps(Collections.emptyNavigableMap(), Map.of());

        public Maps {
            defaults = Collections.unmodifiableNavigableMap(new TreeMap<>(defaults));
            Map<String, NavigableMap<Integer, Exported>> copy = new HashMap<>();
            own.forEach((k, v) -> copy.put(k, Collections.unmodifiableNavigableMap(new TreeMap<>(v))));
            own = Map.copyOf(copy);
        }

        /** The map an initiator sees. */
        public NavigableMap<Integer, Exported> of(String initiator) {
            if (own.isEmpty() || initiator == null) {
                return defaults;
            }
            NavigableMap<Integer, Exported> m = own.get(initiator);
            return m == null ? defaults : m;
        }

        /** Every unit of every map, once. */
        public Set<LogicalUnit> units() {
            Set<LogicalUnit> all = Collections.newSetFromMap(new IdentityHashMap<>());
            defaults.values().forEach(e -> all.add(e.unit()));
            own.values().forEach(m -> m.values().forEach(e -> all.add(e.unit())));
            return all;
        }
    }

    private final String name;
    private volatile String alias;
    private volatile Access access;
    private volatile Maps maps = Maps.EMPTY;
    private volatile boolean retired;

    public TargetNode(String name, String alias, Access access) {
        this.name = name;
        this.alias = alias;
        this.access = access;
    }

    /**
     * @param allowedInitiators initiator names allowed to log in; empty means everyone
     */
    public TargetNode(String name, String alias, ChapCredentials chap, ChapCredentials mutualChap,
                      Set<String> allowedInitiators) {
        this(name, alias, new Access(chap, mutualChap, allowedInitiators, List.of()));
    }

    @Override
    public String name() {
        return name;
    }

    public String alias() {
        return alias;
    }

    public void setAlias(String text) {
        alias = text;
    }

    @Override
    public ChapCredentials chap() {
        return access.chap();
    }

    @Override
    public ChapCredentials mutualChap() {
        return access.mutualChap();
    }

    public Access access() {
        return access;
    }

    /** Replaces the access rules; sessions already logged in stay (their next login meets the new rules). */
    public synchronized void setAccess(Access next) {
        access = next;
    }

    /**
     * The target is gone from the configuration: it admits no one any more and its sessions,
     * until they are gone too, see no LUN (their commands get LOGICAL UNIT NOT SUPPORTED).
     */
    public synchronized void retire() {
        retired = true;
        maps = Maps.EMPTY;
    }

    @Override
    public boolean admits(String initiatorName, InetAddress from) {
        if (retired) {
            return false;
        }
        Access a = access;
        if (!a.names().isEmpty() && !a.names().contains(initiatorName)) {
            return false;
        }
        if (a.networks().isEmpty()) {
            return true;
        }
        for (Predicate<InetAddress> n : a.networks()) {
            if (from != null && n.test(from)) {
                return true;
            }
        }
        return false;
    }

    public Maps maps() {
        return maps;
    }

    /** The map an initiator sees, as units by LUN number. */
    public NavigableMap<Integer, Exported> luns(String initiator) {
        return maps.of(initiator);
    }

    /** Every logical unit of the target, in any map. */
    public Set<LogicalUnit> units() {
        return maps.units();
    }

    public LogicalUnit lun(String initiator, int lun) {
        Exported e = lun >= 0 ? maps.of(initiator).get(lun) : null;
        return e == null ? null : e.unit();
    }

    /** The counters of a LUN as an initiator sees it ({@link LunMetrics#NONE} for one without). */
    public LunMetrics metrics(String initiator, int lun) {
        Exported e = lun >= 0 ? maps.of(initiator).get(lun) : null;
        return e == null ? LunMetrics.NONE : e.metrics();
    }

    /**
     * Replaces the LUN maps. For every initiator whose view changes, the units it still sees
     * get REPORTED LUNS DATA HAS CHANGED for its nexuses (SAM-5 5.14; a unit new to it has no
     * state for its nexus yet and reports its own power-on condition).
     *
     * @return which initiator names see a different map now (tested against a session's name)
     */
    public synchronized Predicate<String> setMaps(Maps next) {
        Maps before = maps;
        maps = next;
        boolean defaultChanged = !sameView(before.defaults(), next.defaults());
        Set<String> named = new HashSet<>(before.own().keySet());
        named.addAll(next.own().keySet());
        Set<String> changed = new HashSet<>();
        for (String initiator : named) {
            if (!sameView(before.of(initiator), next.of(initiator))) {
                changed.add(initiator);
            }
        }
        Predicate<String> affected = initiator -> changed.contains(initiator)
                || (defaultChanged && !named.contains(initiator));
        for (LogicalUnit u : next.units()) {
            if (before.units().contains(u)) {
                u.notifyWhere(Asc.REPORTED_LUNS_DATA_HAS_CHANGED, nexus -> affected.test(nexus.initiatorName())
                        && containsUnit(before.of(nexus.initiatorName()), u)
                        && containsUnit(next.of(nexus.initiatorName()), u));
            }
        }
        return affected;
    }

    private static boolean sameView(NavigableMap<Integer, Exported> a, NavigableMap<Integer, Exported> b) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (Map.Entry<Integer, Exported> e : a.entrySet()) {
            if (b.get(e.getKey()).unit() != e.getValue().unit()) {
                return false;
            }
        }
        return true;
    }

    private static boolean containsUnit(NavigableMap<Integer, Exported> map, LogicalUnit u) {
        for (Exported e : map.values()) {
            if (e.unit() == u) {
                return true;
            }
        }
        return false;
    }

    /** Adds or replaces a LUN of the default map (tests, and servers without initiator maps). */
    public synchronized void putLun(int lun, LogicalUnit unit) {
        if (lun < 0 || lun > LunAddress.MAX_LUN) {
            throw new IllegalArgumentException("LUN " + lun + " outside 0.." + LunAddress.MAX_LUN);
        }
        TreeMap<Integer, Exported> next = new TreeMap<>(maps.defaults());
        next.put(lun, new Exported(unit, LunMetrics.NONE));
        setMaps(new Maps(next, maps.own()));
    }

    /** The data-out length a CDB asks for on this LUN (0 when the LUN does not exist). */
    public long dataOutLength(String initiator, int lun, ByteBuffer cdb) {
        LogicalUnit unit = lun(initiator, lun);
        return unit == null ? 0 : unit.dataOutLength(cdb);
    }

    /**
     * Executes a command only if it can complete without blocking on storage (see
     * {@link LogicalUnit#tryExecute}); null otherwise, with nothing changed.
     */
    public ScsiResult tryExecute(String initiator, int lun, ScsiTask task) {
        LogicalUnit unit = lun(initiator, lun);
        return unit == null ? null : unit.tryExecute(task);
    }

    /** Executes a command addressed to {@code lun} (-1 for an address we cannot decode). */
    public ScsiResult execute(String initiator, int lun, ScsiTask task) {
        ByteBuffer cdb = task.cdb();
        int opcode = Cdb.opcode(cdb);
        if (opcode == 0xa0) {
            return reportLuns(initiator, task);
        }
        LogicalUnit unit = lun(initiator, lun);
        if (unit != null) {
            return unit.execute(task);
        }
        if (opcode == 0x12 && !Cdb.bit(cdb, 1, 0)) {
            ByteBuffer data = task.allocateDataIn(Math.min(36, Cdb.u16(cdb, 3)));
            ByteBuffer standard = ByteBuffer.allocate(36);
            standard.put(0, (byte) 0x7f).put(2, (byte) 0x06).put(3, (byte) 0x12).put(4, (byte) 31);
            data.put(standard.slice(0, data.remaining()));
            return ScsiResult.good(data.flip());
        }
        SenseData sense = SenseData.of(Asc.LOGICAL_UNIT_NOT_SUPPORTED);
        if (opcode == 0x03) {
            byte[] bytes = sense.encode(Cdb.bit(cdb, 1, 0));
            int n = Math.min(bytes.length, Cdb.u8(cdb, 4));
            return ScsiResult.good(task.allocateDataIn(n).put(bytes, 0, n).flip());
        }
        return ScsiResult.failed(ScsiStatus.CHECK_CONDITION, sense.fixed());
    }

    private ScsiResult reportLuns(String initiator, ScsiTask task) {
        ByteBuffer cdb = task.cdb();
        int select = Cdb.u8(cdb, 2);
        long allocation = Cdb.u32(cdb, 6);
        if (select != 0x00 && select != 0x01 && select != 0x02) {
            return ScsiResult.failed(ScsiStatus.CHECK_CONDITION,
                    SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, 2, -1).fixed());
        }
        if (allocation < 16) {
            return ScsiResult.failed(ScsiStatus.CHECK_CONDITION,
                    SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, 6, -1).fixed());
        }
        Map<Integer, Exported> snapshot = select == 0x01 ? Map.of() : maps.of(initiator);
        ByteBuffer list = ByteBuffer.allocate(8 + 8 * snapshot.size());
        list.putInt(8 * snapshot.size()).putInt(0);
        for (int lun : snapshot.keySet()) {
            list.putLong(LunAddress.encode(lun));
        }
        list.flip();
        int n = (int) Math.min(allocation, list.remaining());
        ByteBuffer out = task.allocateDataIn(n);
        out.put(list.slice(0, n));
        return ScsiResult.good(out.flip());
    }

    @Override
    public String toString() {
        return name;
    }
}
