package io.clonetarget.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks values and references of a parsed configuration; every problem names its field.
 *
 * <p>Every rule here has a failing example in {@code ConfigValidatorTest}; a new rule needs one.
 */
public final class ConfigValidator {
    private static final Pattern IQN = Pattern.compile(
            "iqn\\.\\d{4}-(0[1-9]|1[0-2])\\.[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[^\\s]+)?");
    private static final Pattern EUI = Pattern.compile("eui\\.[0-9A-Fa-f]{16}");
    private static final Pattern NAA = Pattern.compile("naa\\.([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final int MIN_SEGMENT = 512;
    private static final int MAX_SEGMENT = 16_777_215;
    private static final int MAX_LUN = 16383;
    private static final String NAME_FORMS = "(iqn.YYYY-MM.reversed.domain[:id], eui.<16 hex>, naa.<hex>)";

    private ConfigValidator() {
    }

    /** Whether a name is a valid iSCSI name (RFC 3720 section 3.2.6). */
    public static boolean isIscsiName(String name) {
        return name != null && name.length() <= 223
                && (IQN.matcher(name).matches() || EUI.matcher(name).matches() || NAA.matcher(name).matches());
    }

    /** All problems found, each as {@code field.path: message}; empty when the configuration is usable. */
    public static List<String> validate(ServerConfig config) {
        List<String> problems = new ArrayList<>();
        if (config.version() != ServerConfig.SCHEMA_VERSION) {
            problems.add("version: " + config.version() + " is not the current schema " + ServerConfig.SCHEMA_VERSION
                    + " (a file of an older schema is migrated when read; a configuration made in code has the"
                    + " current one)");
        }
        server(config.server(), problems);
        admin(config.admin(), problems);
        iscsi(config.iscsi(), problems);
        if (config.discovery() != null) {
            chap("discovery", config.discovery(), problems);
        }
        Map<String, Integer> volumeIndex = new HashMap<>();
        for (int i = 0; i < config.volumes().size(); i++) {
            VolumeConfig v = config.volumes().get(i);
            String at = "volume[" + i + "]";
            volume(at, v, problems);
            if (v.name() != null && volumeIndex.putIfAbsent(v.name(), i) != null) {
                problems.add(at + ".name: \"" + v.name() + "\" is already the name of volume[" + volumeIndex.get(v.name()) + "]");
            }
        }
        Set<String> iqns = new HashSet<>();
        Map<String, Export> exported = new HashMap<>();
        Set<String> snapshotted = new HashSet<>();
        for (VolumeConfig v : config.volumes()) {
            if (v.snapshots() != null && v.name() != null) {
                snapshotted.add(v.name());
            }
        }
        for (int i = 0; i < config.targets().size(); i++) {
            TargetConfig t = config.targets().get(i);
            String at = "target[" + i + "]";
            if (!isIscsiName(t.iqn())) {
                problems.add(at + ".iqn: " + (t.iqn() == null ? "missing" : "\"" + t.iqn()
                        + "\" is not an iSCSI name " + NAME_FORMS));
            } else if (!iqns.add(t.iqn())) {
                problems.add(at + ".iqn: \"" + t.iqn() + "\" appears twice");
            }
            for (int k = 0; k < t.allowedInitiators().size(); k++) {
                if (!isIscsiName(t.allowedInitiators().get(k))) {
                    problems.add(at + ".allowed-initiators[" + k + "]: \"" + t.allowedInitiators().get(k)
                            + "\" is not an iSCSI name");
                }
            }
            for (int k = 0; k < t.allowedNetworks().size(); k++) {
                try {
                    Network.parse(t.allowedNetworks().get(k));
                } catch (IllegalArgumentException e) {
                    problems.add(at + ".allowed-networks[" + k + "]: " + e.getMessage());
                }
            }
            if (t.chap() != null) {
                chap(at + ".chap", t.chap(), problems);
            }
            lunMap(at, t.luns(), i, volumeIndex, snapshotted, exported, problems);
            Map<String, Integer> initiatorIndex = new HashMap<>();
            for (int k = 0; k < t.initiators().size(); k++) {
                InitiatorConfig initiator = t.initiators().get(k);
                String iat = at + ".initiator[" + k + "]";
                String name = initiator.name();
                if (!isIscsiName(name)) {
                    problems.add(iat + ".name: " + (name == null ? "missing (the initiator's iSCSI name)"
                            : "\"" + name + "\" is not an iSCSI name " + NAME_FORMS));
                } else if (initiatorIndex.putIfAbsent(name, k) != null) {
                    problems.add(iat + ".name: \"" + name + "\" already has its map in " + at + ".initiator["
                            + initiatorIndex.get(name) + "]");
                } else if (!t.allowedInitiators().isEmpty() && !t.allowedInitiators().contains(name)) {
                    problems.add(iat + ".name: \"" + name + "\" is not in " + at + ".allowed-initiators, so it cannot"
                            + " log in to see this map (add it there, or remove this map)");
                }
                lunMap(iat, initiator.luns(), i, volumeIndex, snapshotted, exported, problems);
            }
        }
        return problems;
    }

    /** Where a volume is first exported: the target's index and the entry ({@code target[0].lun[1]}). */
    private record Export(int target, String entry) {
    }

    /**
     * Checks one LUN map ({@code target[i].lun} or {@code target[i].initiator[k].lun}): numbers,
     * volumes, no number or volume twice in it, and no volume that another target exports. One
     * volume may be in several maps of the same target: one logical unit that different
     * initiators see under different numbers.
     */
    private static void lunMap(String at, List<LunConfig> map, int target, Map<String, Integer> volumeIndex,
                               Set<String> snapshotted, Map<String, Export> exported, List<String> problems) {
        Set<Integer> numbers = new HashSet<>();
        Map<String, String> inMap = new HashMap<>();
        for (int j = 0; j < map.size(); j++) {
            LunConfig l = map.get(j);
            String lat = at + ".lun[" + j + "]";
            if (l.lun() == null || l.lun() < 0 || l.lun() > MAX_LUN) {
                problems.add(lat + ".lun: " + (l.lun() == null ? "missing" : l.lun() + " outside 0.." + MAX_LUN));
            } else if (!numbers.add(l.lun())) {
                problems.add(lat + ".lun: LUN " + l.lun() + " appears twice in this map");
            }
            if (l.volume() == null || !volumeIndex.containsKey(l.volumeName())) {
                problems.add(lat + ".volume: " + (l.volume() == null ? "missing"
                        : "no volume named \"" + l.volumeName() + "\""));
                continue;
            }
            if (l.isSnapshot() && !snapshotted.contains(l.volumeName())) {
                problems.add(lat + ".volume: volume \"" + l.volumeName() + "\" has no snapshots (give it a "
                        + "[volume.snapshots] table)");
                continue;
            }
            if (l.isSnapshot() && !NAME.matcher(l.snapshotName()).matches()) {
                problems.add(lat + ".volume: \"" + l.snapshotName() + "\" is not a snapshot name (letters, digits, "
                        + "'.', '_' and '-', up to 64)");
                continue;
            }
            if (l.writeAccess() && !l.isSnapshot()) {
                problems.add(lat + ".writable: only a snapshot (VOLUME@SNAPSHOT) is mapped writable; a volume is "
                        + "writable unless read-only");
            }
            String before = inMap.putIfAbsent(l.volume(), lat);
            Export first = exported.putIfAbsent(l.volume(), new Export(target, lat));
            if (before != null) {
                problems.add(lat + ".volume: \"" + l.volume() + "\" is already in this map as " + before);
            } else if (first != null && first.target() != target) {
                problems.add(lat + ".volume: \"" + l.volume() + "\" is already exported by another target, as "
                        + first.entry() + " (a volume belongs to one target)");
            }
        }
    }

    private static void admin(AdminSection a, List<String> problems) {
        String listen = a.listenOrDefault();
        if (listen != null) {
            try {
                Endpoint.parse(listen);
            } catch (IllegalArgumentException e) {
                problems.add("admin.listen: " + e.getMessage() + " (or \"" + AdminSection.OFF + "\")");
            }
        }
    }

    private static void server(ServerSection s, List<String> problems) {
        for (int i = 0; i < s.listen().size(); i++) {
            try {
                Endpoint.parse(s.listen().get(i));
            } catch (IllegalArgumentException e) {
                problems.add("server.listen[" + i + "]: " + e.getMessage());
            }
        }
        range("server.io-threads", s.ioThreads(), 1, 1024, problems);
        LimitsSection l = s.limits();
        range("server.limits.max-connections", l.maxConnections(), 1, 1_000_000, problems);
        range("server.limits.max-pending-logins", l.maxPendingLogins(), 1, 1_000_000, problems);
        range("server.limits.max-connections-per-address", l.maxConnectionsPerAddress(), 1, 1_000_000, problems);
        if (l.sendTimeout().duration().isZero()) {
            problems.add("server.limits.send-timeout: must be more than 0s");
        }
        if (l.sessionData().bytes() < (1L << 20)) {
            problems.add("server.limits.session-data: " + l.sessionData() + " is less than the 1M a session needs");
        } else if (l.serverData().bytes() < l.sessionData().bytes()) {
            problems.add("server.limits.server-data: " + l.serverData() + " is less than server.limits.session-data "
                    + l.sessionData());
        }
        if (s.nopInterval().duration().isZero() == false && s.nopTimeout().duration().isZero()) {
            problems.add("server.nop-timeout: must be more than 0s when nop-interval is set");
        }
        if (s.taskWait().duration().isZero()) {
            problems.add("server.task-wait: must be more than 0s");
        }
        if (s.loginTimeout().duration().isZero()) {
            problems.add("server.login-timeout: must be more than 0s");
        }
    }

    private static void iscsi(IscsiSection s, List<String> problems) {
        range("iscsi.max-recv-data-segment-length", s.maxRecvDataSegmentLength().bytes(), MIN_SEGMENT, MAX_SEGMENT, problems);
        range("iscsi.first-burst-length", s.firstBurstLength().bytes(), MIN_SEGMENT, MAX_SEGMENT, problems);
        range("iscsi.max-burst-length", s.maxBurstLength().bytes(), MIN_SEGMENT, MAX_SEGMENT, problems);
        if (s.firstBurstLength().bytes() > s.maxBurstLength().bytes()) {
            problems.add("iscsi.first-burst-length: " + s.firstBurstLength() + " exceeds max-burst-length "
                    + s.maxBurstLength());
        }
        range("iscsi.max-outstanding-r2t", s.maxOutstandingR2t(), 1, 65535, problems);
        range("iscsi.command-window", s.commandWindow(), 1, 65536, problems);
    }

    private static void chap(String at, ChapConfig c, List<String> problems) {
        if (c.user() == null || c.user().isEmpty()) {
            problems.add(at + ".user: missing");
        }
        secret(at, "secret", c.secret(), c.secretFile(), problems);
        if (c.mutualUser() != null || c.mutualSecret() != null || c.mutualSecretFile() != null) {
            if (c.mutualUser() == null || c.mutualUser().isEmpty()) {
                problems.add(at + ".mutual-user: missing (mutual CHAP needs a user and a secret)");
            }
            secret(at, "mutual-secret", c.mutualSecret(), c.mutualSecretFile(), problems);
            if (c.secret() != null && c.secret().equals(c.mutualSecret())) {
                problems.add(at + ".mutual-secret: must differ from secret (initiators refuse equal secrets)");
            }
        }
    }

    private static void secret(String at, String key, String inline, String file, List<String> problems) {
        if ((inline == null) == (file == null)) {
            problems.add(at + "." + key + ": give exactly one of " + key + " and " + key + "-file");
        } else if (inline != null && (inline.length() < 12 || inline.length() > 255)) {
            problems.add(at + "." + key + ": " + inline.length() + " characters; CHAP secrets need 12 to 255"
                    + " (Windows accepts 12 to 16)");
        }
    }

    private static void snapshots(String at, VolumeConfig v, List<String> problems) {
        SnapshotsConfig s = v.snapshots();
        if (v.readOnly()) {
            problems.add(at + ": a read-only volume never changes, so it has no snapshots");
        }
        long chunk = s.chunkSize().bytes();
        if (Long.bitCount(chunk) != 1 || chunk < 16 * 1024 || chunk > (1L << 20)) {
            problems.add(at + ".chunk-size: " + s.chunkSize() + " is not a power of two from 16K to 1M");
        } else if (s.limit() != null && s.limit().bytes() < chunk) {
            problems.add(at + ".limit: " + s.limit() + " is smaller than one chunk (" + s.chunkSize() + ")");
        }
        range(at + ".low-space-percent", s.lowSpacePercent(), 0, 100, problems);
    }

    private static void volume(String at, VolumeConfig v, List<String> problems) {
        if (v.name() == null || !NAME.matcher(v.name()).matches()) {
            problems.add(at + ".name: " + (v.name() == null ? "missing"
                    : "\"" + v.name() + "\" (letters, digits, '.', '_' and '-', up to 64)"));
        }
        if (v.path() == null || v.path().isEmpty()) {
            problems.add(at + ".path: missing");
        }
        if (v.blockSize() != 512 && v.blockSize() != 4096) {
            problems.add(at + ".block-size: " + v.blockSize() + " (512 or 4096)");
        }
        if (v.size() != null && (v.size().bytes() == 0 || v.size().bytes() % v.blockSize() != 0)) {
            problems.add(at + ".size: " + v.size() + " is not a positive multiple of the block size " + v.blockSize());
        }
        if (v.snapshots() != null) {
            snapshots(at + ".snapshots", v, problems);
        }
        if (v.type() == VolumeType.FILE) {
            for (String[] field : new String[][]{{"source", v.source()}, {"metadata", v.metadata()}}) {
                if (field[1] != null) {
                    problems.add(at + "." + field[0] + ": only clone volumes have one");
                }
            }
            if (v.discardPassdown() != null) {
                problems.add(at + ".discard-passdown: only clone volumes have one");
            }
            if (v.overwriteDestination() != null) {
                problems.add(at + ".overwrite-destination: only clone volumes have one");
            }
            if (v.regionSize() != null || v.hydration() != null) {
                problems.add(at + ": region-size and hydration apply to clone volumes only");
            }
            return;
        }
        if (v.source() != null && v.source().startsWith(VolumeConfig.SNAPSHOT_SOURCE)) {
            String ref = v.source().substring(VolumeConfig.SNAPSHOT_SOURCE.length());
            int a = ref.indexOf('@');
            if (a <= 0 || !NAME.matcher(ref.substring(0, a)).matches() || !NAME.matcher(ref.substring(a + 1)).matches()) {
                problems.add(at + ".source: \"" + v.source() + "\" is not snapshot:VOLUME@SNAPSHOT");
            }
        }
        if (v.source() == null || v.source().isEmpty()) {
            problems.add(at + ".source: missing (a file, block device or http(s) URL)");
        }
        if (v.size() != null) {
            problems.add(at + ".size: a clone has the size of its source");
        }
        long region = v.regionSize().bytes();
        if (Long.bitCount(region) != 1 || region < 4096 || region > (1L << 30)) {
            problems.add(at + ".region-size: " + v.regionSize() + " is not a power of two from 4K to 1G");
        } else if (region < v.blockSize()) {
            problems.add(at + ".region-size: smaller than the block size");
        }
        HydrationConfig h = v.hydration();
        range(at + ".hydration.in-flight", h.inFlight(), 1, 1024, problems);
        range(at + ".hydration.batch-size", h.batchSize(), 1, 4096, problems);
        if (h.retryMin().duration().compareTo(h.retryMax().duration()) > 0) {
            problems.add(at + ".hydration.retry-min: longer than retry-max");
        }
        if (h.retryMin().duration().isZero()) {
            problems.add(at + ".hydration.retry-min: must be more than 0s");
        }
    }

    private static void range(String field, long value, long min, long max, List<String> problems) {
        if (value < min || value > max) {
            problems.add(field + ": " + value + " outside " + min + ".." + max);
        }
    }
}
