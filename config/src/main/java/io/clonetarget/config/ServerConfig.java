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
 * [admin]             the HTTPS admin API: listen address, public metrics
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
        @JsonProperty("target") List<TargetConfig> targets,
        AdminSection admin) {

    public ServerConfig {
        server = server == null ? ServerSection.defaults() : server;
        admin = admin == null ? AdminSection.defaults() : admin;
        iscsi = iscsi == null ? IscsiSection.defaults() : iscsi;
        volumes = volumes == null ? List.of() : List.copyOf(volumes);
        targets = targets == null ? List.of() : List.copyOf(targets);
    }

    /** Without {@code [admin]}: the admin API's defaults. */
    public ServerConfig(ServerSection server, IscsiSection iscsi, ChapConfig discovery, List<VolumeConfig> volumes,
                        List<TargetConfig> targets) {
        this(server, iscsi, discovery, volumes, targets, null);
    }

    /** The same configuration with another {@code [server]} section (command-line overrides). */
    public ServerConfig withServer(ServerSection section) {
        return new ServerConfig(section, iscsi, discovery, volumes, targets, admin);
    }

    /** The same configuration with another {@code [admin]} section. */
    public ServerConfig withAdmin(AdminSection section) {
        return new ServerConfig(server, iscsi, discovery, volumes, targets, section);
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
