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
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * One iSCSI target node. The LUN map is replaced as a whole (copy on write), so command threads
 * read it without locks; a change raises REPORTED LUNS DATA HAS CHANGED on the units that stay.
 */
public final class TargetNode implements LoginTarget {
    private final String name;
    private final String alias;
    private final ChapCredentials chap;
    private final ChapCredentials mutualChap;
    private final Set<String> allowedInitiators;
    private volatile NavigableMap<Integer, LogicalUnit> luns = Collections.emptyNavigableMap();
    private volatile Map<Integer, LunMetrics> metrics = Map.of();

    /**
     * @param allowedInitiators initiator names allowed to log in; empty means everyone
     */
    public TargetNode(String name, String alias, ChapCredentials chap, ChapCredentials mutualChap,
                      Set<String> allowedInitiators) {
        this.name = name;
        this.alias = alias;
        this.chap = chap;
        this.mutualChap = mutualChap;
        this.allowedInitiators = Set.copyOf(allowedInitiators);
    }

    @Override
    public String name() {
        return name;
    }

    public String alias() {
        return alias;
    }

    @Override
    public ChapCredentials chap() {
        return chap;
    }

    @Override
    public ChapCredentials mutualChap() {
        return mutualChap;
    }

    @Override
    public boolean admits(String initiatorName) {
        return allowedInitiators.isEmpty() || allowedInitiators.contains(initiatorName);
    }

    public Map<Integer, LogicalUnit> luns() {
        return luns;
    }

    public LogicalUnit lun(int lun) {
        return luns.get(lun);
    }

    /** The counters of a LUN ({@link LunMetrics#NONE} for one without). */
    public LunMetrics metrics(int lun) {
        return metrics.getOrDefault(lun, LunMetrics.NONE);
    }

    /** Sets the counters of a LUN (copy on write, as the LUN map). */
    public synchronized void setMetrics(int lun, LunMetrics m) {
        Map<Integer, LunMetrics> next = new java.util.HashMap<>(metrics);
        next.put(lun, m);
        metrics = Map.copyOf(next);
    }

    /** Adds or replaces a LUN. */
    public synchronized void putLun(int lun, LogicalUnit unit) {
        if (lun < 0 || lun > LunAddress.MAX_LUN) {
            throw new IllegalArgumentException("LUN " + lun + " outside 0.." + LunAddress.MAX_LUN);
        }
        TreeMap<Integer, LogicalUnit> next = new TreeMap<>(luns);
        next.put(lun, unit);
        luns = Collections.unmodifiableNavigableMap(next);
        lunsChanged(unit);
    }

    /** Removes a LUN and returns its unit (the caller closes it). */
    public synchronized LogicalUnit removeLun(int lun) {
        TreeMap<Integer, LogicalUnit> next = new TreeMap<>(luns);
        LogicalUnit removed = next.remove(lun);
        luns = Collections.unmodifiableNavigableMap(next);
        lunsChanged(null);
        return removed;
    }

    private void lunsChanged(LogicalUnit added) {
        for (LogicalUnit u : luns.values()) {
            if (u != added) {
                u.notifyAll(Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
            }
        }
    }

    /** The data-out length a CDB asks for on this LUN (0 when the LUN does not exist). */
    public long dataOutLength(int lun, ByteBuffer cdb) {
        LogicalUnit unit = lun >= 0 ? luns.get(lun) : null;
        return unit == null ? 0 : unit.dataOutLength(cdb);
    }

    /**
     * Executes a command only if it can complete without blocking on storage (see
     * {@link LogicalUnit#tryExecute}); null otherwise, with nothing changed.
     */
    public ScsiResult tryExecute(int lun, ScsiTask task) {
        LogicalUnit unit = lun >= 0 ? luns.get(lun) : null;
        return unit == null ? null : unit.tryExecute(task);
    }

    /** Executes a command addressed to {@code lun} (-1 for an address we cannot decode). */
    public ScsiResult execute(int lun, ScsiTask task) {
        ByteBuffer cdb = task.cdb();
        int opcode = Cdb.opcode(cdb);
        if (opcode == 0xa0) {
            return reportLuns(task);
        }
        LogicalUnit unit = lun >= 0 ? luns.get(lun) : null;
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

    private ScsiResult reportLuns(ScsiTask task) {
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
        Map<Integer, LogicalUnit> snapshot = select == 0x01 ? Map.of() : luns;
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
