package io.clonetarget.server.scsi;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The persistent reservations of one logical unit at one moment, immutable: the registrations
 * (I_T nexus to reservation key, in registration order), the reservation (type, and its holder
 * unless the type makes every registrant a holder) and the last valid APTPL bit.
 *
 * <p>The PRgeneration counter is not part of it: SPC-4 sets it to zero at power on whatever
 * APTPL says, so it is neither saved nor compared.
 *
 * @param holder the holding nexus; null when there is no reservation or the type is an
 *     all-registrants one (normalized, so equal states compare equal)
 * @param type 0 (no reservation) or a reservation type of {@link Reservations}
 * @param aptpl the last valid APTPL bit: the state survives a power loss
 */
record PrState(Map<Nexus, Long> registrations, Nexus holder, int type, boolean aptpl) {
    static final PrState EMPTY = new PrState(Map.of(), null, 0, false);

    PrState {
        registrations = Collections.unmodifiableMap(new LinkedHashMap<>(registrations));
        if (type == 0 || allRegistrants(type)) {
            holder = null;
        }
    }

    static boolean allRegistrants(int type) {
        return type == Reservations.WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }

    static boolean registrantsOnly(int type) {
        return type == Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY
                || type == Reservations.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
    }

    static boolean validType(int t) {
        return t == Reservations.WRITE_EXCLUSIVE || t == Reservations.EXCLUSIVE_ACCESS || registrantsOnly(t)
                || allRegistrants(t);
    }

    boolean allRegistrants() {
        return allRegistrants(type);
    }

    /** Whether {@code nexus} is a reservation holder (every registrant, for all-registrants types). */
    boolean isHolder(Nexus nexus) {
        if (type == 0) {
            return false;
        }
        return allRegistrants() ? registrations.containsKey(nexus) : nexus.equals(holder);
    }

    /** The same registrations and reservation with another APTPL bit. */
    PrState withAptpl(boolean on) {
        return new PrState(registrations, holder, type, on);
    }
}
