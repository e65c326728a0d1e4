package io.clonetarget.server.login;

import io.clonetarget.server.auth.FailureThrottle;
import java.util.Optional;

/** The server-side facts a login consults. */
public interface LoginContext {
    TargetSettings settings();

    /** The portal group tag of the portal the connection came in on. */
    int portalGroupTag();

    Optional<? extends LoginTarget> findTarget(String name);

    /** Credentials discovery sessions must prove, or null. */
    ChapCredentials discoveryChap();

    /** Credentials proved to initiators asking for mutual CHAP on discovery sessions, or null. */
    ChapCredentials discoveryMutualChap();

    /** Where failed logins are counted and guesses slowed down. */
    FailureThrottle throttle();
}
