package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Binds a parsed TOML tree to the configuration records, collecting every problem instead of
 * stopping at the first.
 *
 * <p>Keys are the records' component names in kebab-case ({@code ioThreads} is {@code io-threads})
 * or what {@link JsonProperty} names them. A key no record has, or a value of the wrong kind,
 * is a problem at its field path ({@code volume[2].hydration.in-flight}); the field is then
 * left out, so the record gets its default and binding goes on. Not thread-safe: one binder per
 * file.
 */
final class ConfigBinder {
    /** Values written as text that are not plain strings, each with its parser. */
    private static final Map<Class<?>, Function<String, ?>> TEXT_VALUES = Map.of(
            VolumeType.class, VolumeType::parse,
            DigestPolicy.class, DigestPolicy::parse);

    /** One problem: the field path and what is wrong with it. */
    record Problem(String path, String message) {
        @Override
        public String toString() {
            return path + ": " + message;
        }
    }

    private final List<Problem> problems = new ArrayList<>();

    /** The configuration in {@code root}; defaults wherever a problem was found. */
    ServerConfig bind(JsonNode root) {
        ServerConfig config = root == null || root.isMissingNode() || root.isNull() ? null
                : (ServerConfig) record(root, ServerConfig.class, "");
        return config != null ? config : new ServerConfig(null, null, null, null, null);
    }

    /** Every problem found so far, in the order of the file. */
    List<Problem> problems() {
        return List.copyOf(problems);
    }

    private Object value(JsonNode node, Type type, String path) {
        Class<?> raw = type instanceof ParameterizedType p ? (Class<?>) p.getRawType() : (Class<?>) type;
        if (raw == String.class) {
            return node.isTextual() ? node.textValue() : wrong(path, "text", node);
        }
        if (raw == Integer.class) {
            return integer(node, path);
        }
        if (raw == Boolean.class) {
            return node.isBoolean() ? node.booleanValue() : wrong(path, "true or false", node);
        }
        if (raw == ByteSize.class) {
            return converted(node, path, "a size such as 512, \"64K\" or \"1.5G\"", ByteSize::parse, ByteSize::of);
        }
        if (raw == Interval.class) {
            return converted(node, path, "a duration such as \"500ms\", \"15s\" or \"2m\"", Interval::parse,
                    Interval::of);
        }
        if (TEXT_VALUES.containsKey(raw)) {
            return converted(node, path, "text", TEXT_VALUES.get(raw), null);
        }
        if (raw == List.class) {
            return list(node, ((ParameterizedType) type).getActualTypeArguments()[0], path);
        }
        if (raw.isRecord()) {
            return record(node, raw, path);
        }
        throw new IllegalStateException("no binding for " + type + " at " + path);
    }

    private Object integer(JsonNode node, String path) {
        if (!node.isIntegralNumber()) {
            return wrong(path, "a whole number", node);
        }
        if (!node.canConvertToInt()) {
            return problem(path, node.asText() + " is too large (at most " + Integer.MAX_VALUE + ")");
        }
        return node.intValue();
    }

    private Object converted(JsonNode node, String path, String expected, Function<String, ?> fromText,
                             Function<Number, ?> fromNumber) {
        try {
            if (node.isTextual()) {
                return fromText.apply(node.textValue());
            }
            if (node.isNumber() && fromNumber != null) {
                return fromNumber.apply(node.numberValue());
            }
        } catch (IllegalArgumentException e) {
            return problem(path, e.getMessage());
        }
        return wrong(path, expected, node);
    }

    private List<Object> list(JsonNode node, Type element, String path) {
        if (!node.isArray()) {
            wrong(path, "a list [ ... ]", node);
            return null;
        }
        List<Object> values = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String at = path + "[" + i + "]";
            Object v = value(node.get(i), element, at);
            if (v == null) {
                // a stand-in keeps the positions of the later elements, which messages name
                v = element == String.class ? node.get(i).asText() : defaults((Class<?>) element, at);
            }
            if (v != null) {
                values.add(v);
            }
        }
        return values;
    }

    private Object record(JsonNode node, Class<?> type, String path) {
        if (!node.isObject()) {
            return wrong(path, "a table", node);
        }
        RecordComponent[] components = type.getRecordComponents();
        Map<String, Integer> index = new LinkedHashMap<>();
        for (int i = 0; i < components.length; i++) {
            index.put(key(components[i]), i);
        }
        Object[] args = new Object[components.length];
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String at = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
            Integer i = index.get(field.getKey());
            if (i == null) {
                problem(at, "unknown key; known keys: " + String.join(", ", index.keySet().stream().sorted().toList()));
            } else {
                args[i] = value(field.getValue(), components[i].getGenericType(), at);
            }
        }
        return construct(type, args, path);
    }

    /** A record with every component left out: its defaults. */
    private Object defaults(Class<?> type, String path) {
        return construct(type, new Object[type.getRecordComponents().length], path);
    }

    private Object construct(Class<?> type, Object[] args, String path) {
        RecordComponent[] components = type.getRecordComponents();
        try {
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
            }
            Constructor<?> canonical = type.getDeclaredConstructor(types);
            return canonical.newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof IllegalArgumentException bad) {
                return problem(path, bad.getMessage());
            }
            throw new IllegalStateException("cannot make " + type.getSimpleName() + " at " + path, e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot make " + type.getSimpleName() + " at " + path, e);
        }
    }

    /** The TOML key of a record component. */
    static String key(RecordComponent component) {
        JsonProperty named = component.getAccessor().getAnnotation(JsonProperty.class);
        if (named != null && !named.value().isEmpty()) {
            return named.value();
        }
        StringBuilder sb = new StringBuilder();
        for (char c : component.getName().toCharArray()) {
            if (Character.isUpperCase(c)) {
                sb.append('-').append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private Object wrong(String path, String expected, JsonNode got) {
        return problem(path, "expected " + expected + ", got " + describe(got));
    }

    private Object problem(String path, String message) {
        problems.add(new Problem(path, message));
        return null;
    }

    /** A value as the user wrote it, short: {@code "four"}, {@code 4.5}, {@code a table}. */
    static String describe(JsonNode node) {
        if (node.isTextual()) {
            String t = node.textValue();
            return "\"" + (t.length() > 40 ? t.substring(0, 40) + "..." : t) + "\"";
        }
        if (node.isArray()) {
            return "a list";
        }
        if (node.isObject()) {
            return "a table";
        }
        if (node.isFloatingPointNumber() && Double.isFinite(node.doubleValue())) {
            String t = node.decimalValue().toPlainString();
            return t.contains(".") ? t : t + ".0"; // a float as a float: 2.0, not 2
        }
        return node.asText();
    }
}
