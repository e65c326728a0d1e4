package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.config.ByteSize;
import io.clonetarget.server.admin.Json;
import io.clonetarget.storage.clone.CloneFiles;
import io.clonetarget.storage.clone.CloneRepair;
import io.clonetarget.storage.clone.CloneSource;
import io.clonetarget.storage.clone.CloneVolume;
import io.clonetarget.storage.device.FileBlockDevice;
import io.clonetarget.storage.meta.MetadataInspection;
import io.clonetarget.storage.meta.MetadataInspection.Finding;
import io.clonetarget.storage.meta.MetadataInspection.Severity;
import io.clonetarget.storage.meta.CloneInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonetarget metadata check|dump|repair}: a clone's metadata file, offline. */
@Command(name = "metadata", description = {"Check, show and repair a clone's metadata file (with its server stopped).",
    "",
    "check exits with 0 consistent, 4 damaged (repair can rebuild it), 5 no valid superblock,",
    "6 consistent but not matching the --dest or --source given, 1 when the file cannot be read."},
        subcommands = {MetadataCommand.Check.class, MetadataCommand.Dump.class, MetadataCommand.Repair.class})
final class MetadataCommand implements Runnable {
    static final int DAMAGED = 4;
    static final int UNUSABLE = 5;
    static final int MISMATCH = 6;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static MetadataInspection inspect(Path file) throws IOException {
        if (!Files.isRegularFile(file) && !Files.exists(file)) {
            throw new IOException(file + " does not exist");
        }
        try (FileBlockDevice device = FileBlockDevice.open(file, true, 512)) {
            return MetadataInspection.of(device);
        }
    }

    /** The snapshot metadata in {@code file}, or null when it is not a snapshot store (a clone's, or nothing). */
    static io.clonetarget.storage.meta.SnapshotStore.Inspection snapshotStore(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try (FileBlockDevice device = FileBlockDevice.open(file, true, 512)) {
            var i = io.clonetarget.storage.meta.SnapshotStore.inspect(device);
            boolean isOne = i.info() != null || !i.problems().isEmpty() && !i.problems().getFirst().contains(
                    "no snapshot root") && !i.problems().getFirst().startsWith("no valid superblock");
            return isOne || file.getFileName().toString().equals("snapshots.meta") ? i : null;
        }
    }

    /** {@code check} and {@code dump} of a snapshot store: every problem named; the snapshots it holds. */
    static int snapshots(PrintWriter out, Path file, io.clonetarget.storage.meta.SnapshotStore.Inspection i,
                         boolean dump, boolean json) throws IOException {
        var info = i.info();
        if (json) {
            var o = Json.MAPPER.createObjectNode();
            o.put("file", file.toString()).put("kind", "snapshots").put("generation", i.generation());
            o.put("verdict", i.generation() == 0 ? "unusable" : i.opens() ? "consistent" : "damaged");
            if (info != null) {
                o.put("uuid", info.uuid().toString()).put("volume_size", info.volumeSize())
                        .put("chunk_size", info.chunkSize()).put("snapshot_capacity", info.tableCapacity())
                        .put("slot_capacity", info.slotCapacity()).put("next_id", info.nextId())
                        .put("tracking_id", info.trackingId().toString()).put("slots_in_use", i.slotsInUse());
            }
            var snaps = o.putArray("snapshots");
            for (var e : i.entries()) {
                snaps.addObject().put("id", e.id()).put("name", e.name()).put("state", e.state().name().toLowerCase(
                        Locale.ROOT)).put("created_millis", e.createdMillis()).put("group", e.group())
                        .put("group_size", e.groupSize());
            }
            var problems = o.putArray("problems");
            i.problems().forEach(problems::add);
            out.println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o));
        } else {
            for (String p : i.problems()) {
                out.println("damaged: " + p);
            }
            if (dump && info != null) {
                out.printf(Locale.ROOT, "snapshot metadata, generation %d, uuid %s%n", i.generation(), info.uuid());
                out.printf(Locale.ROOT, "volume %d bytes, chunk %d, %d snapshots of %d, %d of %d slots in use, next id %d,"
                        + " tracking id %s%n", info.volumeSize(), info.chunkSize(), i.entries().size(),
                        info.tableCapacity(), i.slotsInUse(), info.slotCapacity(), info.nextId(), info.trackingId());
                for (var e : i.entries()) {
                    out.printf(Locale.ROOT, "  snapshot %d %s: %s, created %s%s%n", e.id(), e.name(),
                            e.state().name().toLowerCase(Locale.ROOT), java.time.Instant.ofEpochMilli(e.createdMillis()),
                            e.group().isEmpty() ? "" : ", group " + e.group() + " of " + e.groupSize());
                }
            }
            if (i.generation() == 0) {
                out.println(file + ": unusable: no valid superblock");
            } else if (!i.opens()) {
                out.println(file + ": damaged: the snapshots will not open");
            } else if (!dump) {
                out.printf(Locale.ROOT, "%s: consistent (snapshot metadata, generation %d, %d snapshots, %d slots in use)%n",
                        file, i.generation(), i.entries().size(), i.slotsInUse());
            }
        }
        out.flush();
        return i.generation() == 0 ? UNUSABLE : i.opens() ? ExitCodes.OK : DAMAGED;
    }

    static String label(Severity s) {
        return switch (s) {
            case NOTE -> "note";
            case DAMAGED -> "damaged";
            case UNUSABLE -> "unusable";
        };
    }

    @Command(name = "check", description = "Check every block of a metadata file (a clone's, or a volume's snapshots.meta); name each problem.")
    static final class Check implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The metadata file (the destination plus .meta by default).")
        Path file;

        @Option(names = "--dest", paramLabel = "PATH", description = "Also check that the destination has the clone's size.")
        Path dest;

        @Option(names = "--source", paramLabel = "SOURCE", description = "Also check that the source is the recorded one.")
        String source;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            var snapshots = snapshotStore(file);
            if (snapshots != null) {
                return snapshots(out, file, snapshots, false, false);
            }
            MetadataInspection i = inspect(file);
            for (Finding f : i.findings()) {
                out.println(label(f.severity()) + ": " + f);
            }
            CloneInfo sb = i.clone();
            if (i.generation() == 0) {
                out.println(file + ": unusable: not clonetarget clone metadata, or both superblocks are destroyed");
                return UNUSABLE;
            }
            if (!i.opens()) {
                out.println(file + ": damaged: the clone will not open; `clonetarget metadata repair` rebuilds it");
                return DAMAGED;
            }
            int result = ExitCodes.OK;
            if (dest != null) {
                long size = Files.size(dest);
                if (size != sb.targetSize()) {
                    out.println("mismatch: destination " + dest + " is " + size + " bytes, the metadata describes "
                            + sb.targetSize());
                    result = MISMATCH;
                }
            }
            if (source != null) {
                try (CloneSource s = CloneFiles.openSource(source)) {
                    s.checkSame(sb.source());
                } catch (IOException e) {
                    out.println("mismatch: source: " + e.getMessage());
                    result = MISMATCH;
                }
            }
            if (result == ExitCodes.OK) {
                out.printf(Locale.ROOT, "%s: consistent (format %d, generation %d, %d of %d regions hydrated)%n", file,
                        i.formatVersion(), i.generation(), i.hydratedRegions(), sb.regionCount());
            }
            return result;
        }
    }

    @Command(name = "dump", description = "Show what a metadata file holds: superblocks, geometry, source, hydrated regions.")
    static final class Dump implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The metadata file.")
        Path file;

        @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "text (default) or json.")
        String output = "text";

        @Option(names = "--blocks", description = "List every bitset block (text output).")
        boolean blocks;

        @Override
        public Integer call() throws Exception {
            if (!output.equals("text") && !output.equals("json")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--output: \"" + output
                        + "\" is not text or json");
            }
            PrintWriter out = spec.commandLine().getOut();
            var snapshots = snapshotStore(file);
            if (snapshots != null) {
                return snapshots(out, file, snapshots, true, output.equals("json"));
            }
            MetadataInspection i = inspect(file);
            if (output.equals("json")) {
                out.println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(json(i)));
            } else {
                text(out, i);
            }
            out.flush();
            return i.generation() == 0 ? UNUSABLE : i.opens() ? ExitCodes.OK : DAMAGED;
        }

        private void text(PrintWriter out, MetadataInspection i) {
            out.printf("file           %s (%d bytes)%n", file, i.fileBytes());
            for (MetadataInspection.Slot s : i.slots()) {
                out.printf("superblock %d   %s%n", s.slot(), s.valid() ? "generation " + s.generation()
                        + ", format " + s.version() + (s.generation() == i.generation() ? " (current)" : "")
                        : s.problem());
            }
            CloneInfo sb = i.clone();
            if (sb != null) {
                out.printf("format         %d%s%n", i.formatVersion(), i.formatVersion() == 1
                        ? " (upgraded to 2 when the clone next opens)" : "");
                out.printf("uuid           %s%n", sb.uuid());
                out.printf("created        %s%n", Instant.ofEpochMilli(sb.createdMillis()));
                out.printf("size           %d bytes (%s)%n", sb.targetSize(), ConnectHelp.human(sb.targetSize()));
                out.printf("region size    %s%n", ByteSize.ofBytes(sb.regionSize()));
                out.printf("block size     %d%n", sb.logicalBlockSize());
                out.printf("regions        %d in %d bitset blocks%s%n", sb.regionCount(), sb.bitsetBlocks(),
                        i.formatVersion() == 2 ? " (" + i.indexBlocks() + " index blocks; space for "
                                + i.spaceBlocks() + " blocks)" : "");
                out.printf(Locale.ROOT, "hydrated       %d regions (%.1f%%)%n", i.hydratedRegions(),
                        100.0 * i.hydratedRegions() / sb.regionCount());
                out.println("source");
                for (String line : sb.source().split("\n")) {
                    if (!line.isEmpty()) {
                        out.println("  " + line);
                    }
                }
                List<long[]> runs = i.hydratedRuns();
                out.print("hydrated runs ");
                int shown = 0;
                for (long[] r : runs) {
                    if (shown++ == 20) {
                        out.print(" ... (" + (runs.size() - 20) + " more; --output json lists all)");
                        break;
                    }
                    out.print(" " + (r[0] == r[1] ? Long.toString(r[0]) : r[0] + "-" + r[1]));
                }
                out.println(runs.isEmpty() ? " none" : "");
                if (blocks) {
                    for (MetadataInspection.BitsetBlock b : i.blocks()) {
                        out.printf("bitset %-6d at block %-8d %s%n", b.index(), b.location(),
                                b.valid() ? "generation " + b.generation() + ", " + b.bitsSet() + " set" : b.problem());
                    }
                }
            }
            for (Finding f : i.findings()) {
                out.println(label(f.severity()) + ": " + f);
            }
        }

        private ObjectNode json(MetadataInspection i) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("file", file.toString());
            o.put("file_bytes", i.fileBytes());
            o.put("verdict", i.generation() == 0 ? "unusable" : i.opens() ? "consistent" : "damaged");
            o.put("format", i.formatVersion());
            ArrayNode slots = o.putArray("superblocks");
            for (MetadataInspection.Slot s : i.slots()) {
                ObjectNode n = slots.addObject();
                n.put("slot", s.slot());
                n.put("valid", s.valid());
                if (s.valid()) {
                    n.put("generation", s.generation());
                    n.put("format", s.version());
                } else {
                    n.put("problem", s.problem());
                }
            }
            CloneInfo sb = i.clone();
            if (sb != null) {
                o.put("generation", i.generation());
                o.put("uuid", sb.uuid().toString());
                o.put("created", Instant.ofEpochMilli(sb.createdMillis()).toString());
                o.put("size", sb.targetSize());
                o.put("region_size", sb.regionSize());
                o.put("logical_block_size", sb.logicalBlockSize());
                o.put("regions", sb.regionCount());
                o.put("bitset_blocks", sb.bitsetBlocks());
                o.put("index_blocks", i.indexBlocks());
                o.put("space_blocks", i.spaceBlocks());
                o.put("hydrated_regions", i.hydratedRegions());
                ObjectNode src = o.putObject("source");
                CloneSource.parseDescriptor(sb.source()).forEach(src::put);
                ArrayNode runs = o.putArray("hydrated_runs");
                for (long[] r : i.hydratedRuns()) {
                    runs.addArray().add(r[0]).add(r[1]);
                }
                ArrayNode bl = o.putArray("blocks");
                for (MetadataInspection.BitsetBlock b : i.blocks()) {
                    ObjectNode n = bl.addObject();
                    n.put("index", b.index());
                    n.put("location", b.location());
                    if (b.valid()) {
                        n.put("generation", b.generation());
                        n.put("bits_set", b.bitsSet());
                    } else {
                        n.put("problem", b.problem());
                    }
                }
            }
            ArrayNode findings = o.putArray("findings");
            for (Finding f : i.findings()) {
                ObjectNode n = findings.addObject();
                n.put("severity", label(f.severity()));
                n.put("where", f.where());
                n.put("message", f.message());
            }
            return o;
        }
    }

    @Command(name = "repair", description = {"Write a new metadata file in which a region is hydrated only when proven:",
        "by a valid block of the last commit, or by the destination holding exactly the source's bytes.",
        "Nothing is changed in place; move the new file over the old one when satisfied."})
    static final class Repair implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The damaged metadata file (only read).")
        Path file;

        @Option(names = "--source", required = true, paramLabel = "SOURCE", description = "The clone's source.")
        String source;

        @Option(names = "--dest", required = true, paramLabel = "PATH", description = "The clone's destination (only read).")
        Path dest;

        @Option(names = "--to", paramLabel = "PATH", description = "The new metadata file. Default FILE.repaired.")
        Path to;

        @Option(names = "--region-size", paramLabel = "SIZE",
                description = "Region size when no superblock survives. Default 64K.")
        String regionSize = "64K";

        @Option(names = "--block-size", paramLabel = "N", description = "Logical block size when no superblock survives. "
                + "Default 512.")
        int blockSize = 512;

        @Override
        public Integer call() throws Exception {
            CommandLine cl = spec.commandLine();
            PrintWriter out = cl.getOut();
            long region;
            try {
                region = ByteSize.parse(regionSize).bytes();
                new CloneVolume.Settings(region, blockSize, false, true,
                        io.clonetarget.storage.clone.HydrationSettings.defaults());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--region-size/--block-size: " + e.getMessage());
            }
            Path target = to != null ? to : Path.of(file + ".repaired");
            if (Files.exists(target)) {
                throw new IOException(target + " exists; remove it or give another --to");
            }
            MetadataInspection before = inspect(file);
            CloneInfo sb = before.clone();
            try (CloneSource src = CloneFiles.openSource(source);
                 FileBlockDevice old = FileBlockDevice.open(file, true, 512);
                 FileBlockDevice destination = FileBlockDevice.open(dest, true,
                         sb != null ? sb.logicalBlockSize() : blockSize)) {
                long size = src.size() - src.size() % (sb != null ? sb.logicalBlockSize() : blockSize);
                long regionBytes = sb != null ? sb.regionSize() : region;
                long toCompare = CloneRepair.bytesToCompare(before, size, regionBytes);
                Progress progress = new Progress(cl.getErr(), "comparing with the source", toCompare);
                CloneRepair.Result r;
                boolean done = false;
                try (FileBlockDevice fresh = FileBlockDevice.openOrCreate(target,
                        CloneVolume.metadataBytes(size, regionBytes), 4096)) {
                    r = CloneRepair.repair(old, src, destination, fresh,
                            new CloneRepair.Defaults(region, blockSize), progress::update);
                    done = true;
                } finally {
                    progress.finish();
                    if (!done) {
                        Files.deleteIfExists(target);
                    }
                }
                for (Finding f : before.findings()) {
                    out.println("was " + label(f.severity()) + ": " + f);
                }
                out.printf("wrote %s: %d of %d regions hydrated%n", target, r.fromCommit() + r.proven(), r.regions());
                out.printf("  %d from the last commit (valid blocks)%n", r.fromCommit());
                out.printf("  %d of %d unknown regions proven by comparison with the source%n", r.proven(), r.compared());
                if (r.differing() > 0) {
                    out.printf("  %d unknown regions differ from the source and were left unhydrated: the clone will "
                            + "serve the source's data there (the destination's bytes stay in %s)%n", r.differing(), dest);
                    int shown = 0;
                    StringBuilder runs = new StringBuilder("  regions");
                    for (long[] run : r.differingRuns()) {
                        if (shown++ == 20) {
                            runs.append(" ...");
                            break;
                        }
                        runs.append(' ').append(run[0] == run[1] ? Long.toString(run[0]) : run[0] + "-" + run[1]);
                    }
                    out.println(runs);
                }
                if (r.newIdentity()) {
                    out.println("  the old UUID was unreadable: the LUN gets a new identity (hosts see a new disk id)");
                }
                out.println("to use it: mv " + target + " " + file);
            }
            return ExitCodes.OK;
        }
    }
}
