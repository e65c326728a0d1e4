package io.clonetarget.server.scsi;

/** A saved reservation state that cannot be used; the message says which check failed. */
public final class CorruptReservationStateException extends Exception {
    public CorruptReservationStateException(String message) {
        super(message);
    }
}
