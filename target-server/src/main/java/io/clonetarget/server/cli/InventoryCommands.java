package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code clonetarget volume list|show} and {@code clonetarget target list|show}: what a running
 * server serves, read through its admin API. Creating and deleting them are {@link ChangeCommands}.
 */
final class InventoryCommands {
    private InventoryCommands() {
    }

    /** Runs an admin command and prints its answer as a table or JSON. */
    abstract static class Query implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ServerOptions server = new ServerOptions();

        abstract String command();

        String name() {
            return null;
        }

        abstract String table(JsonNode result);

        @Override
        public Integer call() throws Exception {
            JsonNode result = server.call(spec.commandLine(), command(), CloneCommand.named(name()));
            server.print(spec.commandLine().getOut(), result, this::table);
            return ExitCodes.OK;
        }
    }

    @Command(name = "volume", description = "The volumes of a running server.",
            subcommands = {ChangeCommands.VolumeCreate.class, VolumeList.class, VolumeShow.class,
                ChangeCommands.VolumeResize.class, ChangeCommands.VolumeDelete.class})
    static final class Volume implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    @Command(name = "list", description = "One line per volume: name, type, size, path, where it is exported.")
    static final class VolumeList extends Query {
        @Override
        String command() {
            return "volume-list";
        }

        @Override
        String table(JsonNode volumes) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"NAME", "TYPE", "SIZE", "PATH", "EXPORTED AS"});
            for (JsonNode v : volumes) {
                List<String> as = new ArrayList<>();
                for (JsonNode e : v.path("exported_as")) {
                    as.add(e.path("target").asText() + " lun " + e.path("lun").asInt());
                }
                rows.add(new String[] {v.path("name").asText(), v.path("type").asText()
                        + (v.path("read_only").asBoolean() ? " (ro)" : ""), ConnectHelp.human(v.path("size").asLong()),
                    v.path("path").asText(), as.isEmpty() ? "-" : String.join(", ", as)});
            }
            return rows.size() == 1 ? "no volumes\n" : Tables.render(rows);
        }
    }

    @Command(name = "show", description = "One volume, with its clone status if it is a clone.")
    static final class VolumeShow extends Query {
        @Parameters(paramLabel = "NAME", description = "The volume.")
        String volume;

        @Override
        String command() {
            return "volume-show";
        }

        @Override
        String name() {
            return volume;
        }

        @Override
        String table(JsonNode v) {
            return fields(v);
        }
    }

    @Command(name = "target", description = "The targets of a running server.",
            subcommands = {ChangeCommands.TargetCreate.class, TargetList.class, TargetShow.class,
                ChangeCommands.TargetDelete.class})
    static final class Target implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    @Command(name = "list", description = "One line per target: IQN, LUNs, access control, sessions.")
    static final class TargetList extends Query {
        @Override
        String command() {
            return "target-list";
        }

        @Override
        String table(JsonNode targets) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"IQN", "LUNS", "INITIATORS", "CHAP", "SESSIONS"});
            for (JsonNode t : targets) {
                List<String> luns = new ArrayList<>();
                for (JsonNode l : t.path("luns")) {
                    luns.add(l.path("lun").asInt() + "=" + l.path("volume").asText());
                }
                int allowed = t.path("allowed_initiators").size();
                rows.add(new String[] {t.path("iqn").asText(), luns.isEmpty() ? "-" : String.join(" ", luns),
                    allowed == 0 ? "any" : Integer.toString(allowed), t.path("chap_user").isNull() ? "-"
                        : t.path("chap_user").asText(), t.path("sessions").asText()});
            }
            return rows.size() == 1 ? "no targets\n" : Tables.render(rows);
        }
    }

    @Command(name = "show", description = "One target: LUN map, allowed initiators, CHAP users (never secrets).")
    static final class TargetShow extends Query {
        @Parameters(paramLabel = "IQN", description = "The target.")
        String iqn;

        @Override
        String command() {
            return "target-show";
        }

        @Override
        String name() {
            return iqn;
        }

        @Override
        String table(JsonNode t) {
            return fields(t);
        }
    }

    /** A document as "key  value" lines; nested objects and arrays flattened with dotted keys. */
    static String fields(JsonNode node) {
        List<String[]> rows = new ArrayList<>();
        flatten("", node, rows);
        return Tables.render(rows);
    }

    private static void flatten(String prefix, JsonNode node, List<String[]> rows) {
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), rows);
            }
        } else if (node.isArray()) {
            if (node.isEmpty()) {
                rows.add(new String[] {prefix, "-"});
            }
            for (int i = 0; i < node.size(); i++) {
                flatten(prefix + "[" + i + "]", node.get(i), rows);
            }
        } else {
            rows.add(new String[] {prefix, node.isNull() ? "-" : node.asText()});
        }
    }
}
