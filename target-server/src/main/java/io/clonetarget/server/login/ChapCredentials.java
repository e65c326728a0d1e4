package io.clonetarget.server.login;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A CHAP name and secret. For the initiator's authentication the initiator proves it knows the
 * secret; for mutual CHAP the target proves it knows its own.
 */
public record ChapCredentials(String user, byte[] secret) {
    public ChapCredentials {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(secret, "secret");
        if (user.isEmpty()) {
            throw new IllegalArgumentException("CHAP user name is empty");
        }
        if (secret.length == 0) {
            throw new IllegalArgumentException("CHAP secret is empty");
        }
        secret = secret.clone();
    }

    public static ChapCredentials of(String user, String secret) {
        return new ChapCredentials(user, secret.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public byte[] secret() {
        return secret.clone();
    }

    @Override
    public String toString() {
        return "ChapCredentials[user=" + user + ", secret=(" + secret.length + " bytes)]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChapCredentials c && c.user.equals(user) && java.util.Arrays.equals(c.secret, secret);
    }

    @Override
    public int hashCode() {
        return user.hashCode();
    }
}
