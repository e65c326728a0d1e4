package io.clonetarget.server.cli;

/** Exit codes of {@code clonetarget}; stable, documented in the README. */
public final class ExitCodes {
    /** Success. */
    public static final int OK = 0;
    /** A runtime failure: I/O, an address in use, a volume that cannot be opened. */
    public static final int FAILURE = 1;
    /** Bad command line: unknown option, malformed value. */
    public static final int USAGE = 2;
    /** The configuration is invalid; every problem is printed with its field. */
    public static final int CONFIG = 3;
    /** A configuration change was refused (cannot be made live, or needs --force); nothing changed. */
    public static final int REFUSED = 4;

    private ExitCodes() {
    }
}
