package io.clonetarget.config;

import java.util.List;

/**
 * Process-wide settings.
 *
 * @param listen portals, {@code host:port} or {@code [v6]:port}
 * @param stateDir where the server keeps its own files (admin socket, generated images)
 * @param ioThreads threads that run SCSI commands (storage I/O blocks them)
 * @param loginTimeout a connection that has not logged in by then is closed
 * @param nopInterval idle time before a NOP-In ping ({@code 0s}: never)
 * @param nopTimeout a ping unanswered this long closes the connection
 * @param limits what initiators can make the server spend ({@code [server.limits]})
 * @param spaceWarning when the file system holding a volume has less free space than this, its
 *     LUNs raise THIN PROVISIONING SOFT THRESHOLD REACHED (null: never)
 * @param taskWait how long task management waits for storage to give back the commands it
 *     aborts; past it, the connection is closed instead of answered
 */
public record ServerSection(List<String> listen, String stateDir, Integer ioThreads, Interval loginTimeout,
                            Interval nopInterval, Interval nopTimeout, LimitsSection limits, ByteSize spaceWarning,
                            Interval taskWait) {
    public static final String DEFAULT_LISTEN = "127.0.0.1:3260";

    public ServerSection {
        listen = listen == null || listen.isEmpty() ? List.of(DEFAULT_LISTEN) : List.copyOf(listen);
        ioThreads = ioThreads == null ? 16 : ioThreads;
        loginTimeout = loginTimeout == null ? Interval.ofSeconds(30) : loginTimeout;
        nopInterval = nopInterval == null ? Interval.ofSeconds(15) : nopInterval;
        nopTimeout = nopTimeout == null ? Interval.ofSeconds(30) : nopTimeout;
        limits = limits == null ? LimitsSection.defaults() : limits;
        taskWait = taskWait == null ? Interval.ofSeconds(60) : taskWait;
    }

    /** With the default task management wait. */
    public ServerSection(List<String> listen, String stateDir, Integer ioThreads, Interval loginTimeout,
                         Interval nopInterval, Interval nopTimeout, LimitsSection limits, ByteSize spaceWarning) {
        this(listen, stateDir, ioThreads, loginTimeout, nopInterval, nopTimeout, limits, spaceWarning, null);
    }

    /** Without a space warning. */
    public ServerSection(List<String> listen, String stateDir, Integer ioThreads, Interval loginTimeout,
                         Interval nopInterval, Interval nopTimeout, LimitsSection limits) {
        this(listen, stateDir, ioThreads, loginTimeout, nopInterval, nopTimeout, limits, null);
    }

    /** Without {@code [server.limits]}: the default limits. */
    public ServerSection(List<String> listen, String stateDir, Integer ioThreads, Interval loginTimeout,
                         Interval nopInterval, Interval nopTimeout) {
        this(listen, stateDir, ioThreads, loginTimeout, nopInterval, nopTimeout, null);
    }

    public static ServerSection defaults() {
        return new ServerSection(null, null, null, null, null, null, null, null, null);
    }

    public ServerSection withListen(List<String> addresses) {
        return new ServerSection(addresses, stateDir, ioThreads, loginTimeout, nopInterval, nopTimeout, limits,
                spaceWarning, taskWait);
    }

    public ServerSection withStateDir(String dir) {
        return new ServerSection(listen, dir, ioThreads, loginTimeout, nopInterval, nopTimeout, limits, spaceWarning,
                taskWait);
    }
}
