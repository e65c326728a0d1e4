package io.clonetarget.server.admin;

/**
 * A request the server understood and cannot carry out, with the HTTP status and the error code
 * the admin API answers it with ({@code {"error": {"code": ..., "message": ...}}}).
 */
public final class AdminError extends RuntimeException {
    private final int status;
    private final String code;

    public AdminError(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
