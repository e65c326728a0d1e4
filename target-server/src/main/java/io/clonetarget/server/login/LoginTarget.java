package io.clonetarget.server.login;

/** What the login needs to know about a target node. */
public interface LoginTarget {
    String name();

    /** Credentials initiators must prove, or null when the target needs no authentication. */
    ChapCredentials chap();

    /** Credentials this target proves to initiators asking for mutual CHAP, or null. */
    ChapCredentials mutualChap();

    /** Whether this initiator may log in (access control). */
    boolean admits(String initiatorName);
}
