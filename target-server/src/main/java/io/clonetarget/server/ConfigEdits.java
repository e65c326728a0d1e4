package io.clonetarget.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.config.ChapConfig;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.InitiatorConfig;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * The imperative commands ({@code lun map}, {@code acl add}, ...) as edits of the desired
 * configuration: each turns the running configuration into the next one, which the server then
 * applies like a file ({@link TargetServer#edit}). So commands and {@code apply} never disagree:
 * there is only one desired state. Edits are idempotent where they can be (mapping what is
 * mapped, deleting what is gone: the same configuration comes back); a conflict is an
 * {@link IllegalArgumentException} whose message says what to do.
 *
 * <p>An edit request is JSON: {@code {"edit": "lun-map", "target": IQN, "lun": 3, "volume": NAME,
 * "initiator": NAME}}; see {@link #of} for every edit and its fields (a volume is always
 * {@code "volume"}: {@code "name"} is the admin API client's path parameter).
 */
final class ConfigEdits {
    private ConfigEdits() {
    }

    /** The edit a request describes. */
    static UnaryOperator<ServerConfig> of(JsonNode r) {
        String edit = r.path("edit").asText("");
        boolean force = r.path("force").asBoolean(false);
        return switch (edit) {
            case "volume-create" -> c -> volumeCreate(c, volume(r));
            case "volume-delete" -> c -> volumeDelete(c, text(r, "volume"), force);
            case "volume-resize" -> c -> volumeResize(c, text(r, "volume"), size(r, "size"));
            case "clone-create" -> c -> volumeCreate(c, clone(r));
            case "clone-set" -> c -> cloneSet(c, text(r, "volume"), size(r, "rate"));
            case "target-create" -> c -> targetCreate(c, text(r, "target"), optional(r, "alias"));
            case "target-delete" -> c -> targetDelete(c, text(r, "target"));
            case "lun-map" -> c -> lunMap(c, text(r, "target"), r.hasNonNull("lun") ? r.get("lun").asInt() : null,
                    text(r, "volume"), optional(r, "initiator"), r.path("writable").asBoolean(false));
            case "lun-unmap" -> c -> lunUnmap(c, text(r, "target"), r.path("lun").asInt(-1), optional(r, "initiator"));
            case "portal-add" -> c -> portals(c, text(r, "address"), true);
            case "portal-remove" -> c -> portals(c, text(r, "address"), false);
            case "acl-add" -> c -> acl(c, text(r, "target"), optional(r, "initiator"), optional(r, "network"), true, force);
            case "acl-remove" -> c -> acl(c, text(r, "target"), optional(r, "initiator"), optional(r, "network"), false,
                    force);
            case "chap-set" -> c -> chapSet(c, optional(r, "target"), new ChapConfig(text(r, "user"), text(r, "secret"),
                    null, optional(r, "mutual_user"), optional(r, "mutual_secret"), null));
            case "chap-remove" -> c -> chapSet(c, optional(r, "target"), null);
            default -> throw new IllegalArgumentException("unknown edit \"" + edit + "\" (volume-create, volume-delete, "
                    + "volume-resize, clone-create, clone-set, target-create, target-delete, lun-map, lun-unmap, "
                    + "portal-add, portal-remove, acl-add, acl-remove, chap-set, chap-remove)");
        };
    }

    private static String text(JsonNode r, String field) {
        String v = optional(r, field);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("the edit needs \"" + field + "\"");
        }
        return v;
    }

    private static String optional(JsonNode r, String field) {
        JsonNode n = r.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    private static ByteSize size(JsonNode r, String field) {
        JsonNode n = r.get(field);
        if (n == null || n.isNull()) {
            throw new IllegalArgumentException("the edit needs \"" + field + "\"");
        }
        return n.isNumber() ? ByteSize.of(n.numberValue()) : ByteSize.parse(n.asText());
    }

    private static VolumeConfig volume(JsonNode r) {
        return new VolumeConfig(text(r, "volume"), VolumeType.FILE, text(r, "path"),
                r.hasNonNull("size") ? size(r, "size") : null, r.hasNonNull("block_size") ? r.get("block_size").asInt() : null,
                r.path("read_only").asBoolean(false) ? true : null, null, null, null, null, null)
                .withSnapshots(snapshots(r));
    }

    /** {@code "snapshots": true} or {@code {"limit": "20G", "chunk_size": "64K"}}: the volume has snapshots. */
    private static io.clonetarget.config.SnapshotsConfig snapshots(JsonNode r) {
        JsonNode s = r.path("snapshots");
        if (s.isBoolean()) {
            return s.asBoolean() ? io.clonetarget.config.SnapshotsConfig.defaults() : null;
        }
        if (!s.isObject()) {
            return null;
        }
        return new io.clonetarget.config.SnapshotsConfig(s.hasNonNull("limit") ? size(s, "limit") : null,
                s.hasNonNull("chunk_size") ? size(s, "chunk_size") : null, null);
    }

    private static VolumeConfig clone(JsonNode r) {
        HydrationConfig h = new HydrationConfig(null, null, r.hasNonNull("rate") ? size(r, "rate") : null,
                r.path("paused").asBoolean(false) ? true : null, null, null, null);
        return new VolumeConfig(text(r, "volume"), VolumeType.CLONE, text(r, "path"), null, null, null,
                text(r, "source"), optional(r, "metadata"), r.hasNonNull("region_size") ? size(r, "region_size") : null,
                h, null).withSnapshots(snapshots(r));
    }

    static ServerConfig volumeCreate(ServerConfig c, VolumeConfig v) {
        VolumeConfig old = c.volume(v.name());
        if (old != null) {
            if (old.equals(v)) {
                return c; // already there, as asked
            }
            throw new IllegalArgumentException("volume " + v.name() + " exists with other settings (" + old.path()
                    + "); pick another name, or delete it first");
        }
        List<VolumeConfig> volumes = new ArrayList<>(c.volumes());
        volumes.add(v);
        return c.withInventory(volumes, c.targets());
    }

    static ServerConfig volumeDelete(ServerConfig c, String name, boolean force) {
        if (c.volume(name) == null) {
            return c;
        }
        List<String> uses = new ArrayList<>();
        List<TargetConfig> targets = new ArrayList<>();
        for (TargetConfig t : c.targets()) {
            List<LunConfig> luns = new ArrayList<>();
            for (LunConfig l : t.luns()) {
                if (l.volume().equals(name)) {
                    uses.add("lun " + l.lun() + " of " + t.iqn());
                } else {
                    luns.add(l);
                }
            }
            List<InitiatorConfig> initiators = new ArrayList<>();
            for (InitiatorConfig i : t.initiators()) {
                List<LunConfig> own = new ArrayList<>();
                for (LunConfig l : i.luns()) {
                    if (l.volume().equals(name)) {
                        uses.add("lun " + l.lun() + " of " + t.iqn() + " (map of " + i.name() + ")");
                    } else {
                        own.add(l);
                    }
                }
                initiators.add(new InitiatorConfig(i.name(), own));
            }
            targets.add(t.withLuns(luns).withInitiators(initiators));
        }
        if (!uses.isEmpty() && !force) {
            throw new IllegalArgumentException("volume " + name + " is exported as " + String.join(", ", uses)
                    + "; unmap it first, or use --force to unmap it too");
        }
        List<VolumeConfig> volumes = new ArrayList<>(c.volumes());
        volumes.remove(c.volume(name));
        return c.withInventory(volumes, targets);
    }

    static ServerConfig volumeResize(ServerConfig c, String name, ByteSize size) {
        VolumeConfig v = existing(c, name);
        if (v.type() != VolumeType.FILE) {
            throw new IllegalArgumentException("volume " + name + " is a clone: it has the size of its source");
        }
        return replace(c, new VolumeConfig(v.name(), v.type(), v.path(), size, v.blockSize(), v.readOnly() ? true : null,
                null, null, null, null, null));
    }

    static ServerConfig cloneSet(ServerConfig c, String name, ByteSize rate) {
        VolumeConfig v = existing(c, name);
        if (v.type() != VolumeType.CLONE) {
            throw new IllegalArgumentException("volume " + name + " is not a clone");
        }
        HydrationConfig h = v.hydration();
        HydrationConfig next = new HydrationConfig(h.inFlight(), h.batchSize(), rate, h.startPaused(), h.hydrateOnRead(),
                h.retryMin(), h.retryMax());
        return replace(c, new VolumeConfig(v.name(), v.type(), v.path(), v.size(), v.blockSize(), v.readOnly(),
                v.source(), v.metadata(), v.regionSize(), next, v.discardPassdown(), v.overwriteDestination()));
    }

    private static VolumeConfig existing(ServerConfig c, String name) {
        VolumeConfig v = c.volume(name);
        if (v == null) {
            throw new IllegalArgumentException("no volume named \"" + name + "\"");
        }
        return v;
    }

    private static ServerConfig replace(ServerConfig c, VolumeConfig v) {
        List<VolumeConfig> volumes = new ArrayList<>();
        for (VolumeConfig old : c.volumes()) {
            volumes.add(old.name().equals(v.name()) ? v : old);
        }
        return c.withInventory(volumes, c.targets());
    }

    static ServerConfig targetCreate(ServerConfig c, String iqn, String alias) {
        TargetConfig old = c.target(iqn);
        if (old != null) {
            if (alias == null || alias.equals(old.alias())) {
                return c;
            }
            return replace(c, new TargetConfig(iqn, alias, old.allowedInitiators(), old.allowedNetworks(), old.chap(),
                    old.luns(), old.initiators()));
        }
        List<TargetConfig> targets = new ArrayList<>(c.targets());
        targets.add(new TargetConfig(iqn, alias, null, null, null));
        return c.withInventory(c.volumes(), targets);
    }

    static ServerConfig targetDelete(ServerConfig c, String iqn) {
        TargetConfig old = c.target(iqn);
        if (old == null) {
            return c;
        }
        List<TargetConfig> targets = new ArrayList<>(c.targets());
        targets.remove(old);
        return c.withInventory(c.volumes(), targets);
    }

    private static TargetConfig existingTarget(ServerConfig c, String iqn) {
        TargetConfig t = c.target(iqn);
        if (t == null) {
            throw new IllegalArgumentException("no target named \"" + iqn + "\" (create it with: target create " + iqn + ")");
        }
        return t;
    }

    private static ServerConfig replace(ServerConfig c, TargetConfig t) {
        List<TargetConfig> targets = new ArrayList<>();
        for (TargetConfig old : c.targets()) {
            targets.add(old.iqn().equals(t.iqn()) ? t : old);
        }
        return c.withInventory(c.volumes(), targets);
    }

    /**
     * Maps a volume as a LUN, in the default map or an initiator's own one (made, as a copy of
     * the default map, when it has none); {@code lun} null takes the lowest free number.
     */
    static ServerConfig lunMap(ServerConfig c, String iqn, Integer lun, String volume, String initiator) {
        return lunMap(c, iqn, lun, volume, initiator, false);
    }

    /** The same; {@code volume} may be a snapshot, {@code VOLUME@SNAPSHOT}, mapped read-only unless {@code writable}. */
    static ServerConfig lunMap(ServerConfig c, String iqn, Integer lun, String volume, String initiator,
                               boolean writable) {
        TargetConfig t = existingTarget(c, iqn);
        existing(c, new LunConfig(null, volume).volumeName());
        InitiatorConfig own = initiator == null ? null : t.initiator(initiator);
        // an initiator's first own map starts as a copy of the default one, which it saw until now
        List<LunConfig> map = initiator == null || own == null ? t.luns() : own.luns();
        TreeSet<Integer> taken = new TreeSet<>();
        boolean copy = initiator != null && own == null;
        for (LunConfig l : map) {
            if (l.volume().equals(volume)) {
                if (lun == null || l.lun().equals(lun)) {
                    // mapped already (for a first own map: the copy of the default one is the change)
                    return copy ? replace(c, t.withInitiators(withMap(t, initiator, map))) : c;
                }
                throw new IllegalArgumentException("volume " + volume + " is already lun " + l.lun() + " of " + iqn
                        + (initiator == null ? "" : " (map of " + initiator + ")") + "; a volume appears once in a map");
            }
            taken.add(l.lun());
        }
        if (lun == null) {
            lun = 0;
            while (taken.contains(lun)) {
                lun++;
            }
        } else if (taken.contains(lun)) {
            String other = "?";
            for (LunConfig l : map) {
                if (l.lun().equals(lun)) {
                    other = l.volume();
                }
            }
            throw new IllegalArgumentException("lun " + lun + " of " + iqn + (initiator == null ? "" : " (map of "
                    + initiator + ")") + " is volume " + other + "; unmap it first or pick another number");
        }
        List<LunConfig> next = new ArrayList<>(map);
        next.add(new LunConfig(lun, volume, writable ? Boolean.TRUE : null));
        next.sort(java.util.Comparator.comparing(LunConfig::lun));
        return replace(c, initiator == null ? t.withLuns(next) : t.withInitiators(withMap(t, initiator, next)));
    }

    static ServerConfig lunUnmap(ServerConfig c, String iqn, int lun, String initiator) {
        TargetConfig t = existingTarget(c, iqn);
        InitiatorConfig own = initiator == null ? null : t.initiator(initiator);
        if (initiator != null && own == null) {
            return c;
        }
        List<LunConfig> map = new ArrayList<>(initiator == null ? t.luns() : own.luns());
        if (!map.removeIf(l -> l.lun() == lun)) {
            return c; // not mapped: nothing to do
        }
        return replace(c, initiator == null ? t.withLuns(map) : t.withInitiators(withMap(t, initiator, map)));
    }

    private static List<InitiatorConfig> withMap(TargetConfig t, String initiator, List<LunConfig> map) {
        List<InitiatorConfig> list = new ArrayList<>();
        boolean found = false;
        for (InitiatorConfig i : t.initiators()) {
            if (i.name().equals(initiator)) {
                list.add(new InitiatorConfig(initiator, map));
                found = true;
            } else {
                list.add(i);
            }
        }
        if (!found) {
            list.add(new InitiatorConfig(initiator, map));
        }
        return list;
    }

    static ServerConfig portals(ServerConfig c, String address, boolean add) {
        List<String> listen = new ArrayList<>(c.server().listen());
        if (add == listen.contains(address)) {
            return c;
        }
        if (add) {
            listen.add(address);
        } else {
            listen.remove(address);
            if (listen.isEmpty()) {
                throw new IllegalArgumentException("portal " + address + " is the last one; add another first");
            }
        }
        return c.withServer(c.server().withListen(listen));
    }

    /**
     * Adds or removes an allowed initiator name or network. Removing the last entry of a list
     * would admit every name (or address) again, so it needs {@code force}.
     */
    static ServerConfig acl(ServerConfig c, String iqn, String initiator, String network, boolean add, boolean force) {
        if ((initiator == null) == (network == null)) {
            throw new IllegalArgumentException("give an initiator name or a network (not both)");
        }
        TargetConfig t = existingTarget(c, iqn);
        List<String> names = new ArrayList<>(t.allowedInitiators());
        List<String> networks = new ArrayList<>(t.allowedNetworks());
        List<String> list = initiator != null ? names : networks;
        String entry = initiator != null ? initiator : network;
        if (add == list.contains(entry)) {
            return c;
        }
        if (add) {
            list.add(entry);
        } else {
            list.remove(entry);
            if (list.isEmpty() && !force) {
                throw new IllegalArgumentException("removing the last allowed " + (initiator != null ? "initiator" : "network")
                        + " of " + iqn + " opens it to every " + (initiator != null ? "initiator name" : "address")
                        + "; use --force if that is meant");
            }
        }
        return replace(c, t.withAccess(names, networks));
    }

    /** Sets (or with null removes) the CHAP credentials of a target, or of discovery when {@code iqn} is null. */
    static ServerConfig chapSet(ServerConfig c, String iqn, ChapConfig chap) {
        if (iqn == null) {
            return c.withDiscovery(chap);
        }
        return replace(c, existingTarget(c, iqn).withChap(chap));
    }
}
