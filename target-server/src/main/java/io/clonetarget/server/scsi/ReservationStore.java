package io.clonetarget.server.scsi;

import java.io.IOException;

/**
 * Where a logical unit keeps its persistent reservations across a power loss (APTPL). The
 * store holds one small opaque blob, {@link ReservationFile}'s encoding; it knows nothing of
 * SCSI. Implementations say their thread-safety; {@link Reservations} calls one store from one
 * thread at a time.
 */
public interface ReservationStore {
    /** A unit that cannot persist: APTPL=1 is refused, PTPL_C is 0 (tests, no state directory). */
    ReservationStore NONE = new ReservationStore() {
        @Override
        public boolean persistent() {
            return false;
        }

        @Override
        public byte[] load() {
            return null;
        }

        @Override
        public void save(byte[] content) {
            throw new UnsupportedOperationException("this unit cannot persist reservations");
        }

        @Override
        public void remove() {
        }

        @Override
        public String setAside() {
            return null;
        }

        @Override
        public String toString() {
            return "no reservation store";
        }
    };

    /** Whether {@link #save} can make state survive a power loss. */
    boolean persistent();

    /** The content saved last, or null when there is none. */
    byte[] load() throws IOException;

    /** Replaces the content; when this returns, the new content survives a power loss. */
    void save(byte[] content) throws IOException;

    /** Removes the content, durably; nothing when there is none. */
    void remove() throws IOException;

    /**
     * Moves unreadable content out of the way (kept for inspection, not read again), durably.
     *
     * @return where it went, or null when there was nothing to move
     */
    String setAside() throws IOException;
}
