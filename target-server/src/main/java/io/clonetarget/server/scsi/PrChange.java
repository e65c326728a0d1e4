package io.clonetarget.server.scsi;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One PERSISTENT RESERVE OUT service action worked out on a copy of the state: nothing of it is
 * visible until {@link Reservations} has made the result durable (when APTPL asks for it) and
 * published it. The unit attentions it causes are collected and established only then, so a
 * command that fails to persist changes nothing. Confined to the thread running the command.
 */
final class PrChange {
    private record Attention(Nexus nexus, Asc condition) {
    }

    private final Nexus me;
    private final Map<Nexus, Long> registrations;
    private Nexus holder;
    private int type;
    private boolean aptpl;
    private int generationSteps;
    private final List<Attention> attentions = new ArrayList<>();

    PrChange(PrState from, Nexus me) {
        this.me = me;
        this.registrations = new LinkedHashMap<>(from.registrations());
        this.holder = from.holder();
        this.type = from.type();
        this.aptpl = from.aptpl();
    }

    PrState result() {
        return new PrState(registrations, holder, type, aptpl);
    }

    /** How much PRgeneration advances. */
    int generationSteps() {
        return generationSteps;
    }

    void establishAttentions(UnitAttentions into) {
        for (Attention a : attentions) {
            into.establish(a.nexus(), a.condition());
        }
    }

    private void notify(Nexus n, Asc condition) {
        attentions.add(new Attention(n, condition));
    }

    private boolean isHolder(Nexus n) {
        if (type == 0) {
            return false;
        }
        return PrState.allRegistrants(type) ? registrations.containsKey(n) : n.equals(holder);
    }

    private void requireKey(long key) throws ScsiException {
        Long mine = registrations.get(me);
        if (mine == null || mine != key) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
    }

    /**
     * REGISTER or REGISTER AND IGNORE EXISTING KEY. {@code newAptpl} becomes the last valid APTPL
     * bit unless the command does nothing (an unregistered nexus registering key 0).
     */
    void register(long key, long saKey, boolean ignoreExisting, boolean newAptpl) throws ScsiException {
        Long mine = registrations.get(me);
        if (mine == null) {
            if (!ignoreExisting && key != 0) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
            if (saKey != 0) {
                registrations.put(me, saKey);
                aptpl = newAptpl;
            }
            generationSteps++;
            return;
        }
        if (!ignoreExisting && mine != key) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        aptpl = newAptpl;
        generationSteps++;
        if (saKey != 0) {
            registrations.put(me, saKey);
            return;
        }
        unregister();
    }

    /** Removes my registration; a holder's reservation goes with it (SPC-4 5.13.11.2.3). */
    private void unregister() {
        boolean wasHolder = isHolder(me);
        registrations.remove(me);
        if (!wasHolder) {
            return;
        }
        if (PrState.allRegistrants(type)) {
            if (registrations.isEmpty()) {
                holder = null;
                type = 0;
            }
            return;
        }
        boolean notify = PrState.registrantsOnly(type);
        holder = null;
        type = 0;
        if (notify) {
            for (Nexus n : registrations.keySet()) {
                notify(n, Asc.RESERVATIONS_RELEASED);
            }
        }
    }

    /** RESERVE: the holder repeating its own type (and scope) is GOOD and changes nothing. */
    void reserve(long key, int newType) throws ScsiException {
        requireKey(key);
        if (type == 0) {
            holder = me;
            type = newType;
        } else if (!isHolder(me) || type != newType) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
    }

    void release(long key, int releaseType) throws ScsiException {
        requireKey(key);
        if (type == 0 || !isHolder(me)) {
            return;
        }
        if (type != releaseType) {
            throw ScsiException.check(Asc.INVALID_RELEASE_OF_PERSISTENT_RESERVATION);
        }
        boolean notify = type != Reservations.WRITE_EXCLUSIVE && type != Reservations.EXCLUSIVE_ACCESS;
        holder = null;
        type = 0;
        if (notify) {
            for (Nexus n : registrations.keySet()) {
                if (!n.equals(me)) {
                    notify(n, Asc.RESERVATIONS_RELEASED);
                }
            }
        }
    }

    void clear(long key) throws ScsiException {
        requireKey(key);
        for (Nexus n : registrations.keySet()) {
            if (!n.equals(me)) {
                notify(n, Asc.RESERVATIONS_PREEMPTED);
            }
        }
        registrations.clear();
        holder = null;
        type = 0;
        generationSteps++;
    }

    /** PREEMPT and PREEMPT AND ABORT (the abort itself is the task manager's, not ours). */
    void preempt(long key, long saKey, int newType) throws ScsiException {
        requireKey(key);
        if (type == 0) {
            if (!removeKey(saKey)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        } else if (PrState.allRegistrants(type)) {
            if (saKey == 0) {
                for (Iterator<Nexus> it = registrations.keySet().iterator(); it.hasNext(); ) {
                    Nexus n = it.next();
                    if (!n.equals(me)) {
                        notify(n, Asc.REGISTRATIONS_PREEMPTED);
                        it.remove();
                    }
                }
                holder = me;
                type = newType;
            } else if (!removeKey(saKey)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        } else {
            long holderKey = registrations.getOrDefault(holder, 0L);
            if (saKey == holderKey) {
                removeKey(saKey);
                int oldType = type;
                holder = me;
                type = newType;
                if (oldType != newType) {
                    for (Nexus n : registrations.keySet()) {
                        if (!n.equals(me)) {
                            notify(n, Asc.RESERVATIONS_RELEASED);
                        }
                    }
                }
            } else if (saKey == 0) {
                throw ScsiException.invalidParameterField(8, -1);
            } else if (!removeKey(saKey)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
        }
        generationSteps++;
    }

    /** Removes every registration with {@code key} except my own; true if any matched. */
    private boolean removeKey(long key) {
        boolean any = false;
        for (Iterator<Map.Entry<Nexus, Long>> it = registrations.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Nexus, Long> e = it.next();
            if (e.getValue() == key) {
                any = true;
                if (!e.getKey().equals(me)) {
                    notify(e.getKey(), Asc.REGISTRATIONS_PREEMPTED);
                    it.remove();
                }
            }
        }
        return any;
    }
}
