package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.server.admin.Json;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands that change a running server: {@code apply} with a whole file, and the
 * imperative ones ({@code volume create}, {@code lun map}, {@code acl add}, ...), each an edit of
 * the server's desired configuration that the server plans and applies like a file. Every one
 * prints the plan; {@code --dry-run} only prints it. Exit codes: 0 applied (or nothing to
 * change), 4 refused (nothing changed: the reasons are printed), 1 failed, 2 bad arguments,
 * 3 invalid configuration.
 */
final class ChangeCommands {
    private ChangeCommands() {
    }

    /** Sends a configuration change, prints the result, and turns it into the exit code. */
    abstract static class Change implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        @Option(names = "--dry-run", description = "Print the plan; change nothing.")
        boolean dryRun;

        /** The admin command and its fields. */
        abstract String command();

        abstract ObjectNode fields() throws IOException;

        /** Whether the command takes {@code --force} (its own option, declared by the subclass). */
        boolean force() {
            return false;
        }

        @Override
        public Integer call() throws Exception {
            ObjectNode f = fields();
            f.put("dry_run", dryRun);
            f.put("force", force());
            JsonNode result = server.call(spec.commandLine(), command(), f);
            boolean force = force();
            server.print(spec.commandLine().getOut(), result, r -> describe(r, force));
            return result.path("applied").asBoolean() || !blocked(result, force) ? ExitCodes.OK : ExitCodes.REFUSED;
        }
    }

    /** An imperative command: one edit of the desired configuration. */
    abstract static class Edit extends Change {
        @Override
        String command() {
            return "config-edit";
        }

        abstract String edit();

        abstract void put(ObjectNode f) throws IOException;

        @Override
        ObjectNode fields() throws IOException {
            ObjectNode f = Json.MAPPER.createObjectNode();
            f.put("edit", edit());
            put(f);
            return f;
        }
    }

    /** Whether a refusal stands in the plan's way (one that cannot be forced, or one that can without --force). */
    static boolean blocked(JsonNode r, boolean force) {
        for (JsonNode x : r.path("refusals")) {
            if (!x.path("forceable").asBoolean() || !force) {
                return true;
            }
        }
        return false;
    }

    /** The result of a change as people read it: the plan, what it does to sessions, and the verdict. */
    static String describe(JsonNode r, boolean force) {
        StringBuilder sb = new StringBuilder();
        JsonNode plan = r.path("plan");
        if (plan.isEmpty()) {
            sb.append("nothing to change: the server runs this configuration already\n");
            return sb.toString();
        }
        sb.append("plan:\n");
        for (JsonNode line : plan) {
            sb.append("  ").append(line.asText()).append('\n');
        }
        if (!r.path("effects").isEmpty()) {
            sb.append("effects:\n");
            for (JsonNode e : r.path("effects")) {
                sb.append("  ").append(e.asText()).append('\n');
            }
        }
        JsonNode refusals = r.path("refusals");
        boolean blocked = blocked(r, force);
        if (r.path("applied").asBoolean()) {
            sb.append(refusals.isEmpty() ? "applied\n" : "applied with --force over:\n");
        } else if (r.path("dry_run").asBoolean()) {
            sb.append(blocked ? "dry run; nothing was changed, and applying would be refused:\n"
                    : refusals.isEmpty() ? "dry run; nothing was changed\n"
                    : "dry run; nothing was changed; with --force it would be applied over:\n");
        } else {
            sb.append("refused; nothing was changed:\n");
        }
        for (JsonNode x : refusals) {
            sb.append("  ").append(x.path("subject").asText()).append(": ").append(x.path("reason").asText());
            if (x.path("forceable").asBoolean() && !r.path("applied").asBoolean()) {
                sb.append(" (use --force)");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    @Command(name = "apply", description = {"Make a running server's configuration the one in FILE, live: only what "
            + "differs changes, and sessions on what does not change keep running.",
        "",
        "  clonetarget apply -f /etc/clonetarget/clonetarget.toml --dry-run",
        "",
        "Changes that cannot be made live are refused with the reason, and then nothing of the plan is applied. "
            + "Removing a LUN that a session sees, or that is reserved, or a target with sessions, needs --force. "
            + "Paths in FILE are read by the server."})
    static final class Apply extends Change {
        @Option(names = {"-f", "--file"}, paramLabel = "FILE", required = true, description = "The configuration (TOML); "
                + "- for standard input.")
        String file;

        @Option(names = "--force", description = "Apply changes that disrupt initiators (LUNs in use, targets with sessions).")
        boolean force;

        @Override
        boolean force() {
            return force;
        }

        @Override
        String command() {
            return "config-apply";
        }

        @Override
        ObjectNode fields() throws IOException {
            String text;
            if (file.equals("-")) {
                text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
            } else {
                try {
                    text = Files.readString(Path.of(file), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--file: cannot read " + file + ": "
                            + e.getMessage());
                }
            }
            ObjectNode f = Json.MAPPER.createObjectNode();
            f.put("toml", text);
            f.put("source", file.equals("-") ? "standard input" : file);
            return f;
        }
    }

    // ---- volume ------------------------------------------------------------------------------

    @Command(name = "create", description = {"Add a file volume to a running server (a missing file is created "
            + "sparse with --size).", "", "  clonetarget volume create data1 --path /var/lib/clonetarget/data1.img --size 10G"})
    static final class VolumeCreate extends Edit {
        @Parameters(paramLabel = "NAME", description = "The volume's name (letters, digits, '.', '_', '-').")
        String name;

        @Option(names = "--path", required = true, paramLabel = "FILE", description = "The file or block device.")
        String path;

        @Option(names = "--size", paramLabel = "SIZE", description = "Create the file with this size (e.g. 10G) if it "
                + "does not exist.")
        String size;

        @Option(names = "--block-size", paramLabel = "512|4096", description = "Logical block size. Default 512.")
        Integer blockSize;

        @Option(names = "--read-only", description = "Expose it write-protected.")
        boolean readOnly;

        @Mixin
        SnapshotOptions snapshots = new SnapshotOptions();

        @Override
        String edit() {
            return "volume-create";
        }

        @Override
        void put(ObjectNode f) {
            f.put("volume", name).put("path", Path.of(path).toAbsolutePath().toString()).put("size", size)
                    .put("read_only", readOnly);
            if (blockSize != null) {
                f.put("block_size", blockSize);
            }
            snapshots.put(f);
        }
    }

    /** {@code --snapshots [--snapshot-limit S] [--snapshot-chunk S]}: a volume with [volume.snapshots]. */
    static final class SnapshotOptions {
        @Option(names = "--snapshots", description = "The volume takes snapshots ([volume.snapshots]).")
        boolean enabled;

        @Option(names = "--snapshot-limit", paramLabel = "SIZE", description = "Most difference storage its snapshots "
                + "may use. Default: the volume's size.")
        String limit;

        @Option(names = "--snapshot-chunk", paramLabel = "SIZE", description = "Copy-on-write chunk, 16K to 1M. "
                + "Default 64K.")
        String chunk;

        void put(ObjectNode f) {
            if (limit != null || chunk != null) {
                ObjectNode s = f.putObject("snapshots");
                if (limit != null) {
                    s.put("limit", limit);
                }
                if (chunk != null) {
                    s.put("chunk_size", chunk);
                }
            } else if (enabled) {
                f.put("snapshots", true);
            }
        }
    }

    @Command(name = "delete", description = "Remove a volume from a running server (its file stays). A volume that is "
            + "exported needs --force, which unmaps it too.")
    static final class VolumeDelete extends Edit {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--force", description = "Unmap it from every target first, even in use.")
        boolean force;

        @Override
        boolean force() {
            return force;
        }

        @Override
        String edit() {
            return "volume-delete";
        }

        @Override
        void put(ObjectNode f) {
            f.put("volume", name);
        }
    }

    @Command(name = "resize", description = {"Grow a file volume live: the file is extended (sparse) and the "
            + "initiators using it get CAPACITY DATA HAS CHANGED. Shrinking is refused.", "",
        "  clonetarget volume resize data1 --size 20G"})
    static final class VolumeResize extends Edit {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--size", required = true, paramLabel = "SIZE")
        String size;

        @Override
        String edit() {
            return "volume-resize";
        }

        @Override
        void put(ObjectNode f) {
            f.put("volume", name).put("size", size);
        }
    }

    // ---- clone -------------------------------------------------------------------------------

    @Command(name = "create", description = {"Add a clone volume: SOURCE is read, PATH receives the copy, hydrating in "
            + "the background while it serves.",
        "", "  clonetarget clone create vm1 --source /images/golden.img --path /var/lib/clonetarget/vm1.img"})
    static final class CloneCreate extends Edit {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--source", required = true, paramLabel = "SOURCE", description = "A file, block device, "
                + "http(s) URL, or a snapshot of a volume of this server: snapshot:VOLUME@SNAPSHOT.")
        String source;

        @Option(names = "--path", required = true, paramLabel = "FILE", description = "The destination file.")
        String path;

        @Option(names = "--region-size", paramLabel = "SIZE", description = "Copy granularity, 4K to 1G. Default 64K.")
        String regionSize;

        @Option(names = "--rate", paramLabel = "SIZE", description = "Background copy rate per second (0: unlimited).")
        String rate;

        @Option(names = "--paused", description = "Start with background hydration paused.")
        boolean paused;

        @Mixin
        SnapshotOptions snapshots = new SnapshotOptions();

        @Override
        String edit() {
            return "clone-create";
        }

        @Override
        void put(ObjectNode f) {
            String src = source.contains("://") || source.startsWith(io.clonetarget.config.VolumeConfig.SNAPSHOT_SOURCE)
                    ? source : Path.of(source).toAbsolutePath().toString();
            f.put("volume", name).put("source", src).put("path", Path.of(path).toAbsolutePath().toString())
                    .put("region_size", regionSize).put("rate", rate).put("paused", paused);
            snapshots.put(f);
        }
    }

    @Command(name = "set", description = "Change a clone's settings that can change live (now: its rate).")
    static final class CloneSet extends Edit {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--rate", required = true, paramLabel = "SIZE", description = "Bytes per second, e.g. 50M; 0 for "
                + "no limit. Kept in the configuration; clone rate changes it until the next start only.")
        String rate;

        @Override
        String edit() {
            return "clone-set";
        }

        @Override
        void put(ObjectNode f) {
            f.put("volume", name).put("rate", rate);
        }
    }

    // ---- target ------------------------------------------------------------------------------

    @Command(name = "create", description = {"Add a target (no LUNs yet; see lun map).", "",
        "  clonetarget target create iqn.2026-12.com.example:vm1 --alias vm1"})
    static final class TargetCreate extends Edit {
        @Parameters(paramLabel = "IQN")
        String iqn;

        @Option(names = "--alias", paramLabel = "TEXT")
        String alias;

        @Override
        String edit() {
            return "target-create";
        }

        @Override
        void put(ObjectNode f) {
            f.put("target", iqn).put("alias", alias);
        }
    }

    @Command(name = "delete", description = "Remove a target; sessions on it are asked to log out (needs --force when "
            + "there are any).")
    static final class TargetDelete extends Edit {
        @Parameters(paramLabel = "IQN")
        String iqn;

        @Option(names = "--force", description = "Even with sessions logged in.")
        boolean force;

        @Override
        boolean force() {
            return force;
        }

        @Override
        String edit() {
            return "target-delete";
        }

        @Override
        void put(ObjectNode f) {
            f.put("target", iqn);
        }
    }

    // ---- lun ---------------------------------------------------------------------------------

    @Command(name = "lun", description = "Map volumes as LUNs of targets, live: logged-in initiators are told and rescan.",
            subcommands = {LunMap.class, LunUnmap.class, LunList.class})
    static final class Lun implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    @Command(name = "map", description = {"Map VOLUME (or a snapshot, VOLUME@SNAPSHOT, read-only unless --writable) as a "
            + "LUN of TARGET: in the default map, or in one initiator's own map (which it then sees instead of the "
            + "default one).", "",
        "  clonetarget lun map iqn.2026-12.com.example:vm1 data1 --lun 1",
        "  clonetarget lun map iqn.2026-12.com.example:vm1 data1@monday --lun 2"})
    static final class LunMap extends Edit {
        @Parameters(index = "0", paramLabel = "TARGET")
        String target;

        @Parameters(index = "1", paramLabel = "VOLUME")
        String volume;

        @Option(names = "--lun", paramLabel = "N", description = "The LUN number. Default: the lowest free one.")
        Integer lun;

        @Option(names = "--initiator", paramLabel = "IQN", description = "Map it for this initiator only.")
        String initiator;

        @Option(names = "--writable", description = "A snapshot takes writes (kept in its difference storage; it then "
                + "no longer shows its point in time).")
        boolean writable;

        @Override
        String edit() {
            return "lun-map";
        }

        @Override
        void put(ObjectNode f) {
            f.put("target", target).put("volume", volume).put("initiator", initiator);
            if (writable) {
                f.put("writable", true);
            }
            if (lun != null) {
                f.put("lun", lun);
            }
        }
    }

    @Command(name = "unmap", description = "Remove LUN from TARGET's map (default or an initiator's); one a session "
            + "sees, or reserved, needs --force.")
    static final class LunUnmap extends Edit {
        @Parameters(index = "0", paramLabel = "TARGET")
        String target;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Option(names = "--initiator", paramLabel = "IQN", description = "From this initiator's own map.")
        String initiator;

        @Option(names = "--force", description = "Even when in use or reserved.")
        boolean force;

        @Override
        boolean force() {
            return force;
        }

        @Override
        String edit() {
            return "lun-unmap";
        }

        @Override
        void put(ObjectNode f) {
            f.put("target", target).put("lun", lun).put("initiator", initiator);
        }
    }

    @Command(name = "list", description = "Every LUN map of every target (or of TARGET).")
    static final class LunList extends InventoryCommands.Query {
        @Parameters(arity = "0..1", paramLabel = "TARGET")
        String target;

        @Override
        String command() {
            return target == null ? "target-list" : "target-show";
        }

        @Override
        String name() {
            return target;
        }

        @Override
        String table(JsonNode result) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"TARGET", "MAP", "LUN", "VOLUME"});
            for (JsonNode t : result.isArray() ? result : Json.MAPPER.createArrayNode().add(result)) {
                for (JsonNode l : t.path("luns")) {
                    rows.add(new String[] {t.path("iqn").asText(), "default", l.path("lun").asText(),
                        l.path("volume").asText()});
                }
                t.path("initiator_luns").properties().forEach(e -> {
                    for (JsonNode l : e.getValue()) {
                        rows.add(new String[] {t.path("iqn").asText(), e.getKey(), l.path("lun").asText(),
                            l.path("volume").asText()});
                    }
                });
            }
            return rows.size() == 1 ? "no LUNs\n" : Tables.render(rows);
        }
    }

    // ---- portal ------------------------------------------------------------------------------

    @Command(name = "portal", description = "Listen addresses of a running server.",
            subcommands = {PortalAdd.class, PortalRemove.class})
    static final class Portal implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    @Command(name = "add", description = "Listen on ADDR:PORT too ([v6]:port for IPv6).")
    static final class PortalAdd extends Edit {
        @Parameters(paramLabel = "ADDR:PORT")
        String address;

        @Override
        String edit() {
            return "portal-add";
        }

        @Override
        void put(ObjectNode f) {
            f.put("address", address);
        }
    }

    @Command(name = "remove", description = "Stop listening on ADDR:PORT (connections made through it stay).")
    static final class PortalRemove extends Edit {
        @Parameters(paramLabel = "ADDR:PORT")
        String address;

        @Override
        String edit() {
            return "portal-remove";
        }

        @Override
        void put(ObjectNode f) {
            f.put("address", address);
        }
    }

    // ---- acl ---------------------------------------------------------------------------------

    @Command(name = "acl", description = {"Who may log in to a target: initiator names and source networks. A name "
            + "without CHAP is not authentication (any initiator can claim one); see chap set."},
            subcommands = {AclAdd.class, AclRemove.class, AclList.class})
    static final class Acl implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    /** An initiator name or a network, exactly one. */
    static final class Who {
        @Option(names = "--initiator", paramLabel = "IQN", required = true, description = "An initiator name.")
        String initiator;

        @Option(names = "--network", paramLabel = "CIDR", required = true, description = "A source network, e.g. "
                + "192.0.2.0/24 or fd00::/8.")
        String network;
    }

    abstract static class AclEdit extends Edit {
        @Parameters(paramLabel = "TARGET")
        String target;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Who who;

        @Override
        void put(ObjectNode f) {
            f.put("target", target).put("initiator", who.initiator).put("network", who.network);
        }
    }

    @Command(name = "add", description = "Allow an initiator name or a network on TARGET (once a name list exists, "
            + "only listed names may log in; the same for networks).")
    static final class AclAdd extends AclEdit {
        @Override
        String edit() {
            return "acl-add";
        }
    }

    @Command(name = "remove", description = "Remove an entry; sessions no longer allowed are asked to log out. "
            + "Removing the last entry of a list admits everyone again and needs --force.")
    static final class AclRemove extends AclEdit {
        @Option(names = "--force", description = "Even the last entry (the target then admits every name or address).")
        boolean force;

        @Override
        boolean force() {
            return force;
        }

        @Override
        String edit() {
            return "acl-remove";
        }
    }

    @Command(name = "list", description = "The access lists of every target (or of TARGET).")
    static final class AclList extends InventoryCommands.Query {
        @Parameters(arity = "0..1", paramLabel = "TARGET")
        String target;

        @Override
        String command() {
            return target == null ? "target-list" : "target-show";
        }

        @Override
        String name() {
            return target;
        }

        @Override
        String table(JsonNode result) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"TARGET", "KIND", "ENTRY"});
            for (JsonNode t : result.isArray() ? result : Json.MAPPER.createArrayNode().add(result)) {
                String iqn = t.path("iqn").asText();
                for (JsonNode n : t.path("allowed_initiators")) {
                    rows.add(new String[] {iqn, "initiator", n.asText()});
                }
                for (JsonNode n : t.path("allowed_networks")) {
                    rows.add(new String[] {iqn, "network", n.asText()});
                }
                if (t.path("allowed_initiators").isEmpty() && t.path("allowed_networks").isEmpty()) {
                    rows.add(new String[] {iqn, "-", "every initiator"});
                }
                if (!t.path("chap_user").isNull() && !t.path("chap_user").isMissingNode()) {
                    rows.add(new String[] {iqn, "chap", "user " + t.path("chap_user").asText()});
                }
            }
            return Tables.render(rows);
        }
    }

    // ---- chap --------------------------------------------------------------------------------

    @Command(name = "chap", description = "CHAP credentials of a target or of discovery. Secrets are read from a "
            + "prompt, standard input or a file, never from the command line.",
            subcommands = {ChapSet.class, ChapRemove.class})
    static final class Chap implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    /** A target, or discovery: exactly one. */
    abstract static class ChapEdit extends Edit {
        @Parameters(arity = "0..1", paramLabel = "TARGET", description = "The target (or --discovery).")
        String target;

        @Option(names = "--discovery", description = "Discovery sessions' credentials instead of a target's.")
        boolean discovery;

        /** The target, or null for discovery. */
        String scope() {
            if ((target == null) != discovery) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give a TARGET or --discovery (one of them)");
            }
            return target;
        }
    }

    @Command(name = "set", description = {"Require CHAP: initiators prove USER's secret. The secret (12 to 255 "
            + "characters; Windows accepts 12 to 16) comes from --secret-file, --secret-stdin, or a prompt.", "",
        "  clonetarget chap set iqn.2026-12.com.example:vm1 --user vm1 --secret-file /root/vm1.secret"})
    static final class ChapSet extends ChapEdit {
        @Option(names = "--user", required = true, paramLabel = "NAME")
        String user;

        @Option(names = "--secret-file", paramLabel = "FILE", description = "Read the secret from FILE (first line).")
        Path secretFile;

        @Option(names = "--secret-stdin", description = "Read the secret from standard input (first line).")
        boolean secretStdin;

        @Option(names = "--mutual-user", paramLabel = "NAME", description = "Mutual CHAP: the target proves this "
                + "user's secret (asked for like the first one, from --mutual-secret-file or a prompt).")
        String mutualUser;

        @Option(names = "--mutual-secret-file", paramLabel = "FILE")
        Path mutualSecretFile;

        @Override
        String edit() {
            return "chap-set";
        }

        @Override
        void put(ObjectNode f) throws IOException {
            f.put("target", scope()).put("user", user);
            f.put("secret", secret("secret", secretFile, secretStdin));
            if (mutualUser != null) {
                f.put("mutual_user", mutualUser).put("mutual_secret", secret("mutual secret", mutualSecretFile, false));
            }
        }

        private String secret(String what, Path file, boolean stdin) throws IOException {
            if (file != null) {
                return firstLine(Files.newInputStream(file), what + " file " + file);
            }
            if (stdin) {
                return firstLine(System.in, "standard input");
            }
            Console console = System.console();
            if (console == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "no terminal to ask for the " + what
                        + "; give --secret-file FILE or --secret-stdin");
            }
            char[] typed = console.readPassword("CHAP %s for %s: ", what, user);
            char[] again = console.readPassword("again: ");
            if (typed == null || again == null || !java.util.Arrays.equals(typed, again)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "the two " + what + "s differ");
            }
            return new String(typed);
        }

        private String firstLine(InputStream in, String where) throws IOException {
            try (in) {
                String text = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
                int nl = text.indexOf('\n');
                String line = (nl >= 0 ? text.substring(0, nl) : text).strip();
                if (line.isEmpty()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), where + " holds no secret");
                }
                return line;
            }
        }
    }

    @Command(name = "remove", description = "Stop requiring CHAP on TARGET (or for discovery).")
    static final class ChapRemove extends ChapEdit {
        @Override
        String edit() {
            return "chap-remove";
        }

        @Override
        void put(ObjectNode f) {
            f.put("target", scope());
        }
    }
}
