package io.clonetarget.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.config.ConfigException;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.admin.AdminError;
import java.io.IOException;
import io.clonetarget.config.Endpoint;
import io.clonetarget.server.admin.AdminSocket;
import io.clonetarget.server.admin.Json;
import io.clonetarget.server.session.Session;
import io.clonetarget.storage.clone.CloneVolume;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What the admin socket answers: {@code status}, {@code clone-status} (all clones, or
 * {@code "name"}), and {@code clone-pause}, {@code clone-resume}, {@code clone-rate}
 * ({@code "rate"}: bytes per second or a size such as {@code 50M}, 0 for no limit) for one
 * clone or all; {@code session-list}, {@code session-show} and {@code session-logout} (by
 * {@code "name"}: the TSIH).
 */
final class AdminCommands implements AdminSocket.Handler {
    private final TargetServer server;
    private final long startedMillis = System.currentTimeMillis();

    AdminCommands(TargetServer server) {
        this.server = server;
    }

    @Override
    public JsonNode handle(JsonNode request) {
        String command = request.path("command").asText();
        return switch (command) {
            case "status" -> status();
            case "clone-status" -> cloneStatus(clones(request));
            case "clone-pause" -> each(clones(request), c -> c.pause());
            case "clone-resume" -> each(clones(request), c -> c.resume());
            case "clone-rate" -> {
                long rate = rate(request);
                yield each(clones(request), c -> c.setRate(rate));
            }
            case "volume-list" -> volumes(null);
            case "volume-show" -> volumes(request.path("name").asText("")).get(0);
            case "target-list" -> targets(null);
            case "target-show" -> targets(request.path("name").asText("")).get(0);
            case "session-list" -> sessionList();
            case "session-show" -> describe(session(request), true);
            case "session-logout" -> {
                Session s = session(request);
                JsonNode before = describe(s, false);
                s.requestLogout("logged out by the administrator", LiveState.LOGOUT_DEADLINE);
                yield before;
            }
            case "config-show" -> configShow();
            case "stats" -> Json.MAPPER.valueToTree(server.context().metrics().lunStats());
            case "snapshot-create", "snapshot-list", "snapshot-show", "snapshot-delete", "snapshot-diff",
                 "snapshot-export", "snapshot-import", "snapshot-progress" -> new SnapshotCommands(server).handle(command, request);
            case "config-apply" -> change(request, () -> {
                String toml = request.path("toml").asText(null);
                if (toml == null) {
                    throw new IllegalArgumentException("config-apply needs \"toml\": the configuration file's text");
                }
                String source = request.path("source").asText("the file");
                ServerConfig desired = ConfigFiles.parse(toml, source);
                List<String> relative = relativePaths(desired);
                if (!relative.isEmpty()) {
                    throw new ConfigException(source, relative);
                }
                return server.apply(desired, request.path("force").asBoolean(false),
                        request.path("dry_run").asBoolean(false));
            });
            case "config-edit" -> change(request, () -> server.edit(ConfigEdits.of(request),
                    request.path("force").asBoolean(false), request.path("dry_run").asBoolean(false)));
            default -> throw new IllegalArgumentException("unknown command \"" + command + "\" (known: status, "
                    + "clone-status, clone-pause, clone-resume, clone-rate, volume-list, volume-show, target-list, target-show, "
                    + "session-list, session-show, session-logout, config-show, config-apply, config-edit, stats, snapshot-create, "
                    + "snapshot-list, snapshot-show, snapshot-delete, snapshot-diff, snapshot-export, snapshot-import)");
        };
    }

    private interface Change {
        ApplyResult run() throws ConfigException, IOException;
    }

    /**
     * Runs a configuration change and answers its result: applied, planned (dry run) or refused
     * (HTTP 200 all three: {@code applied} and {@code refusals} say which). An invalid
     * configuration is 422 {@code invalid_config}; an edit that conflicts is 409 {@code conflict};
     * something new that cannot be opened or saved is 500 {@code apply_failed} (nothing changed).
     */
    private JsonNode change(JsonNode request, Change change) {
        try {
            return Json.MAPPER.valueToTree(change.run());
        } catch (ConfigException e) {
            throw new AdminError(422, "invalid_config", "invalid configuration " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new AdminError(409, "conflict", e.getMessage());
        } catch (IOException e) {
            throw new AdminError(500, "apply_failed", e.getMessage() + "; nothing was changed");
        }
    }

    /**
     * Paths a configuration sent to a running server must give absolutely: the server reads them
     * from its own working directory, which is not the sender's.
     */
    static List<String> relativePaths(ServerConfig c) {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < c.volumes().size(); i++) {
            io.clonetarget.config.VolumeConfig v = c.volumes().get(i);
            relative("volume[" + i + "].path", v.path(), problems);
            relative("volume[" + i + "].metadata", v.metadata(), problems);
            if (v.source() != null && !v.source().contains("://")
                    && !v.source().startsWith(io.clonetarget.config.VolumeConfig.SNAPSHOT_SOURCE)) {
                relative("volume[" + i + "].source", v.source(), problems);
            }
        }
        if (c.discovery() != null) {
            relative("discovery.secret-file", c.discovery().secretFile(), problems);
            relative("discovery.mutual-secret-file", c.discovery().mutualSecretFile(), problems);
        }
        for (int i = 0; i < c.targets().size(); i++) {
            io.clonetarget.config.ChapConfig chap = c.targets().get(i).chap();
            if (chap != null) {
                relative("target[" + i + "].chap.secret-file", chap.secretFile(), problems);
                relative("target[" + i + "].chap.mutual-secret-file", chap.mutualSecretFile(), problems);
            }
        }
        return problems;
    }

    private static void relative(String field, String path, List<String> problems) {
        if (path != null && !java.nio.file.Path.of(path).isAbsolute()) {
            problems.add(field + ": \"" + path + "\" is relative; a running server reads it from its own working "
                    + "directory, so give it absolutely");
        }
    }

    /** The running configuration as TOML, secrets hidden, and a revision that changes with it. */
    private JsonNode configShow() {
        ServerConfig c = server.config();
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("toml", ConfigFiles.format(ConfigRedaction.redact(c)));
        o.put("revision", ConfigRedaction.revision(c));
        return o;
    }

    private JsonNode status() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("pid", ProcessHandle.current().pid());
        o.put("started_millis", startedMillis);
        ArrayNode listen = o.putArray("listen");
        for (InetSocketAddress a : server.addresses()) {
            listen.add(Endpoint.format(a));
        }
        ArrayNode volumes = o.putArray("volumes");
        for (OpenVolume v : server.volumes().values()) {
            ObjectNode n = volumes.addObject();
            n.put("name", v.name());
            n.put("type", v.device() instanceof CloneVolume ? "clone" : "file");
            n.put("size", v.device().size());
            n.put("description", v.description());
        }
        return o;
    }

    /** Volumes (all, or the one named): configuration, size, LUNs that export it. */
    private ArrayNode volumes(String only) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (OpenVolume v : server.volumes().values()) {
            if (only != null && !only.equals(v.name())) {
                continue;
            }
            io.clonetarget.config.VolumeConfig c = server.config().volume(v.name());
            if (c == null) {
                continue; // removed a moment ago, closing
            }
            ObjectNode n = a.addObject();
            n.put("name", v.name());
            n.put("type", v.device() instanceof CloneVolume ? "clone" : "file");
            n.put("path", c.path());
            n.put("size", v.device().size());
            n.put("block_size", v.device().logicalBlockSize());
            n.put("read_only", c.readOnly());
            n.put("description", v.description());
            if (v.device() instanceof CloneVolume clone) {
                n.put("source", c.source());
                n.set("clone", Json.MAPPER.valueToTree(clone.status()));
            }
            ArrayNode exported = n.putArray("exported_as");
            for (io.clonetarget.config.TargetConfig t : server.config().targets()) {
                for (io.clonetarget.config.LunConfig l : t.luns()) {
                    if (l.volume().equals(v.name())) {
                        exported.addObject().put("target", t.iqn()).put("lun", l.lun());
                    }
                }
                for (io.clonetarget.config.InitiatorConfig i : t.initiators()) {
                    for (io.clonetarget.config.LunConfig l : i.luns()) {
                        if (l.volume().equals(v.name())) {
                            exported.addObject().put("target", t.iqn()).put("lun", l.lun()).put("initiator", i.name());
                        }
                    }
                }
            }
        }
        if (only != null && a.isEmpty()) {
            throw new IllegalArgumentException("no volume named \"" + only + "\"");
        }
        return a;
    }

    /** Targets (all, or the one named): LUN map, access control (never secrets), sessions. */
    private ArrayNode targets(String only) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (io.clonetarget.config.TargetConfig t : server.config().targets()) {
            if (only != null && !only.equals(t.iqn())) {
                continue;
            }
            ObjectNode n = a.addObject();
            n.put("iqn", t.iqn());
            n.put("alias", t.alias());
            n.set("allowed_initiators", Json.MAPPER.valueToTree(t.allowedInitiators()));
            n.set("allowed_networks", Json.MAPPER.valueToTree(t.allowedNetworks()));
            n.put("chap_user", t.chap() == null ? null : t.chap().user());
            n.put("mutual_chap_user", t.chap() == null ? null : t.chap().mutualUser());
            ArrayNode luns = n.putArray("luns");
            for (io.clonetarget.config.LunConfig l : t.luns()) {
                luns.addObject().put("lun", l.lun()).put("volume", l.volume());
            }
            ObjectNode maps = n.putObject("initiator_luns");
            for (io.clonetarget.config.InitiatorConfig i : t.initiators()) {
                ArrayNode own = maps.putArray(i.name());
                for (io.clonetarget.config.LunConfig l : i.luns()) {
                    own.addObject().put("lun", l.lun()).put("volume", l.volume());
                }
            }
            int sessions = 0;
            for (Session s : server.context().sessions().all()) {
                if (s.target() != null && s.target().name().equals(t.iqn())) {
                    sessions++;
                }
            }
            n.put("sessions", sessions);
        }
        if (only != null && a.isEmpty()) {
            throw new IllegalArgumentException("no target named \"" + only + "\"");
        }
        return a;
    }

    private JsonNode sessionList() {
        ArrayNode a = Json.MAPPER.createArrayNode();
        List<Session> all = server.context().sessions().all();
        all.sort(java.util.Comparator.comparingInt(Session::tsih));
        for (Session s : all) {
            a.add(describe(s, false));
        }
        return a;
    }

    private Session session(JsonNode request) {
        String name = request.path("name").asText("");
        int tsih;
        try {
            tsih = Integer.parseInt(name);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a session is named by its TSIH (a number, see session list), not \""
                    + name + "\"");
        }
        Session s = server.context().sessions().get(tsih);
        if (s == null) {
            throw new IllegalArgumentException("no session with TSIH " + tsih);
        }
        return s;
    }

    private static JsonNode describe(Session s, boolean parameters) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("tsih", s.tsih());
        o.put("isid", String.format("%012x", s.isid()));
        o.put("initiator", s.initiatorName());
        o.put("alias", s.initiatorAlias());
        o.put("type", s.discovery() ? "discovery" : "normal");
        o.put("target", s.target() == null ? null : s.target().name());
        java.net.InetSocketAddress remote = s.remote();
        o.put("remote", remote == null ? null : Endpoint.format(remote));
        o.put("chap_user", s.authenticatedAs());
        o.put("created", s.created().toString());
        o.put("active_tasks", s.activeTasks());
        if (parameters) {
            o.set("parameters", Json.MAPPER.valueToTree(s.parameters()));
        }
        return o;
    }

    private List<CloneVolume> clones(JsonNode request) {
        String name = request.path("name").isTextual() ? request.path("name").asText() : null;
        List<CloneVolume> list = new ArrayList<>();
        for (OpenVolume v : server.volumes().values()) {
            if (v.device() instanceof CloneVolume c && (name == null || name.equals(v.name()))) {
                list.add(c);
            }
        }
        if (name != null && list.isEmpty()) {
            throw new IllegalArgumentException("no clone volume named \"" + name + "\"");
        }
        return list;
    }

    private static JsonNode cloneStatus(List<CloneVolume> clones) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (CloneVolume c : clones) {
            a.add(Json.MAPPER.valueToTree(c.status()));
        }
        return a;
    }

    private static JsonNode each(List<CloneVolume> clones, java.util.function.Consumer<CloneVolume> action) {
        clones.forEach(action);
        return cloneStatus(clones);
    }

    private static long rate(JsonNode request) {
        JsonNode r = request.path("rate");
        if (r.isIntegralNumber() && r.asLong() >= 0) {
            return r.asLong();
        }
        if (r.isTextual()) {
            return ByteSize.parse(r.asText()).bytes();
        }
        throw new IllegalArgumentException("clone-rate needs \"rate\": bytes per second (0 for no limit) or a size like 50M");
    }
}
