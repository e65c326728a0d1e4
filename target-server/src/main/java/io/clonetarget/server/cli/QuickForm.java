package io.clonetarget.server.cli;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ConfigException;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ConfigValidator;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.Interval;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one-target form of {@code serve}: {@code --lun PATH[,size=1G][,block-size=4096][,read-only]}
 * and {@code --clone SOURCE,dest=PATH[,region=64K][,rate=50M][,in-flight=4][,batch=16]
 * [,hydrate-on-read][,paused][,overwrite-destination]} become volumes and the LUNs of one target,
 * in order.
 */
final class QuickForm {
    static final String DEFAULT_IQN = "iqn.2026-11.io.clonetarget:disk";

    private QuickForm() {
    }

    /** A malformed option value, reported as a usage error naming the option. */
    static final class SpecException extends Exception {
        SpecException(String message) {
            super(message);
        }
    }

    /** One {@code --lun} or {@code --clone} argument in the order given. */
    record Spec(boolean isClone, String text) {
    }

    /**
     * The configuration the options describe, validated and checked with {@code check}.
     *
     * @throws SpecException for a malformed option (a usage error)
     * @throws ConfigException with every problem of the values and of {@code check}
     */
    static ServerConfig build(List<String> listen, String iqn, List<Spec> specs, String stateDir, Integer ioThreads,
                              ConfigCheck check) throws SpecException, ConfigException {
        List<VolumeConfig> volumes = new ArrayList<>();
        List<LunConfig> luns = new ArrayList<>();
        for (Spec s : specs) {
            String name = "lun" + luns.size();
            volumes.add(s.isClone() ? clone(name, s.text()) : file(name, s.text()));
            luns.add(new LunConfig(luns.size(), name));
        }
        String target = iqn == null ? DEFAULT_IQN : iqn;
        if (!ConfigValidator.isIscsiName(target)) {
            throw new SpecException("--target: \"" + target + "\" is not an iSCSI name (e.g. iqn.2026-11.com.example:disk1)");
        }
        ServerSection server = new ServerSection(listen, stateDir, ioThreads, null, null, null);
        ServerConfig config = new ServerConfig(server, null, null, volumes,
                List.of(new TargetConfig(target, null, null, null, luns)));
        return ConfigFiles.validate(config, "command line", check);
    }

    private static Map<String, String> options(String option, String text, List<String> allowed) throws SpecException {
        String[] parts = text.split(",", -1);
        if (parts[0].isEmpty()) {
            throw new SpecException(option + ": missing path in \"" + text + "\"");
        }
        Map<String, String> map = new LinkedHashMap<>();
        map.put("", parts[0]);
        for (int i = 1; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            String key = eq < 0 ? parts[i] : parts[i].substring(0, eq);
            String value = eq < 0 ? "true" : parts[i].substring(eq + 1);
            if (!allowed.contains(key)) {
                throw new SpecException(option + ": unknown option \"" + key + "\" in \"" + text + "\" (known: "
                        + String.join(", ", allowed) + ")");
            }
            if (map.put(key, value) != null) {
                throw new SpecException(option + ": \"" + key + "\" given twice in \"" + text + "\"");
            }
        }
        return map;
    }

    private static ByteSize size(String option, String key, String value) throws SpecException {
        try {
            return ByteSize.parse(value);
        } catch (IllegalArgumentException e) {
            throw new SpecException(option + ": " + key + "=" + value + ": " + e.getMessage());
        }
    }

    private static Integer number(String option, String key, String value) throws SpecException {
        try {
            return Integer.valueOf(value);
        } catch (NumberFormatException e) {
            throw new SpecException(option + ": " + key + "=" + value + " is not a number");
        }
    }

    private static boolean flag(String option, String key, String value) throws SpecException {
        return switch (value) {
            case "true", "yes", "on" -> true;
            case "false", "no", "off" -> false;
            default -> throw new SpecException(option + ": " + key + "=" + value + " is not yes/no");
        };
    }

    static VolumeConfig file(String name, String text) throws SpecException {
        Map<String, String> o = options("--lun", text, List.of("size", "block-size", "read-only"));
        ByteSize size = o.containsKey("size") ? size("--lun", "size", o.get("size")) : null;
        Integer blockSize = o.containsKey("block-size") ? number("--lun", "block-size", o.get("block-size")) : null;
        Boolean readOnly = o.containsKey("read-only") ? flag("--lun", "read-only", o.get("read-only")) : null;
        return new VolumeConfig(name, VolumeType.FILE, o.get(""), size, blockSize, readOnly, null, null, null, null, null);
    }

    static VolumeConfig clone(String name, String text) throws SpecException {
        Map<String, String> o = options("--clone", text, List.of("dest", "metadata", "region", "rate", "in-flight",
                "batch", "hydrate-on-read", "paused", "block-size", "discard-passdown", "overwrite-destination"));
        if (!o.containsKey("dest")) {
            throw new SpecException("--clone: missing dest=PATH in \"" + text + "\"");
        }
        ByteSize region = o.containsKey("region") ? size("--clone", "region", o.get("region")) : null;
        HydrationConfig hydration = new HydrationConfig(
                o.containsKey("in-flight") ? number("--clone", "in-flight", o.get("in-flight")) : null,
                o.containsKey("batch") ? number("--clone", "batch", o.get("batch")) : null,
                o.containsKey("rate") ? size("--clone", "rate", o.get("rate")) : null,
                o.containsKey("paused") ? flag("--clone", "paused", o.get("paused")) : null,
                o.containsKey("hydrate-on-read") ? flag("--clone", "hydrate-on-read", o.get("hydrate-on-read")) : null,
                null, (Interval) null);
        Integer blockSize = o.containsKey("block-size") ? number("--clone", "block-size", o.get("block-size")) : null;
        Boolean passdown = o.containsKey("discard-passdown")
                ? flag("--clone", "discard-passdown", o.get("discard-passdown")) : null;
        Boolean overwrite = o.containsKey("overwrite-destination")
                ? flag("--clone", "overwrite-destination", o.get("overwrite-destination")) : null;
        return new VolumeConfig(name, VolumeType.CLONE, o.get("dest"), null, blockSize, null, o.get(""),
                o.get("metadata"), region, hydration, passdown, overwrite);
    }
}
