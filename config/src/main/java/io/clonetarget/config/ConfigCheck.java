package io.clonetarget.config;

import java.util.List;

/**
 * A check of a configuration against the machine it is meant for (files, directories,
 * permissions), beyond its values: what a server would fail on at start.
 */
@FunctionalInterface
public interface ConfigCheck {
    /** No checks. */
    ConfigCheck NONE = config -> List.of();

    /** Every problem found, each as {@code field.path: message}. */
    List<String> problems(ServerConfig config);

    /** This check and then {@code next}, their problems together. */
    default ConfigCheck and(ConfigCheck next) {
        return config -> {
            List<String> all = new java.util.ArrayList<>(problems(config));
            all.addAll(next.problems(config));
            return all;
        };
    }
}
