package io.clonetarget.server;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.clonetarget.config.ConfigChange;
import java.util.List;

/**
 * What applying a desired configuration did, or would do: the plan, what stands in its way, and
 * what it does to sessions.
 *
 * @param applied whether the running state is now the desired one (false for a dry run, a plan
 *     with refusals, or nothing to do)
 * @param dryRun whether only the plan was asked for
 * @param changes the plan, one entry per difference
 * @param refusals why the plan cannot be applied: changes that cannot be made live, and those
 *     that need {@code --force} when it was not given (then {@code forceable})
 * @param effects what the plan does beyond the configuration: sessions asked to log out, sessions
 *     told their LUNs changed
 */
public record ApplyResult(boolean applied, boolean dryRun, List<ConfigChange> changes, List<Refusal> refusals,
                          List<String> effects) {
    /**
     * One reason the plan cannot be applied.
     *
     * @param subject what it is about ({@code lun 3 of iqn...}, {@code volume c region-size})
     * @param reason why
     * @param forceable whether {@code --force} overrides it
     */
    public record Refusal(String subject, String reason, boolean forceable) {
        @Override
        public String toString() {
            return subject + ": " + reason + (forceable ? " (use --force)" : "");
        }
    }

    public ApplyResult {
        changes = List.copyOf(changes);
        refusals = List.copyOf(refusals);
        effects = List.copyOf(effects);
    }

    /** The plan as readable lines. */
    @JsonProperty("plan")
    public List<String> plan() {
        return changes.stream().map(ConfigChange::describe).toList();
    }
}
