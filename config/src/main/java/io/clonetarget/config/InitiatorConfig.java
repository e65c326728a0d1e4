package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * An initiator's own LUN map on a target ({@code [[target.initiator]]}): it sees these LUN
 * numbers instead of the target's default map.
 *
 * @param name the initiator's iSCSI name
 * @param luns its map; empty: it sees no LUN
 */
public record InitiatorConfig(String name, @JsonProperty("lun") List<LunConfig> luns) {
    public InitiatorConfig {
        luns = luns == null ? List.of() : List.copyOf(luns);
    }
}
