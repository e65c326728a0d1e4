package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * An iSCSI target node.
 *
 * @param iqn the target name ({@code iqn.YYYY-MM.reversed.domain[:id]}, {@code eui.} or {@code naa.})
 * @param allowedInitiators initiator names that may log in; empty: every name
 * @param allowedNetworks source networks ({@code 192.0.2.0/24}, {@code fd00::/8}, a single address)
 *     initiators may log in from; empty: every address
 * @param chap credentials initiators must prove (optional)
 * @param luns the default LUN map: what an initiator without its own map sees
 * @param initiators initiators with their own LUN map ({@code [[target.initiator]]}), which they see
 *     instead of the default one
 */
public record TargetConfig(String iqn, String alias, List<String> allowedInitiators, List<String> allowedNetworks,
                           ChapConfig chap, @JsonProperty("lun") List<LunConfig> luns,
                           @JsonProperty("initiator") List<InitiatorConfig> initiators) {
    public TargetConfig {
        allowedInitiators = allowedInitiators == null ? List.of() : List.copyOf(allowedInitiators);
        allowedNetworks = allowedNetworks == null ? List.of() : List.copyOf(allowedNetworks);
        luns = luns == null ? List.of() : List.copyOf(luns);
        initiators = initiators == null ? List.of() : List.copyOf(initiators);
    }

    /** A target with one LUN map for everyone and no network restriction. */
    public TargetConfig(String iqn, String alias, List<String> allowedInitiators, ChapConfig chap, List<LunConfig> luns) {
        this(iqn, alias, allowedInitiators, null, chap, luns, null);
    }

    /** The initiator's own map entry, or null when it sees the default map. */
    public InitiatorConfig initiator(String name) {
        for (InitiatorConfig i : initiators) {
            if (i.name().equals(name)) {
                return i;
            }
        }
        return null;
    }

    public TargetConfig withLuns(List<LunConfig> map) {
        return new TargetConfig(iqn, alias, allowedInitiators, allowedNetworks, chap, map, initiators);
    }

    public TargetConfig withInitiators(List<InitiatorConfig> list) {
        return new TargetConfig(iqn, alias, allowedInitiators, allowedNetworks, chap, luns, list);
    }

    public TargetConfig withAccess(List<String> names, List<String> networks) {
        return new TargetConfig(iqn, alias, names, networks, chap, luns, initiators);
    }

    public TargetConfig withChap(ChapConfig credentials) {
        return new TargetConfig(iqn, alias, allowedInitiators, allowedNetworks, credentials, luns, initiators);
    }
}
