package io.clonetarget.server.login;

/** Ends a login with a non-success status; the message goes to the log, never to the wire. */
public final class LoginException extends Exception {
    private final LoginStatus status;

    public LoginException(LoginStatus status, String message) {
        super(message);
        this.status = status;
    }

    public LoginStatus status() {
        return status;
    }
}
