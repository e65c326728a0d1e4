package io.clonetarget.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes configuration files (TOML, kebab-case keys).
 *
 * <p>Reading parses the TOML to a tree, binds it to the records ({@link ConfigBinder}), lets
 * {@link ConfigValidator} check values and references, and optionally runs a {@link ConfigCheck}
 * against the machine; every problem of all of them is reported at once, each with its field
 * path and line ({@link TomlLines}). Writing is atomic: a temporary file in
 * the same directory is written and fsynced, renamed over the old file, and the directory is
 * fsynced, so a crash leaves either the old or the new file, never a mix.
 */
public final class ConfigFiles {
    private static final TomlMapper MAPPER = TomlMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .build();

    private ConfigFiles() {
    }

    /** Reads and validates a configuration file. */
    public static ServerConfig read(Path file) throws ConfigException, IOException {
        return read(file, ConfigCheck.NONE);
    }

    /** Reads and validates a configuration file, and checks it with {@code check} too. */
    public static ServerConfig read(Path file, ConfigCheck check) throws ConfigException, IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString(), check);
    }

    /** Parses and validates configuration text; {@code source} names it in messages. */
    public static ServerConfig parse(String toml, String source) throws ConfigException {
        return parse(toml, source, ConfigCheck.NONE);
    }

    /**
     * Parses configuration text, validates its values and runs {@code check}; every problem of
     * every step is reported at once, each with its field path and line, in the order of the file.
     *
     * <p>A later step stays silent where an earlier one already found a problem: validation
     * about a field whose value could not be read (or anything below it), and {@code check}
     * about an entry ({@code volume[2]}, {@code target[0]}, {@code server}) that has a problem.
     *
     * @throws ConfigException with every problem found
     */
    public static ServerConfig parse(String toml, String source, ConfigCheck check) throws ConfigException {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(toml);
        } catch (JsonProcessingException e) {
            throw new ConfigException(source, List.of(syntax(e)));
        }
        ConfigSchema.Migration migration = ConfigSchema.migrate(tree);
        if (!migration.problems().isEmpty()) {
            throw located(source, toml, migration.problems());
        }
        ConfigBinder binder = new ConfigBinder();
        ServerConfig config = binder.bind(migration.tree());
        List<String> problems = problems(config, binder.problems(), check);
        if (!problems.isEmpty()) {
            throw located(source, toml, problems);
        }
        return config;
    }

    /** The problems of a text, each with its line, in the order of the file. */
    private static ConfigException located(String source, String toml, List<String> problems) {
        TomlLines lines = TomlLines.of(toml);
        record Located(String problem, int line) {
        }
        List<Located> located = new ArrayList<>();
        for (String p : problems) {
            located.add(new Located(p, lines.lineOf(path(p))));
        }
        located.sort(Comparator.comparingInt(Located::line)); // stable: in file order, each line's in field order
        return new ConfigException(source, located.stream()
                .map(l -> l.line() > 0 ? l.problem() + " (line " + l.line() + ")" : l.problem()).toList());
    }

    /**
     * Validates a configuration made in code (such as the command line's quick form) and runs
     * {@code check}, reporting every problem at once as {@link #parse(String, String, ConfigCheck)}
     * does.
     *
     * @throws ConfigException with every problem found
     */
    public static ServerConfig validate(ServerConfig config, String source, ConfigCheck check) throws ConfigException {
        List<String> problems = problems(config, List.of(), check);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return config;
    }

    private static List<String> problems(ServerConfig config, List<ConfigBinder.Problem> unread, ConfigCheck check) {
        List<String> problems = new ArrayList<>();
        Set<String> unreadable = new HashSet<>();
        for (ConfigBinder.Problem p : unread) {
            problems.add(p.toString());
            unreadable.add(p.path());
        }
        for (String p : ConfigValidator.validate(config)) {
            if (!underAny(path(p), unreadable)) {
                problems.add(p);
            }
        }
        Set<String> flawed = new HashSet<>();
        for (String p : problems) {
            flawed.add(entry(path(p)));
        }
        for (String p : check.problems(config)) {
            if (!flawed.contains(entry(path(p)))) {
                problems.add(p);
            }
        }
        return problems;
    }

    /** The field path a problem starts with ({@code volume[0].size: ...}). */
    private static String path(String problem) {
        int colon = problem.indexOf(": ");
        return colon < 0 ? "" : problem.substring(0, colon);
    }

    /** The top-level entry of a path: {@code volume[2]} of {@code volume[2].hydration.rate}. */
    private static String entry(String path) {
        int dot = path.indexOf('.');
        return dot < 0 ? path : path.substring(0, dot);
    }

    private static boolean underAny(String path, Set<String> roots) {
        for (String root : roots) {
            if (path.equals(root) || path.startsWith(root + ".") || path.startsWith(root + "[")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The configuration as TOML text in the current schema: {@code version = 2} first, then the
     * plain keys, then {@code [server]}, {@code [iscsi]}, {@code [discovery]}, {@code [admin]},
     * the {@code [[volume]]} and the {@code [[target]]} entries with their {@code [[target.lun]]}
     * and {@code [[target.initiator]]} tables ({@link TomlWriter}). Defaults are written out, so
     * the file shows what the server uses.
     */
    public static String format(ServerConfig config) {
        ObjectNode tree = MAPPER.valueToTree(config);
        ObjectNode ordered = MAPPER.createObjectNode();
        ordered.put("version", ServerConfig.SCHEMA_VERSION);
        for (Map.Entry<String, JsonNode> field : tree.properties()) {
            if (!field.getKey().equals("version")) {
                ordered.set(field.getKey(), field.getValue());
            }
        }
        return TomlWriter.write(ordered);
    }

    /** Writes the configuration atomically (see the class description). */
    public static void save(Path file, ServerConfig config) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(StandardCharsets.UTF_8.encode(format(config)));
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + file + " atomically", e);
            }
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A TOML syntax error with its line, without the parser's internals. */
    private static String syntax(JsonProcessingException e) {
        JsonLocation loc = e.getLocation();
        String where = loc != null && loc.getLineNr() > 0 ? " (line " + loc.getLineNr() + ")" : "";
        String message = e.getOriginalMessage();
        if (message != null) {
            int nl = message.indexOf('\n');
            message = nl > 0 ? message.substring(0, nl) : message;
        }
        return "not valid TOML: " + message + where;
    }
}
