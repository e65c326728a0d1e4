package io.clonetarget.server.pdu;

/**
 * A PDU the target cannot accept. It is answered with a Reject of {@link #reason()}; when
 * {@link #fatal()} the connection is closed afterwards, because the byte stream or the task
 * state can no longer be trusted (RFC 7143 error recovery level 0).
 */
public class PduException extends Exception {
    private final RejectReason reason;
    private final boolean fatal;
    private final boolean digest;

    public PduException(RejectReason reason, boolean fatal, String message) {
        this(reason, fatal, false, message);
    }

    /** @param digest whether a header or data digest did not match (counted per session) */
    public PduException(RejectReason reason, boolean fatal, boolean digest, String message) {
        super(message);
        this.reason = reason;
        this.fatal = fatal;
        this.digest = digest;
    }

    public boolean digest() {
        return digest;
    }

    public RejectReason reason() {
        return reason;
    }

    public boolean fatal() {
        return fatal;
    }
}
