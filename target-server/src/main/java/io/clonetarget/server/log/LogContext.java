package io.clonetarget.server.log;

import org.slf4j.MDC;

/**
 * The MDC keys every log line about a connection carries, set by the thread doing the work:
 * {@code conn} ("c12"), {@code session} (" isid=400001370001 tsih=3"), {@code task}
 * (" itt=0000001a lun=0"). The logging pattern prints them in brackets before the message, so
 * code never builds such prefixes itself. Values are made of numbers and our own ids only.
 */
public final class LogContext {
    public static final String CONN = "conn";
    public static final String SESSION = "session";
    public static final String TASK = "task";

    private LogContext() {
    }

    /** Sets the connection (and, when known, session) context of this thread. */
    public static void connection(String connectionId, String session) {
        MDC.put(CONN, connectionId);
        if (session != null) {
            MDC.put(SESSION, session);
        } else {
            MDC.remove(SESSION);
        }
    }

    /** The MDC value of a session: ISID and TSIH. */
    public static String session(long isid, int tsih) {
        return String.format(" isid=%012x tsih=%d", isid, tsih);
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * Sets the task context of this thread (on top of the connection's). Runs once per command,
     * so it builds its one string by hand rather than through a formatter.
     */
    public static void task(int itt, int lun) {
        char[] c = new char[" itt=00000000 lun=".length()];
        " itt=".getChars(0, 5, c, 0);
        for (int i = 0; i < 8; i++) {
            c[5 + i] = HEX[(itt >>> (28 - 4 * i)) & 0xf];
        }
        " lun=".getChars(0, 5, c, 13);
        MDC.put(TASK, new StringBuilder(c.length + 5).append(c).append(lun).toString());
    }

    public static void clearTask() {
        MDC.remove(TASK);
    }

    /** A scope that restores the thread's context when closed. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Sets the connection context for a scope on a thread that works for several connections
     * (the timer, another connection closing this one), restoring what was there after.
     */
    public static Scope of(String connectionId, String session) {
        java.util.Map<String, String> before = MDC.getCopyOfContextMap();
        connection(connectionId, session);
        MDC.remove(TASK);
        return () -> {
            if (before == null) {
                MDC.clear();
            } else {
                MDC.setContextMap(before);
            }
        };
    }

    /** Clears everything (a pooled thread going back to its pool). */
    public static void clear() {
        MDC.remove(CONN);
        MDC.remove(SESSION);
        MDC.remove(TASK);
    }
}
