package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The whole configuration of a server, as one TOML file:
 *
 * <pre>
 * version = 2         the schema version (a file without one is version 1, read and migrated)
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
        Integer version,
        ServerSection server,
        IscsiSection iscsi,
        ChapConfig discovery,
        @JsonProperty("volume") List<VolumeConfig> volumes,
        @JsonProperty("target") List<TargetConfig> targets,
        AdminSection admin) {

    /** The schema this code writes; older files are migrated when read ({@code ConfigSchema}). */
    public static final int SCHEMA_VERSION = 2;

    public ServerConfig {
        version = version == null ? SCHEMA_VERSION : version;
        server = server == null ? ServerSection.defaults() : server;
        admin = admin == null ? AdminSection.defaults() : admin;
        iscsi = iscsi == null ? IscsiSection.defaults() : iscsi;
        volumes = volumes == null ? List.of() : List.copyOf(volumes);
        targets = targets == null ? List.of() : List.copyOf(targets);
    }

    /** Without {@code [admin]}: the admin API's defaults. */
    public ServerConfig(ServerSection server, IscsiSection iscsi, ChapConfig discovery, List<VolumeConfig> volumes,
                        List<TargetConfig> targets) {
        this(null, server, iscsi, discovery, volumes, targets, null);
    }

    /** With every section; the current schema version. */
    public ServerConfig(ServerSection server, IscsiSection iscsi, ChapConfig discovery, List<VolumeConfig> volumes,
                        List<TargetConfig> targets, AdminSection admin) {
        this(null, server, iscsi, discovery, volumes, targets, admin);
    }

    /** The same configuration with another {@code [server]} section (command-line overrides). */
    public ServerConfig withServer(ServerSection section) {
        return new ServerConfig(version, section, iscsi, discovery, volumes, targets, admin);
    }

    /** The same configuration with another {@code [admin]} section. */
    public ServerConfig withAdmin(AdminSection section) {
        return new ServerConfig(version, server, iscsi, discovery, volumes, targets, section);
    }

    /** The same configuration with other volumes and targets. */
    public ServerConfig withInventory(List<VolumeConfig> volumeList, List<TargetConfig> targetList) {
        return new ServerConfig(version, server, iscsi, discovery, volumeList, targetList, admin);
    }

    /** The same configuration with other discovery credentials (null: none). */
    public ServerConfig withDiscovery(ChapConfig chap) {
        return new ServerConfig(version, server, iscsi, chap, volumes, targets, admin);
    }

    /** The target with this name, or null. */
    public TargetConfig target(String iqn) {
        for (TargetConfig t : targets) {
            if (t.iqn().equals(iqn)) {
                return t;
            }
        }
        return null;
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
