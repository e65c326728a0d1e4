package io.clonetarget.server.login;

/** What the login needs to know about a target node. */
public interface LoginTarget {
    String name();

    /** Credentials initiators must prove, or null when the target needs no authentication. */
    ChapCredentials chap();

    /** Credentials this target proves to initiators asking for mutual CHAP, or null. */
    ChapCredentials mutualChap();

    /**
     * Whether this initiator may log in from this address (access control by name and source
     * network; {@code from} null when unknown, which no network rule admits).
     */
    boolean admits(String initiatorName, java.net.InetAddress from);
}
