package io.clonetarget.server.login;

/** Whether a CRC32C digest may, must or must not be used on a connection. */
public enum DigestUse {
    /** Offered and accepted: "None" only. */
    OFF,
    /** CRC32C preferred, None accepted. */
    ALLOWED,
    /** CRC32C or the login fails. */
    REQUIRED
}
