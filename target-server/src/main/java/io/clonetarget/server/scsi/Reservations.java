package io.clonetarget.server.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reservations of one logical unit: SPC-2 RESERVE(6)/RELEASE(6) and SPC-4 persistent
 * reservations (PERSISTENT RESERVE IN/OUT), keyed per I_T nexus.
 *
 * <p>Persistent reservations survive logouts and resets. With APTPL=1 (the last valid APTPL bit
 * of a REGISTER or REGISTER AND IGNORE EXISTING KEY) they also survive a restart or a power
 * loss: every PERSISTENT RESERVE OUT that changes them saves the new state to the unit's
 * {@link ReservationStore} and answers GOOD only when it is durable; the unit restores it when
 * it is made again. APTPL=0 removes what was saved. The PRgeneration starts at zero either way.
 * A store that cannot be read at start, or holds something torn or corrupt, is logged as an
 * error naming the file and what failed, set aside, and the unit starts with no reservations
 * (as after a power loss without APTPL): the initiators register again, as they do after any
 * restart, and a cluster's arbitration then works as usual. A unit without a persistent store
 * refuses APTPL=1 with INVALID FIELD IN PARAMETER LIST and reports PTPL_C=0. REGISTER AND MOVE
 * and SPEC_I_PT are not implemented.
 *
 * <p>Thread-safety: every change happens under this object's monitor and is published as a whole
 * ({@link PrState}, and the SPC-2 holder) through volatile fields; {@link #check} and
 * {@link #held}, on the path of every command, read them without the lock, so a PR OUT that waits
 * for its fsync holds up other reservation commands but no reads or writes. The PRgeneration is
 * guarded by the monitor. A PR OUT's new state becomes visible only after it is durable, so no
 * initiator sees a state a crash could take back.
 */
final class Reservations {
    private static final Logger LOG = LoggerFactory.getLogger(Reservations.class);

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

    private final ReservationStore store;
    private final byte[] naa;
    private final String name;
    /** Written under the monitor. */
    private volatile Nexus spc2Holder;
    /** Written under the monitor, after it is durable when {@code aptpl} says so. */
    private volatile PrState state = PrState.EMPTY;
    /** Under the monitor. */
    private int generation;
    /** Under the monitor: a save failed part way, so the store may hold what was never answered GOOD. */
    private boolean storeSuspect;

    /**
     * Restores what {@code store} holds, if anything.
     *
     * @param naa the unit's NAA designator: a saved state must carry the same one
     * @param name for log lines
     */
    Reservations(ReservationStore store, byte[] naa, String name) {
        this.store = store;
        this.naa = naa.clone();
        this.name = name;
        this.state = restore();
    }

    private PrState restore() {
        byte[] saved;
        try {
            saved = store.load();
        } catch (IOException e) {
            LOG.error("{}: cannot read the persistent reservations in {}: {}; starting with none", name, store,
                    e.toString());
            return PrState.EMPTY;
        }
        if (saved == null) {
            return PrState.EMPTY;
        }
        try {
            PrState s = ReservationFile.decode(saved, naa);
            LOG.info("{}: restored {} registration(s) and {} from {}", name, s.registrations().size(),
                    s.type() == 0 ? "no reservation" : "a reservation of type " + s.type(), store);
            return s;
        } catch (CorruptReservationStateException e) {
            String aside;
            try {
                aside = store.setAside();
            } catch (IOException moving) {
                aside = "not moved: " + moving;
            }
            LOG.error("{}: the persistent reservations in {} are unusable: {}; starting with none (the file is "
                    + "kept as {})", name, store, e.getMessage(), aside);
            return PrState.EMPTY;
        }
    }

    /** The current persistent-reservation state (for tests and the restore check). */
    PrState state() {
        return state;
    }

    /** Whether a reservation is held now (SPC-2 RESERVE, or a persistent reservation of any type). */
    boolean held() {
        return spc2Holder != null || state.type() != 0;
    }

    /** Throws RESERVATION CONFLICT when the nexus may not run a command of this class now. */
    void check(Nexus nexus, Access access) throws ScsiException {
        if (access == Access.UNRESTRICTED || access == Access.OWN_RULES) {
            return;
        }
        Nexus spc2 = spc2Holder;
        if (spc2 != null) {
            if (!spc2.equals(nexus)) {
                throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
            }
            return;
        }
        PrState s = state;
        int type = s.type();
        if (type == 0 || access == Access.PR_ALLOWED || s.isHolder(nexus)) {
            return;
        }
        boolean registered = s.registrations().containsKey(nexus);
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

    /** RESERVE(6). */
    synchronized void reserve6(Nexus nexus) throws ScsiException {
        if (state.type() != 0 || !state.registrations().isEmpty()) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        if (spc2Holder != null && !spc2Holder.equals(nexus)) {
            throw ScsiException.status(ScsiStatus.RESERVATION_CONFLICT);
        }
        spc2Holder = nexus;
    }

    /** RELEASE(6): releases only the nexus's own reservation; otherwise does nothing. */
    synchronized void release6(Nexus nexus) throws ScsiException {
        if (state.type() != 0 || !state.registrations().isEmpty()) {
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
        PrState s = state;
        Map<Nexus, Long> registrations = s.registrations();
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
                int type = s.type();
                b = ByteBuffer.allocate(type == 0 ? 8 : 24);
                b.putInt(generation).putInt(type == 0 ? 0 : 16);
                if (type != 0) {
                    b.putLong(s.allRegistrants() ? 0 : registrations.getOrDefault(s.holder(), 0L));
                    b.putInt(0).put((byte) 0).put((byte) type).putShort((short) 0);
                }
            }
            case 2 -> b = capabilities(s);
            case 3 -> b = fullStatus(s);
            default -> throw ScsiException.invalidCdbField(1, 4);
        }
        b.flip();
        return ModePages.copyOut(task, b, allocation);
    }

    /**
     * REPORT CAPABILITIES, true to what is implemented: CRH=0 (RESERVE(6)/RELEASE(6) conflict
     * with any registration, the SPC-2 rule), SIP_C=0 (SPEC_I_PT is refused), ATP_C=1 (a target
     * has one target port, so ALL_TG_PT=1 registers on every one of them), PTPL_C when the store
     * persists, TMV with ALLOW COMMANDS 001b (TEST UNIT READY passes every reservation type),
     * PTPL_A from the last valid APTPL bit, and all six types in the mask.
     */
    private ByteBuffer capabilities(PrState s) {
        ByteBuffer b = ByteBuffer.allocate(8);
        b.putShort((short) 8);
        b.put((byte) (0x04 | (store.persistent() ? 0x01 : 0)));
        b.put((byte) (0x80 | (1 << 4) | (s.aptpl() ? 0x01 : 0)));
        b.putShort((short) 0xea01);
        b.putShort((short) 0);
        return b;
    }

    private ByteBuffer fullStatus(PrState s) {
        List<byte[]> descriptors = new ArrayList<>();
        for (Map.Entry<Nexus, Long> e : s.registrations().entrySet()) {
            byte[] port = e.getKey().initiatorPort().getBytes(StandardCharsets.UTF_8);
            int idLength = (4 + port.length + 1 + 3) & ~3;
            ByteBuffer d = ByteBuffer.allocate(24 + idLength);
            d.putLong(0, e.getValue());
            boolean holds = s.isHolder(e.getKey());
            d.put(12, (byte) (holds ? 1 : 0));
            d.put(13, (byte) (holds ? s.type() : 0));
            d.putShort(18, (short) e.getKey().relativeTargetPort());
            d.putInt(20, idLength);
            d.put(24, (byte) 0x45);
            d.putShort(26, (short) (idLength - 4));
            d.put(28, port);
            descriptors.add(d.array());
        }
        int total = descriptors.stream().mapToInt(a -> a.length).sum();
        ByteBuffer b = ByteBuffer.allocate(8 + total);
        b.putInt(generation).putInt(total);
        descriptors.forEach(b::put);
        return b;
    }

    /**
     * PERSISTENT RESERVE OUT. Returns only when the new state is in effect, and durable if APTPL
     * is on; a failure to save leaves everything as it was (HARDWARE ERROR, INTERNAL TARGET
     * FAILURE).
     *
     * @param attentions where preempted and released registrants get their unit attentions
     */
    synchronized void out(ScsiTask task, UnitAttentions attentions) throws ScsiException {
        ByteBuffer cdb = task.cdb();
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
        boolean register = action == 0 || action == 6;
        // APTPL counts only for the register actions; SPC-4 has the others ignore it
        boolean aptpl = register && (flags & 0x01) != 0;
        if (aptpl && !store.persistent()) {
            throw ScsiException.invalidParameterField(20, 0);
        }
        boolean typed = action == 1 || action == 2 || action == 4 || action == 5;
        if (typed && scope != 0) {
            throw ScsiException.invalidCdbField(2, 7);
        }
        if (typed && !PrState.validType(newType)) {
            throw ScsiException.invalidCdbField(2, 3);
        }
        PrState before = state;
        PrChange change = new PrChange(before, task.nexus());
        switch (action) {
            case 0, 6 -> change.register(key, saKey, action == 6, aptpl);
            case 1 -> change.reserve(key, newType);
            case 2 -> change.release(key, newType);
            case 3 -> change.clear(key);
            case 4, 5 -> change.preempt(key, saKey, newType);
            default -> throw ScsiException.invalidCdbField(1, 4);
        }
        PrState after = change.result();
        persist(before, after);
        state = after;
        generation += change.generationSteps();
        change.establishAttentions(attentions);
    }

    /** Makes {@code after} durable when APTPL is on, or removes the saved state when it went off. */
    private void persist(PrState before, PrState after) throws ScsiException {
        try {
            if (after.aptpl()) {
                if (!after.equals(before) || storeSuspect) {
                    store.save(ReservationFile.encode(after, naa));
                }
            } else if (before.aptpl() || storeSuspect) {
                store.remove();
            }
            storeSuspect = false;
        } catch (IOException | RuntimeException e) {
            storeSuspect = true;
            LOG.error("{}: saving the persistent reservations to {} failed; the command changes nothing: {}", name,
                    store, e.toString());
            throw ScsiException.check(Asc.INTERNAL_TARGET_FAILURE);
        }
    }
}
