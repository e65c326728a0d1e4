package io.clonetarget.config;

import java.util.List;

/** A configuration that cannot be used; each problem names its field. */
public final class ConfigException extends Exception {
    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super(source + ": " + (problems.size() == 1 ? problems.getFirst()
                : problems.size() + " problems:\n  " + String.join("\n  ", problems)));
        this.problems = List.copyOf(problems);
    }

    /** Each problem as {@code field.path: message}. */
    public List<String> problems() {
        return problems;
    }
}
