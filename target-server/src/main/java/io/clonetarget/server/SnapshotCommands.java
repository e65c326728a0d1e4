package io.clonetarget.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.config.InitiatorConfig;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.server.admin.AdminError;
import io.clonetarget.server.admin.Json;
import io.clonetarget.storage.snapshot.SnapshotStreams;
import io.clonetarget.storage.snapshot.SnapshotVolume;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The admin commands of snapshots: {@code snapshot-create} ({@code "name": "VOLUME@SNAPSHOT"},
 * or {@code "group"} and {@code "volumes"}), {@code snapshot-list} (all, or {@code "name"}: a
 * volume), {@code snapshot-show} and {@code snapshot-delete} ({@code "name": "VOLUME@SNAPSHOT"}),
 * {@code snapshot-diff} ({@code "from"}: an older snapshot, or none for the allocated extents),
 * {@code snapshot-export} ({@code "file"}: an absolute path on the server; writes FILE and
 * FILE.sha256) and {@code snapshot-import} ({@code "name"}: the volume, {@code "file"}).
 *
 * <p>Errors: a missing volume or snapshot, a bad name or a refused stream is 400; deleting a
 * snapshot that a LUN maps is 409 {@code conflict}, naming the LUN.
 */
final class SnapshotCommands {
    /** Exports and imports running now, by their file: bytes done and in all. */
    private static final java.util.concurrent.ConcurrentHashMap<Path, long[]> RUNNING =
            new java.util.concurrent.ConcurrentHashMap<>();
    private final TargetServer server;

    SnapshotCommands(TargetServer server) {
        this.server = server;
    }

    JsonNode handle(String command, JsonNode request) {
        try {
            return switch (command) {
                case "snapshot-create" -> create(request);
                case "snapshot-list" -> list(request.path("name").asText(null));
                case "snapshot-show" -> show(ref(request));
                case "snapshot-delete" -> delete(ref(request));
                case "snapshot-diff" -> diff(ref(request), request.path("from").asText(null));
                case "snapshot-export" -> export(ref(request), request.path("from").asText(null), file(request));
                case "snapshot-import" -> importDiff(request.path("name").asText(""), file(request));
                case "snapshot-progress" -> progress(file(request));
                default -> throw new IllegalArgumentException("unknown command \"" + command + "\"");
            };
        } catch (IOException e) {
            throw new AdminError(500, "snapshot_failed", e.getMessage());
        }
    }

    /** VOLUME@SNAPSHOT, split. */
    record Ref(String volume, String snapshot) {
        @Override
        public String toString() {
            return volume + "@" + snapshot;
        }
    }

    static Ref parse(String text) {
        int at = text == null ? -1 : text.indexOf('@');
        if (at <= 0 || at == text.length() - 1) {
            throw new IllegalArgumentException("\"" + text + "\" is not VOLUME@SNAPSHOT");
        }
        return new Ref(text.substring(0, at), text.substring(at + 1));
    }

    private static Ref ref(JsonNode request) {
        return parse(request.path("name").asText(null));
    }

    private static Path file(JsonNode request) {
        String f = request.path("file").asText(null);
        if (f == null || !Path.of(f).isAbsolute()) {
            throw new IllegalArgumentException("\"file\" must be an absolute path on the server, not " + f);
        }
        return Path.of(f);
    }

    private SnapshotVolume snapshots(String volume) {
        OpenVolume v = server.volumes().get(volume);
        if (v == null || server.config().volume(volume) == null) {
            throw new IllegalArgumentException("no volume named \"" + volume + "\"");
        }
        if (v.snapshots() == null) {
            throw new IllegalArgumentException("volume " + volume + " has no snapshots (give it a [volume.snapshots] "
                    + "table)");
        }
        return v.snapshots();
    }

    private JsonNode create(JsonNode request) throws IOException {
        String group = request.path("group").asText(null);
        List<SnapshotVolume.SnapshotInfo> made;
        List<String> volumes = new ArrayList<>();
        String of = request.path("of").asText(null);
        if (group == null) {
            Ref r = ref(request);
            volumes.add(r.volume());
            made = List.of(of == null ? snapshots(r.volume()).create(r.snapshot())
                    : snapshots(r.volume()).createOf(r.snapshot(), of));
        } else if (of != null) {
            throw new IllegalArgumentException("\"of\" (a snapshot of a snapshot) takes one VOLUME@NAME, not a group");
        } else {
            List<SnapshotVolume> members = new ArrayList<>();
            for (JsonNode n : request.path("volumes")) {
                volumes.add(n.asText());
                members.add(snapshots(n.asText()));
            }
            if (members.isEmpty()) {
                throw new IllegalArgumentException("a group needs at least one volume");
            }
            made = SnapshotVolume.createGroup(members, group, group);
        }
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (int i = 0; i < made.size(); i++) {
            a.add(describe(volumes.get(i), made.get(i), snapshots(volumes.get(i))));
        }
        return a;
    }

    private ObjectNode describe(String volume, SnapshotVolume.SnapshotInfo s, SnapshotVolume sv) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("volume", volume);
        o.put("name", s.name());
        o.put("id", s.id());
        o.put("created_millis", s.createdMillis());
        o.put("state", s.failed() ? "failed" : "valid");
        if (s.failure() != null) {
            o.put("failure", s.failure());
        }
        if (!s.group().isEmpty()) {
            o.put("group", s.group());
            o.put("group_size", s.groupSize());
        }
        if (!s.of().isEmpty()) {
            o.put("of", s.of());
        }
        o.put("stored_bytes", s.storedBytes());
        o.put("exclusive_bytes", s.exclusiveBytes());
        o.put("hold_nanos", sv.lastHoldNanos());
        o.put("flush_nanos", sv.lastFlushNanos());
        return o;
    }

    private JsonNode list(String volume) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        if (volume != null) {
            SnapshotVolume sv = snapshots(volume);
            for (SnapshotVolume.SnapshotInfo s : sv.list()) {
                a.add(describe(volume, s, sv));
            }
            return a;
        }
        for (OpenVolume v : server.volumes().values()) {
            if (v.snapshots() != null && server.config().volume(v.name()) != null) {
                for (SnapshotVolume.SnapshotInfo s : v.snapshots().list()) {
                    a.add(describe(v.name(), s, v.snapshots()));
                }
            }
        }
        return a;
    }

    private SnapshotVolume.SnapshotInfo need(Ref r) {
        SnapshotVolume.SnapshotInfo s = snapshots(r.volume()).get(r.snapshot());
        if (s == null) {
            throw new IllegalArgumentException("volume " + r.volume() + " has no snapshot named " + r.snapshot());
        }
        return s;
    }

    private JsonNode show(Ref r) {
        SnapshotVolume sv = snapshots(r.volume());
        ObjectNode o = describe(r.volume(), need(r), sv);
        SnapshotVolume.Status st = sv.status();
        ObjectNode storage = o.putObject("difference_storage");
        storage.put("chunk_size", st.chunkSize());
        storage.put("used_bytes", st.diffUsedBytes());
        storage.put("allocated_bytes", st.diffAllocatedBytes());
        storage.put("limit_bytes", st.diffLimitBytes());
        storage.put("low_space", st.lowSpace());
        storage.put("tracking_id", st.trackingId().toString());
        ArrayNode mapped = o.putArray("mapped_as");
        for (String[] m : mappings(server.config(), r.toString())) {
            ObjectNode n = mapped.addObject().put("target", m[0]).put("lun", Integer.parseInt(m[1]));
            if (m[2] != null) {
                n.put("initiator", m[2]);
            }
        }
        return o;
    }

    /** Where a LUN map shows {@code ref}: target, LUN and initiator (null for the default map). */
    static List<String[]> mappings(ServerConfig c, String ref) {
        List<String[]> out = new ArrayList<>();
        for (TargetConfig t : c.targets()) {
            for (LunConfig l : t.luns()) {
                if (ref.equals(l.volume())) {
                    out.add(new String[]{t.iqn(), String.valueOf(l.lun()), null});
                }
            }
            for (InitiatorConfig i : t.initiators()) {
                for (LunConfig l : i.luns()) {
                    if (ref.equals(l.volume())) {
                        out.add(new String[]{t.iqn(), String.valueOf(l.lun()), i.name()});
                    }
                }
            }
        }
        return out;
    }

    private JsonNode delete(Ref r) throws IOException {
        need(r);
        try {
            deleteChecked(r);
        } catch (IllegalStateException e) {
            throw new AdminError(409, "conflict", e.getMessage());
        }
        return Json.MAPPER.createObjectNode().put("deleted", r.toString());
    }

    private void deleteChecked(Ref r) throws IOException {
        server.deleteSnapshot(r.volume(), r.snapshot(), () -> {
            List<String[]> m = mappings(server.config(), r.toString());
            if (!m.isEmpty()) {
                throw new AdminError(409, "conflict", "snapshot " + r + " is LUN " + m.getFirst()[1] + " of "
                        + m.getFirst()[0] + (m.getFirst()[2] == null ? "" : " (map of " + m.getFirst()[2] + ")")
                        + "; unmap it first");
            }
        });
    }

    private JsonNode diff(Ref to, String from) throws IOException {
        SnapshotVolume sv = snapshots(to.volume());
        need(to);
        List<SnapshotVolume.Extent> extents = sv.changes(from, to.snapshot());
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("volume", to.volume());
        if (from != null) {
            o.put("from", from);
        }
        o.put("to", to.snapshot());
        o.put("block_size", sv.chunkSize());
        o.put("tracking_id", sv.status().trackingId().toString());
        long bytes = 0;
        ArrayNode a = o.putArray("extents");
        for (SnapshotVolume.Extent e : extents) {
            a.addObject().put("offset", e.offset()).put("length", e.length());
            bytes += e.length();
        }
        o.put("changed_bytes", bytes);
        o.put("volume_size", sv.underlying().size());
        return o;
    }

    private JsonNode export(Ref to, String from, Path file) throws IOException {
        SnapshotVolume sv = snapshots(to.volume());
        need(to);
        SnapshotStreams.Exported e;
        long[] at = new long[2];
        RUNNING.put(file, at);
        try {
            e = SnapshotStreams.exportToFile(sv, from, to.snapshot(), file, (done, total) -> set(at, done, total));
        } finally {
            RUNNING.remove(file, at);
        }
        return Json.MAPPER.createObjectNode().put("file", file.toString()).put("sha256", e.sha256())
                .put("bytes", e.bytes()).put("data_bytes", e.dataBytes()).put("zero_bytes", e.zeroBytes())
                .put("checksum_file", e.checksumFile().toString());
    }

    private JsonNode importDiff(String volume, Path file) throws IOException {
        SnapshotVolume sv = snapshots(volume);
        SnapshotStreams.Imported i;
        long[] at = new long[2];
        RUNNING.put(file, at);
        try {
            i = SnapshotStreams.importFile(sv, file, (done, total) -> set(at, done, total));
        } finally {
            RUNNING.remove(file, at);
        }
        return Json.MAPPER.createObjectNode().put("volume", volume).put("snapshot", i.toSnap())
                .put("data_bytes", i.dataBytes()).put("zero_bytes", i.zeroBytes()).put("sha256", i.sha256());
    }

    private static void set(long[] at, long done, long total) {
        synchronized (at) {
            at[0] = done;
            at[1] = total;
        }
    }

    /** How far the export or import of {@code file} is ({@code running: false} when none runs). */
    private static JsonNode progress(Path file) {
        long[] at = RUNNING.get(file);
        ObjectNode o = Json.MAPPER.createObjectNode().put("running", at != null);
        if (at != null) {
            synchronized (at) {
                o.put("done", at[0]).put("total", at[1]);
            }
        }
        return o;
    }
}
