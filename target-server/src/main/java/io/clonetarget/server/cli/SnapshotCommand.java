package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.server.admin.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code clonetarget snapshot create|list|show|delete|diff|export-diff|import-diff}: point-in-time
 * snapshots of the volumes of a running server that have {@code [volume.snapshots]}.
 */
@Command(name = "snapshot", description = {"Take, list, compare, export and delete snapshots of volumes.",
    "A volume has snapshots when its configuration has a [volume.snapshots] table.", "",
    "  clonetarget snapshot create data1@monday",
    "  clonetarget snapshot create --group nightly data1 data2",
    "  clonetarget lun map iqn.2026-12.com.example:vm1 data1@monday",
    "  clonetarget snapshot export-diff --from-snap monday data1@tuesday /backup/data1-tue.diff"},
        subcommands = {SnapshotCommand.Create.class, SnapshotCommand.ListSnapshots.class, SnapshotCommand.Show.class,
            SnapshotCommand.Delete.class, SnapshotCommand.Diff.class, SnapshotCommand.ExportDiff.class,
            SnapshotCommand.ImportDiff.class})
final class SnapshotCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A stream file in a new private directory (mode 0700), for a stream that passes through - . */
    static Path spool(String what) throws IOException {
        return Files.createTempDirectory("clonetarget-" + what + "-").resolve("stream.diff");
    }

    /** Removes a spooled stream, its checksum file and their directory (null: nothing). */
    static void removeSpool(Path stream) throws IOException {
        if (stream != null) {
            Files.deleteIfExists(stream);
            Files.deleteIfExists(Path.of(stream + ".sha256"));
            Files.deleteIfExists(stream.getParent());
        }
    }

    /** A command that sends fields and prints the answer as a table or JSON. */
    abstract static class Call implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        abstract String command();

        abstract void put(ObjectNode fields) throws IOException;

        abstract String table(JsonNode result);

        @Override
        public Integer call() throws Exception {
            ObjectNode fields = Json.MAPPER.createObjectNode();
            put(fields);
            JsonNode result = server.call(spec.commandLine(), command(), fields);
            server.print(spec.commandLine().getOut(), result, this::table);
            return ExitCodes.OK;
        }

        /**
         * Runs a long export or import, showing a progress bar on a terminal (the server is asked
         * how far the stream of {@code file} is a few times a second).
         */
        JsonNode callWithProgress(ObjectNode fields, String label) throws Exception {
            if (System.console() == null) {
                return server.call(spec.commandLine(), command(), fields);
            }
            java.util.concurrent.CompletableFuture<JsonNode> result = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            return server.call(spec.commandLine(), command(), fields);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }, r -> Thread.ofVirtual().start(r));
            ObjectNode ask = Json.MAPPER.createObjectNode().put("file", fields.path("file").asText());
            Progress bar = null;
            try {
                while (!result.isDone()) {
                    JsonNode p = server.call(spec.commandLine(), "snapshot-progress", ask);
                    if (p.path("running").asBoolean() && p.path("total").asLong() > 0) {
                        if (bar == null) {
                            bar = new Progress(spec.commandLine().getErr(), label, p.path("total").asLong());
                        }
                        bar.update(p.path("done").asLong());
                    }
                    try {
                        result.get(250, java.util.concurrent.TimeUnit.MILLISECONDS);
                    } catch (java.util.concurrent.TimeoutException notYet) {
                        // poll again
                    }
                }
            } catch (java.util.concurrent.ExecutionException e) {
                // reported by join below
            } finally {
                if (bar != null) {
                    bar.finish();
                }
            }
            try {
                return result.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof java.io.UncheckedIOException u) {
                    throw u.getCause();
                }
                throw e;
            }
        }

        /** Checks VOLUME@SNAPSHOT. */
        String ref(String text) {
            int at = text.indexOf('@');
            if (at <= 0 || at == text.length() - 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "\"" + text
                        + "\" is not VOLUME@SNAPSHOT (e.g. data1@monday)");
            }
            return text;
        }
    }

    @Command(name = "create", description = {"Take a snapshot: VOLUME@NAME, or with --group one snapshot named NAME of "
            + "every VOLUME at one point in time (writes to all of them are held while it is taken), or with --of a "
            + "snapshot of another snapshot's image (of a writable one: with its writes so far)."})
    static final class Create extends Call {
        @Option(names = "--group", paramLabel = "NAME", description = "Snapshot these volumes together, each as NAME.")
        String group;

        @Option(names = "--of", paramLabel = "SNAPSHOT", description = "Snapshot the image of this snapshot of the "
                + "volume (e.g. one mapped writable) instead of the volume; the new one is read-only.")
        String of;

        @Parameters(paramLabel = "VOLUME@NAME|VOLUME", arity = "1..*")
        List<String> names;

        @Override
        String command() {
            return "snapshot-create";
        }

        @Override
        void put(ObjectNode f) {
            if (group == null) {
                if (names.size() != 1) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "one VOLUME@NAME, or --group NAME with the volumes");
                }
                f.put("name", ref(names.getFirst()));
                if (of != null) {
                    f.put("of", of);
                }
            } else if (of != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--of takes one VOLUME@NAME, not --group");
            } else {
                f.put("group", group);
                var a = f.putArray("volumes");
                for (String n : names) {
                    if (n.contains("@")) {
                        throw new CommandLine.ParameterException(spec.commandLine(), "with --group, name volumes "
                                + "only (each snapshot is named " + group + "), not " + n);
                    }
                    a.add(n);
                }
            }
        }

        @Override
        String table(JsonNode made) {
            StringBuilder b = new StringBuilder();
            for (JsonNode s : made) {
                b.append("snapshot ").append(s.path("volume").asText()).append('@').append(s.path("name").asText())
                        .append(" taken (id ").append(s.path("id").asLong()).append(", writes held ")
                        .append(String.format(java.util.Locale.ROOT, "%.1f ms, volume flushed in %.1f ms",
                                s.path("hold_nanos").asLong() / 1e6, s.path("flush_nanos").asLong() / 1e6))
                        .append(")\n");
            }
            return b.toString();
        }
    }

    @Command(name = "list", description = "One line per snapshot: volume, name, state, creation time, data held.")
    static final class ListSnapshots extends Call {
        @Parameters(paramLabel = "VOLUME", arity = "0..1", description = "Only this volume's snapshots.")
        String volume;

        @Override
        String command() {
            return "snapshot-list";
        }

        @Override
        void put(ObjectNode f) {
            if (volume != null) {
                f.put("name", volume);
            }
        }

        @Override
        String table(JsonNode snaps) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"SNAPSHOT", "STATE", "CREATED", "HOLDS", "ONLY IT", "GROUP", "OF"});
            for (JsonNode s : snaps) {
                rows.add(new String[] {s.path("volume").asText() + "@" + s.path("name").asText(), s.path("state").asText(),
                    Instant.ofEpochMilli(s.path("created_millis").asLong()).toString(),
                    ConnectHelp.human(s.path("stored_bytes").asLong()), ConnectHelp.human(s.path("exclusive_bytes").asLong()),
                    s.path("group").asText("-"), s.path("of").asText("-")});
            }
            return rows.size() == 1 ? "no snapshots\n" : Tables.render(rows);
        }
    }

    /** A command on one snapshot, VOLUME@NAME. */
    abstract static class OnSnapshot extends Call {
        @Parameters(paramLabel = "VOLUME@NAME")
        String name;

        @Override
        void put(ObjectNode f) {
            f.put("name", ref(name));
        }
    }

    @Command(name = "show", description = "One snapshot: state, creation time, the difference it holds, where it is "
            + "mapped, and its volume's difference storage.")
    static final class Show extends OnSnapshot {
        @Override
        String command() {
            return "snapshot-show";
        }

        @Override
        String table(JsonNode s) {
            return InventoryCommands.fields(s);
        }
    }

    @Command(name = "delete", description = "Delete a snapshot (any one) and free what only it needed; every other "
            + "snapshot keeps its point in time. A mapped snapshot is unmapped first (lun unmap).")
    static final class Delete extends OnSnapshot {
        @Override
        String command() {
            return "snapshot-delete";
        }

        @Override
        String table(JsonNode j) {
            return "snapshot " + j.path("deleted").asText() + " deleted\n";
        }
    }

    @Command(name = "diff", description = {"The extents that changed between two snapshots of a volume (VOLUME@A "
            + "VOLUME@B), or the extents of one that hold data (VOLUME@B alone).",
        "Extents are whole change-tracking blocks (the volume's chunk size)."})
    static final class Diff extends Call {
        @Parameters(paramLabel = "VOLUME@SNAPSHOT", arity = "1..2")
        List<String> refs;

        @Override
        String command() {
            return "snapshot-diff";
        }

        @Override
        void put(ObjectNode f) {
            String to = ref(refs.getLast());
            f.put("name", to);
            if (refs.size() == 2) {
                String from = ref(refs.getFirst());
                if (!from.substring(0, from.indexOf('@')).equals(to.substring(0, to.indexOf('@')))) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "both snapshots must be of one volume");
                }
                f.put("from", from.substring(from.indexOf('@') + 1));
            }
        }

        @Override
        String table(JsonNode d) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"OFFSET", "LENGTH"});
            for (JsonNode e : d.path("extents")) {
                rows.add(new String[] {Long.toString(e.path("offset").asLong()), Long.toString(e.path("length").asLong())});
            }
            String summary = d.path("extents").size() + " extents, " + ConnectHelp.human(d.path("changed_bytes").asLong())
                    + " of " + ConnectHelp.human(d.path("volume_size").asLong()) + " (blocks of "
                    + ConnectHelp.human(d.path("block_size").asLong()) + ", tracking id "
                    + d.path("tracking_id").asText() + ")\n";
            return (rows.size() == 1 ? "" : Tables.render(rows)) + summary;
        }
    }

    @Command(name = "export-diff", description = {"Write Ceph's rbd diff v1 stream of VOLUME@SNAPSHOT (from "
            + "--from-snap, or from nothing) to FILE, with FILE.sha256 beside it; - writes it to standard output "
            + "(its SHA-256 goes to standard error).",
        "FILE is written by the server: a path on the server's machine. rbd merge-diff and rbd import-diff read it."})
    static final class ExportDiff extends Call {
        @Option(names = "--from-snap", paramLabel = "NAME", description = "The older snapshot of the same volume.")
        String from;

        @Parameters(index = "0", paramLabel = "VOLUME@SNAPSHOT")
        String to;

        @Parameters(index = "1", paramLabel = "FILE|-")
        String file;

        private Path temp;

        @Override
        String command() {
            return "snapshot-export";
        }

        @Override
        void put(ObjectNode f) throws IOException {
            f.put("name", ref(to));
            if (from != null) {
                f.put("from", from);
            }
            Path target;
            if (file.equals("-")) {
                temp = spool("export");
                target = temp;
            } else {
                target = Path.of(file).toAbsolutePath();
            }
            f.put("file", target.toString());
        }

        @Override
        public Integer call() throws Exception {
            ObjectNode fields = Json.MAPPER.createObjectNode();
            put(fields);
            try {
                JsonNode result = temp != null ? server.call(spec.commandLine(), command(), fields)
                        : callWithProgress(fields, "exporting " + to);
                if (temp != null) {
                    try (InputStream in = Files.newInputStream(temp)) {
                        OutputStream out = System.out;
                        in.transferTo(out);
                        out.flush();
                    }
                    spec.commandLine().getErr().println("sha256 " + result.path("sha256").asText());
                    spec.commandLine().getErr().flush();
                    return ExitCodes.OK;
                }
                server.print(spec.commandLine().getOut(), result, this::table);
                return ExitCodes.OK;
            } finally {
                removeSpool(temp);
            }
        }

        @Override
        String table(JsonNode e) {
            return "wrote " + e.path("file").asText() + ": " + ConnectHelp.human(e.path("bytes").asLong()) + " ("
                    + ConnectHelp.human(e.path("data_bytes").asLong()) + " of data, "
                    + ConnectHelp.human(e.path("zero_bytes").asLong()) + " zeroed), sha256 " + e.path("sha256").asText()
                    + " in " + e.path("checksum_file").asText() + "\n";
        }
    }

    @Command(name = "import-diff", description = {"Apply an rbd diff v1 stream to VOLUME as rbd import-diff does: its "
            + "from-snapshot must be the volume's latest snapshot; its to-snapshot is taken after applying.",
        "The stream's SHA-256 (FILE.sha256, or --sha256 for -) and its whole structure are checked before any byte "
            + "is written."})
    static final class ImportDiff extends Call {
        @Parameters(index = "0", paramLabel = "FILE|-")
        String file;

        @Parameters(index = "1", paramLabel = "VOLUME")
        String volume;

        @Option(names = "--sha256", paramLabel = "HEX", description = "The stream's SHA-256 (needed for -; for a FILE "
                + "it replaces FILE.sha256).")
        String sha256;

        private Path temp;

        @Override
        String command() {
            return "snapshot-import";
        }

        @Override
        void put(ObjectNode f) throws IOException {
            f.put("name", volume);
            Path source;
            if (file.equals("-") || sha256 != null) {
                if (sha256 == null || !sha256.matches("[0-9a-fA-F]{64}")) {
                    throw new CommandLine.ParameterException(spec.commandLine(),
                            "--sha256: the stream's SHA-256 as 64 hex digits (needed to read a stream from -)");
                }
                temp = spool("import");
                if (file.equals("-")) {
                    Files.copy(System.in, temp);
                } else {
                    Files.copy(Path.of(file), temp);
                }
                Files.writeString(Path.of(temp + ".sha256"), sha256.toLowerCase(java.util.Locale.ROOT) + "  stream.diff\n",
                        StandardCharsets.UTF_8);
                source = temp;
            } else {
                source = Path.of(file).toAbsolutePath();
            }
            f.put("file", source.toString());
        }

        @Override
        public Integer call() throws Exception {
            try {
                ObjectNode fields = Json.MAPPER.createObjectNode();
                put(fields);
                JsonNode result = callWithProgress(fields, "importing into " + volume);
                server.print(spec.commandLine().getOut(), result, this::table);
                return ExitCodes.OK;
            } finally {
                removeSpool(temp);
            }
        }

        @Override
        String table(JsonNode i) {
            return "applied " + ConnectHelp.human(i.path("data_bytes").asLong()) + " of data and "
                    + ConnectHelp.human(i.path("zero_bytes").asLong()) + " of zeroes to " + i.path("volume").asText()
                    + "; took snapshot " + i.path("volume").asText() + "@" + i.path("snapshot").asText() + "\n";
        }
    }
}
