package io.clonetarget.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.util.List;
import java.util.function.Consumer;

/**
 * Schema versions of the configuration file and the migration of older ones, applied to the
 * parsed TOML tree before it is bound to the records ({@link ConfigFiles#parse}).
 *
 * <p>The top-level {@code version} key says which schema a file is written in; a file without
 * one is schema 1 (files written before the key existed). A file is migrated one step at a time
 * up to {@link ServerConfig#SCHEMA_VERSION}, in memory: reading never changes the file, and
 * whatever saves a configuration ({@link ConfigFiles#save}) writes the current schema. A file
 * of a newer schema than this code knows, or whose version is not a schema version at all, is
 * refused before anything else of it is read, since its keys may mean something else.
 *
 * <p>To change the schema: raise {@link ServerConfig#SCHEMA_VERSION}, change the records, and
 * append a {@link Step} from the old version that rewrites old trees into the new form (renames,
 * moves, new meanings of old values). The version itself is stamped after each step.
 */
final class ConfigSchema {
    /** The oldest schema that can be read: files without a {@code version}. */
    static final int OLDEST = 1;
    /** The schema of the records, and of every file written. */
    static final int CURRENT = ServerConfig.SCHEMA_VERSION;

    /**
     * One migration step, from schema {@code from} to {@code from + 1}.
     *
     * @param from the schema the step reads
     * @param change what the newer schema changes, for the reader of this code
     * @param apply rewrites a tree of schema {@code from} in place, except its {@code version}
     */
    record Step(int from, String change, Consumer<ObjectNode> apply) {
    }

    /** The steps, oldest first: the one at index {@code i} migrates schema {@code OLDEST + i}. */
    static final List<Step> STEPS = List.of(
            new Step(1, "adds the version key, allowed-networks and per-initiator LUN maps ([[target.initiator]]) to "
                    + "[[target]]; no key of schema 1 changes its meaning, so a schema-1 tree is already a schema-2 "
                    + "one", tree -> {
                    }));

    static {
        for (int i = 0; i < STEPS.size(); i++) {
            if (STEPS.get(i).from() != OLDEST + i) {
                throw new ExceptionInInitializerError("migration step " + i + " reads schema " + STEPS.get(i).from()
                        + ", expected " + (OLDEST + i));
            }
        }
        if (OLDEST + STEPS.size() != CURRENT) {
            throw new ExceptionInInitializerError("the migration steps end at schema " + (OLDEST + STEPS.size())
                    + ", but the records are schema " + CURRENT);
        }
    }

    /**
     * The outcome of {@link #migrate}.
     *
     * @param tree the tree in the current schema, with {@code version} set; null when there are problems
     * @param from the schema the file was written in; 0 when it could not be told
     * @param problems what stopped the migration, each as {@code version: message}
     */
    record Migration(JsonNode tree, int from, List<String> problems) {
    }

    private ConfigSchema() {
    }

    /** Migrates a parsed tree to the current schema; {@code parsed} itself is left as it is. */
    static Migration migrate(JsonNode parsed) {
        if (!(parsed instanceof ObjectNode original)) {
            return new Migration(parsed, OLDEST, List.of()); // not a table: the binder says so
        }
        JsonNode v = original.get("version");
        int from;
        if (v == null) {
            from = OLDEST;
        } else if (!v.isIntegralNumber()) {
            return refused("version: expected a whole number (the schema version, " + OLDEST + " to " + CURRENT
                    + "), got " + ConfigBinder.describe(v));
        } else if (v.bigIntegerValue().compareTo(BigInteger.valueOf(CURRENT)) > 0) {
            return refused("version: " + v.bigIntegerValue() + " is newer than this clonetarget reads (schema "
                    + OLDEST + " to " + CURRENT + "); upgrade clonetarget");
        } else if (v.bigIntegerValue().compareTo(BigInteger.valueOf(OLDEST)) < 0) {
            return refused("version: " + v.bigIntegerValue() + " is not a schema version (" + OLDEST + " to " + CURRENT
                    + ")");
        } else {
            from = v.intValue();
        }
        ObjectNode tree = original.deepCopy();
        for (int version = from; version < CURRENT; version++) {
            STEPS.get(version - OLDEST).apply().accept(tree);
            tree.put("version", version + 1);
        }
        return new Migration(tree, from, List.of());
    }

    private static Migration refused(String problem) {
        return new Migration(null, 0, List.of(problem));
    }
}
