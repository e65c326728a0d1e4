package io.clonetarget.config;

/**
 * CHAP credentials. The secret is given inline or, better, in a file readable only by the
 * server ({@code secret-file}); never on a command line. The mutual pair is what the target
 * proves to initiators that ask for mutual CHAP.
 */
public record ChapConfig(String user, String secret, String secretFile,
                         String mutualUser, String mutualSecret, String mutualSecretFile) {
    @Override
    public String toString() {
        return "ChapConfig[user=" + user + ", mutualUser=" + mutualUser + "]";
    }
}
