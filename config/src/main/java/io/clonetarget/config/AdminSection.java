package io.clonetarget.config;

/**
 * The HTTPS admin API ({@code [admin]}).
 *
 * @param listen {@code host:port} to serve it on, or {@code "off"}; when the default is taken
 *     (another server on this host) the server says so and runs without it, while an address
 *     set here that cannot be had stops the start
 * @param metricsPublic whether {@code GET /metrics} is answered without a token
 */
public record AdminSection(String listen, Boolean metricsPublic) {
    public static final String DEFAULT_LISTEN = "127.0.0.1:3261";
    public static final String OFF = "off";

    public AdminSection {
        metricsPublic = metricsPublic != null && metricsPublic;
    }

    public static AdminSection defaults() {
        return new AdminSection(null, null);
    }

    /** The address to listen on (the default when none is set), or null when the API is off. */
    public String listenOrDefault() {
        if (OFF.equals(listen)) {
            return null;
        }
        return listen == null ? DEFAULT_LISTEN : listen;
    }

    /** Whether the listen address is the default one rather than chosen. */
    public boolean defaultListen() {
        return listen == null;
    }
}
