package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reservations of one logical unit: SPC-2 RESERVE(6)/RELEASE(6) and SPC-4 persistent
 * reservations (PERSISTENT RESERVE IN/OUT), keyed per I_T nexus.
 *
 * <p>Persistent reservations are kept in memory and survive logouts and resets, but not a
 * restart (APTPL is refused with INVALID FIELD IN PARAMETER LIST). REGISTER AND MOVE and
 * SPEC_I_PT are not implemented. All methods synchronize on this object; commands are rare.
 */
final class Reservations {
    /** How a command interacts with reservations (SPC-4 table 67, simplified to classes). */
    enum Access {
        /** Never conflicts: INQUIRY, REPORT LUNS, REQUEST SENSE, REPORT SUPPORTED OPERATION CODES. */
        UNRESTRICTED,
        /** Conflicts only with an SPC-2 reservation of another nexus (TUR, READ CAPACITY, PR IN). */
        PR_ALLOWED,
        /** Reads: conflict with exclusive-access persistent reservations. */
        READ,
        /** Writes and state changes: conflict with every persistent reservation type. */
        WRITE,
        /** RESERVE(6), RELEASE(6), PERSISTENT RESERVE OUT: checked by their own rules. */
        OWN_RULES
    }

    static final int WRITE_EXCLUSIVE = 1;
    static final int EXCLUSIVE_ACCESS = 3;
    static final int WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;
    static final int EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;
    static final int WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7;
    static final int EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8;

    private Nexus spc2Holder;
    private final Map<Nexus, Long> registrations = new LinkedHashMap<>();
    private Nexus holder;
    private int type;
    private int generation;

    /** Throws RESERVATION CONFLICT when the nexus may not run a command of this class now. */
    /** Whether a reservation is held now (SPC-2 RESERVE, or a persistent reservation of any type). */
    synchronized boolean held() {
        return spc2Holder != null || type != 0;
    }

    synchronized void check(Nexus nexus, Access access) throws ScsiException {
        if (access == Access.UNRESTRICTED || access == Access.OWN_RULES) {
            return;
        }
        if (spc2Holder != null) {
            if (!spc2Holder.equals(nexus)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
            return;
        }
        if (type == 0 || access == Access.PR_ALLOWED || isHolder(nexus)) {
            return;
        }
        boolean registered = registrations.containsKey(nexus);
        boolean conflict = switch (type) {
            case WRITE_EXCLUSIVE -> access == Access.WRITE;
            case EXCLUSIVE_ACCESS -> true;
            case WRITE_EXCLUSIVE_REGISTRANTS_ONLY, WRITE_EXCLUSIVE_ALL_REGISTRANTS -> !registered && access == Access.WRITE;
            case EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> !registered;
            default -> false;
        };
        if (conflict) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
    }

    private boolean allRegistrants() {
        return type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }

    private boolean registrantsOnly() {
        return type == WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type == EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
    }

    private boolean isHolder(Nexus nexus) {
        if (type == 0) {
            return false;
        }
        return allRegistrants() ? registrations.containsKey(nexus) : nexus.equals(holder);
    }

    /** RESERVE(6). */
    synchronized void reserve6(Nexus nexus) throws ScsiException {
        if (type != 0 || !registrations.isEmpty()) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        if (spc2Holder != null && !spc2Holder.equals(nexus)) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        spc2Holder = nexus;
    }

    /** RELEASE(6): releases only the nexus's own reservation; otherwise does nothing. */
    synchronized void release6(Nexus nexus) throws ScsiException {
        if (type != 0 || !registrations.isEmpty()) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        if (nexus.equals(spc2Holder)) {
            spc2Holder = null;
        }
    }

    /** A logical unit reset or I_T nexus loss releases the SPC-2 reservation it affects. */
    synchronized void reset(Nexus lost) {
        if (lost == null || lost.equals(spc2Holder)) {
            spc2Holder = null;
        }
    }

    /** PERSISTENT RESERVE IN. */
    synchronized ByteBuffer in(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        int action = Cdb.u8(cdb, 1) & 0x1f;
        int allocation = Cdb.u16(cdb, 7);
        if (spc2Holder != null && !spc2Holder.equals(task.nexus())) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        ByteBuffer b;
        switch (action) {
            case 0 -> {
                b = ByteBuffer.allocate(8 + 8 * registrations.size());
                b.putInt(generation).putInt(8 * registrations.size());
                for (long key : registrations.values()) {
                    b.putLong(key);
                }
            }
            case 1 -> {
                b = ByteBuffer.allocate(type == 0 ? 8 : 24);
                b.putInt(generation).putInt(type == 0 ? 0 : 16);
                if (type != 0) {
                    b.putLong(allRegistrants() ? 0 : registrations.getOrDefault(holder, 0L));
                    b.putInt(0).put((byte) 0).put((byte) type).putShort((short) 0);
                }
            }
            case 2 -> {
                b = ByteBuffer.allocate(8);
                b.putShort((short) 8);
                b.put((byte) 0x04);
                b.put((byte) 0x80);
                b.putShort((short) 0xea01);
                b.putShort((short) 0);
            }
            case 3 -> b = fullStatus();
            default -> throw ScsiException.invalidCdbField(1, 4);
        }
        b.flip();
        return ModePages.copyOut(task, b, allocation);
    }

    private ByteBuffer fullStatus() {
        List<byte[]> descriptors = new ArrayList<>();
        for (Map.Entry<Nexus, Long> e : registrations.entrySet()) {
            byte[] name = e.getKey().initiatorPort().getBytes(StandardCharsets.UTF_8);
            int idLength = (4 + name.length + 1 + 3) & ~3;
            ByteBuffer d = ByteBuffer.allocate(24 + idLength);
            d.putLong(0, e.getValue());
            boolean holds = isHolder(e.getKey());
            d.put(12, (byte) (holds ? 1 : 0));
            d.put(13, (byte) (holds ? type : 0));
            d.putShort(18, (short) e.getKey().relativeTargetPort());
            d.putInt(20, idLength);
            d.put(24, (byte) 0x45);
            d.putShort(26, (short) (idLength - 4));
            d.put(28, name);
            descriptors.add(d.array());
        }
        int total = descriptors.stream().mapToInt(a -> a.length).sum();
        ByteBuffer b = ByteBuffer.allocate(8 + total);
        b.putInt(generation).putInt(total);
        descriptors.forEach(b::put);
        return b;
    }

    /**
     * PERSISTENT RESERVE OUT.
     *
     * @param attentions where preempted and released registrants get their unit attentions
     */
    synchronized void out(ScsiTask task, UnitAttentions attentions) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        Nexus me = task.nexus();
        int action = Cdb.u8(cdb, 1) & 0x1f;
        int scope = Cdb.u8(cdb, 2) >>> 4;
        int newType = Cdb.u8(cdb, 2) & 0x0f;
        long listLength = Cdb.u32(cdb, 5);
        if (spc2Holder != null) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        if (action > 6) {
            throw ScsiException.invalidCdbField(1, 4);
        }
        if (listLength != 24) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        ByteBuffer data = task.dataOut();
        if (data.remaining() < 24) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        long key = data.getLong(0);
        long saKey = data.getLong(8);
        int flags = Cdb.u8(data, 20);
        if ((flags & 0x08) != 0) {
            throw ScsiException.invalidParameterField(20, 3);
        }
        if ((flags & 0x01) != 0) {
            throw ScsiException.invalidParameterField(20, 0);
        }
        Long mine = registrations.get(me);
        boolean typed = action == 1 || action == 2 || action == 4 || action == 5;
        if (typed && scope != 0) {
            throw ScsiException.invalidCdbField(2, 7);
        }
        if (typed && !validType(newType)) {
            throw ScsiException.invalidCdbField(2, 3);
        }
        switch (action) {
            case 0, 6 -> register(me, mine, key, saKey, action == 6, attentions);
            case 1 -> {
                requireKey(mine, key);
                if (type == 0) {
                    holder = me;
                    type = newType;
                } else if (!isHolder(me) || type != newType) {
                    throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
                }
            }
            case 2 -> {
                requireKey(mine, key);
                if (type == 0 || !isHolder(me)) {
                    return;
                }
                if (type != newType) {
                    throw ScsiException.check(Asc.INVALID_RELEASE_OF_PERSISTENT_RESERVATION);
                }
                releaseReservation(me, attentions);
            }
            case 3 -> {
                requireKey(mine, key);
                for (Nexus n : registrations.keySet()) {
                    if (!n.equals(me)) {
                        attentions.establish(n, Asc.RESERVATIONS_PREEMPTED);
                    }
                }
                registrations.clear();
                holder = null;
                type = 0;
                generation++;
            }
            case 4, 5 -> preempt(me, mine, key, saKey, newType, attentions);
            default -> throw ScsiException.invalidCdbField(1, 4);
        }
    }

    private static boolean validType(int t) {
        return t == WRITE_EXCLUSIVE || t == EXCLUSIVE_ACCESS || t == WRITE_EXCLUSIVE_REGISTRANTS_ONLY
                || t == EXCLUSIVE_ACCESS_REGISTRANTS_ONLY || t == WRITE_EXCLUSIVE_ALL_REGISTRANTS
                || t == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }

    private static void requireKey(Long mine, long key) throws ScsiException {
        if (mine == null || mine != key) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
    }

    private void register(Nexus me, Long mine, long key, long saKey, boolean ignoreExisting,
                          UnitAttentions attentions) throws ScsiException {
        if (mine == null) {
            if (!ignoreExisting && key != 0) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
            if (saKey != 0) {
                registrations.put(me, saKey);
            }
            generation++;
            return;
        }
        if (!ignoreExisting && mine != key) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        if (saKey != 0) {
            registrations.put(me, saKey);
            generation++;
            return;
        }
        unregister(me, attentions);
        generation++;
    }

    private void unregister(Nexus me, UnitAttentions attentions) {
        boolean wasHolder = isHolder(me);
        registrations.remove(me);
        if (!wasHolder) {
            return;
        }
        if (allRegistrants()) {
            if (registrations.isEmpty()) {
                holder = null;
                type = 0;
            }
            return;
        }
        boolean notify = registrantsOnly();
        holder = null;
        type = 0;
        if (notify) {
            for (Nexus n : registrations.keySet()) {
                attentions.establish(n, Asc.RESERVATIONS_RELEASED);
            }
        }
    }

    private void releaseReservation(Nexus me, UnitAttentions attentions) {
        boolean notify = type != WRITE_EXCLUSIVE && type != EXCLUSIVE_ACCESS;
        holder = null;
        type = 0;
        if (notify) {
            for (Nexus n : registrations.keySet()) {
                if (!n.equals(me)) {
                    attentions.establish(n, Asc.RESERVATIONS_RELEASED);
                }
            }
        }
    }

    private void preempt(Nexus me, Long mine, long key, long saKey, int newType, UnitAttentions attentions)
            throws ScsiException {
        requireKey(mine, key);
        if (type == 0) {
            if (!removeKey(saKey, me, attentions)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        } else if (allRegistrants()) {
            if (saKey == 0) {
                for (Iterator<Nexus> it = registrations.keySet().iterator(); it.hasNext(); ) {
                    Nexus n = it.next();
                    if (!n.equals(me)) {
                        attentions.establish(n, Asc.REGISTRATIONS_PREEMPTED);
                        it.remove();
                    }
                }
                holder = me;
                type = newType;
            } else if (!removeKey(saKey, me, attentions)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        } else {
            long holderKey = registrations.getOrDefault(holder, 0L);
            if (saKey == holderKey) {
                removeKey(saKey, me, attentions);
                int oldType = type;
                holder = me;
                type = newType;
                if (oldType != newType) {
                    for (Nexus n : registrations.keySet()) {
                        if (!n.equals(me)) {
                            attentions.establish(n, Asc.RESERVATIONS_RELEASED);
                        }
                    }
                }
            } else if (saKey == 0) {
                throw ScsiException.invalidParameterField(8, -1);
            } else if (!removeKey(saKey, me, attentions)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        }
        generation++;
    }

    /** Removes every registration with {@code key} except {@code me}'s own; true if any matched. */
    private boolean removeKey(long key, Nexus me, UnitAttentions attentions) {
        boolean any = false;
        for (Iterator<Map.Entry<Nexus, Long>> it = registrations.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Nexus, Long> e = it.next();
            if (e.getValue() == key) {
                any = true;
                if (!e.getKey().equals(me)) {
                    attentions.establish(e.getKey(), Asc.REGISTRATIONS_PREEMPTED);
                    it.remove();
                }
            }
        }
        return any;
    }
}
