package io.clonetarget.server;

import io.clonetarget.config.ChapConfig;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.TargetConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** The running configuration as the admin API shows it: inline CHAP secrets hidden. */
final class ConfigRedaction {
    /** What an inline secret reads as. */
    static final String HIDDEN = "(hidden)";

    private ConfigRedaction() {
    }

    static ServerConfig redact(ServerConfig c) {
        List<TargetConfig> targets = new ArrayList<>();
        for (TargetConfig t : c.targets()) {
            targets.add(t.chap() == null ? t : t.withChap(redact(t.chap())));
        }
        ServerConfig r = c.withInventory(c.volumes(), targets);
        return c.discovery() == null ? r : r.withDiscovery(redact(c.discovery()));
    }

    private static ChapConfig redact(ChapConfig chap) {
        return new ChapConfig(chap.user(), chap.secret() == null ? null : HIDDEN, chap.secretFile(), chap.mutualUser(),
                chap.mutualSecret() == null ? null : HIDDEN, chap.mutualSecretFile());
    }

    /** Mixed into revisions so that they tell nothing about secrets to someone guessing offline. */
    private static final byte[] SALT = new java.security.SecureRandom().generateSeed(16);

    /**
     * A short digest that changes whenever the configuration does: a keyed hash (salted per server
     * process) of the whole text, so it confirms no guess of a secret.
     */
    static String revision(ServerConfig c) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(SALT);
            byte[] d = md.digest(ConfigFiles.format(c).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
