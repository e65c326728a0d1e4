package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * An iSCSI target node.
 *
 * @param iqn the target name ({@code iqn.YYYY-MM.reversed.domain[:id]}, {@code eui.} or {@code naa.})
 * @param allowedInitiators initiator names that may log in; empty: everyone
 * @param chap credentials initiators must prove (optional)
 * @param luns the target's logical units
 */
public record TargetConfig(String iqn, String alias, List<String> allowedInitiators, ChapConfig chap,
                           @JsonProperty("lun") List<LunConfig> luns) {
    public TargetConfig {
        allowedInitiators = allowedInitiators == null ? List.of() : List.copyOf(allowedInitiators);
        luns = luns == null ? List.of() : List.copyOf(luns);
    }
}
