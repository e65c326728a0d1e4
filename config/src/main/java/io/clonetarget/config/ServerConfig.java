package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The whole configuration of a server, as one TOML file:
 *
 * <pre>
 * [server]            listen addresses, state directory, threads, timeouts
 * [iscsi]             negotiation defaults
 * [discovery]         CHAP for discovery sessions (optional)
 * [[volume]]          files and clones that LUNs are made of
 * [[target]]          targets, each with [[target.lun]] entries naming volumes
 * </pre>
 *
 * Missing sections get their defaults.
 */
public record ServerConfig(
        ServerSection server,
        IscsiSection iscsi,
        ChapConfig discovery,
        @JsonProperty("volume") List<VolumeConfig> volumes,
        @JsonProperty("target") List<TargetConfig> targets) {

    public ServerConfig {
        server = server == null ? ServerSection.defaults() : server;
        iscsi = iscsi == null ? IscsiSection.defaults() : iscsi;
        volumes = volumes == null ? List.of() : List.copyOf(volumes);
        targets = targets == null ? List.of() : List.copyOf(targets);
    }

    /** The volume with this name, or null. */
    public VolumeConfig volume(String name) {
        for (VolumeConfig v : volumes) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        return null;
    }
}
