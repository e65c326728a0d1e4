package io.clonetarget.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * Reads and writes configuration files (TOML, kebab-case keys).
 *
 * <p>Reading parses the TOML to a tree, migrates the tree to the current schema
 * ({@link ConfigSchema}), binds it to the records ({@link ConfigBinder}), lets
 * {@link ConfigValidator} check values and references, and optionally runs a {@link ConfigCheck}
 * against the machine; every problem of all of them is reported at once, each with its field
 * path and line ({@link TomlLines}). Writing ({@link #save}) is verified and atomic: the text
 * must read back to the configuration given, and a temporary file in the same directory is
 * written and fsynced, renamed over the old file, and the directory is fsynced, so a crash
 * leaves either the old or the new file, never a mix.
 */
public final class ConfigFiles {
    /** Serializes saves in this process, so that one never removes the temporary file of another. */
    private static final ReentrantLock SAVING = new ReentrantLock();
    private static final SecureRandom RANDOM = new SecureRandom();
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
     * <p>A file of a newer schema, or with a {@code version} that is not a schema version, is
     * refused with that one problem, since the rest of it may mean something else; a file of an
     * older schema is migrated first ({@link ConfigSchema}).
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

    /**
     * Writes the configuration atomically, after checking that what is written reads back.
     *
     * <p>Before anything is written, the configuration must validate ({@link ConfigValidator})
     * and the text {@link #format} makes of it must parse back ({@link #parse}) to an equal
     * configuration; otherwise nothing is written and an {@link IOException} names the problem.
     * Then a temporary file {@code .NAME.<16 hex>.tmp} is written next to the file, with the old
     * file's permissions (a new file: {@code rw-------}), fsynced, read back and compared,
     * renamed over the file, and the directory is fsynced. So the file is at every moment the old
     * one or the new one, complete: a crash (or kill) can leave only a temporary file, which the
     * next save of the same file removes. Saves in one process are serialized; two processes
     * must not save one file at once (the later save may fail, never mixing the two).
     *
     * @throws IOException when the configuration is not valid, its text would not read back
     *     equal, or the file system fails; the old file is then as it was
     */
    public static void save(Path file, ServerConfig config) throws IOException {
        byte[] bytes = verified(file, config);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        String name = file.getFileName().toString();
        SAVING.lock();
        try {
            removeTemporaries(dir, name);
            Path tmp = dir.resolve("." + name + "." + HexFormat.of().toHexDigits(RANDOM.nextLong()) + ".tmp");
            try {
                write(tmp, bytes, permissions(file));
                if (!Arrays.equals(Files.readAllBytes(tmp), bytes)) {
                    throw new IOException("not saving " + file + ": the temporary file " + tmp
                            + " does not hold what was written to it");
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
        } finally {
            SAVING.unlock();
        }
    }

    /** The bytes to save: the configuration's text, once it is known to validate and read back equal. */
    private static byte[] verified(Path file, ServerConfig config) throws IOException {
        List<String> invalid = ConfigValidator.validate(config);
        if (!invalid.isEmpty()) {
            throw new IOException("not saving " + file + ": the configuration is not valid: "
                    + String.join("; ", invalid));
        }
        String text = format(config);
        byte[] bytes;
        try {
            ByteBuffer encoded = StandardCharsets.UTF_8.newEncoder().encode(CharBuffer.wrap(text));
            bytes = Arrays.copyOfRange(encoded.array(), encoded.arrayOffset() + encoded.position(),
                    encoded.arrayOffset() + encoded.limit());
        } catch (CharacterCodingException e) {
            throw new IOException("not saving " + file + ": its text is not valid Unicode (a string holds a lone"
                    + " surrogate)", e);
        }
        ServerConfig back;
        try {
            back = parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
        } catch (ConfigException e) {
            throw new IOException("not saving " + file + ": the text to be written does not read back: "
                    + String.join("; ", e.problems()), e);
        }
        String difference = difference("", config, back);
        if (difference != null) {
            throw new IOException("not saving " + file + ": the text to be written reads back different: " + difference);
        }
        return bytes;
    }

    /**
     * Where two configurations (or parts of them) differ, as {@code path: would read back as X,
     * not Y}, by record component and list element; null when they are equal. Secrets are not
     * shown.
     */
    private static String difference(String path, Object given, Object back) {
        if (Objects.equals(given, back)) {
            return null;
        }
        boolean section = given instanceof Record && !(given instanceof Interval) && !(given instanceof ByteSize);
        if (section && back != null && given.getClass() == back.getClass()) {
            for (RecordComponent c : given.getClass().getRecordComponents()) {
                try {
                    String at = path.isEmpty() ? ConfigBinder.key(c) : path + "." + ConfigBinder.key(c);
                    String d = difference(at, c.getAccessor().invoke(given), c.getAccessor().invoke(back));
                    if (d != null) {
                        return d;
                    }
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        if (given instanceof List<?> a && back instanceof List<?> b && a.size() == b.size()) {
            for (int i = 0; i < a.size(); i++) {
                String d = difference(path + "[" + i + "]", a.get(i), b.get(i));
                if (d != null) {
                    return d;
                }
            }
        }
        if (path.contains("secret")) {
            return path + ": the secret would read back different";
        }
        return path + ": would read back as " + shown(back) + ", not " + shown(given);
    }

    /** A value for a message; durations exactly, since their text form rounds to milliseconds. */
    private static String shown(Object value) {
        return value instanceof Interval i ? i.duration().toString() : String.valueOf(value);
    }

    /** Removes what saves of {@code name} that did not finish left behind (also those of older versions). */
    private static void removeTemporaries(Path dir, String name) throws IOException {
        Pattern temporary = Pattern.compile("\\." + Pattern.quote(name) + "\\.([0-9a-f]{16}|[0-9]+)\\.tmp");
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir,
                p -> temporary.matcher(p.getFileName().toString()).matches())) {
            for (Path stale : entries) {
                Files.deleteIfExists(stale);
            }
        }
    }

    /** The permissions a new file gets: those of the file it replaces, else owner read and write. */
    private static Set<PosixFilePermission> permissions(Path file) throws IOException {
        if (!file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return null;
        }
        try {
            return Files.getPosixFilePermissions(file);
        } catch (NoSuchFileException e) {
            return PosixFilePermissions.fromString("rw-------");
        }
    }

    private static void write(Path tmp, byte[] bytes, Set<PosixFilePermission> mode) throws IOException {
        Set<OpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try (FileChannel ch = mode == null ? FileChannel.open(tmp, options)
                : FileChannel.open(tmp, options, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rw-------")))) {
            if (mode != null) {
                Files.setPosixFilePermissions(tmp, mode); // exactly, whatever the umask
            }
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
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
