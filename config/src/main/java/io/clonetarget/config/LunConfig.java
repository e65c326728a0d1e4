package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * One LUN of a target: its number and what is behind it, a volume ({@code disk1}) or a snapshot
 * of one ({@code disk1@monday}).
 *
 * @param writable for a snapshot: writes go to its own copies in the difference storage (the
 *     snapshot then no longer shows its point in time); snapshots are read-only by default
 */
public record LunConfig(Integer lun, String volume, Boolean writable) {
    public LunConfig {
        writable = writable != null && writable ? Boolean.TRUE : null;
    }

    public LunConfig(Integer lun, String volume) {
        this(lun, volume, null);
    }

    /** Whether the LUN shows a snapshot ({@code VOLUME@SNAPSHOT}). */
    @JsonIgnore
    public boolean isSnapshot() {
        return volume != null && volume.indexOf('@') >= 0;
    }

    /** The volume's name: before the {@code @} of a snapshot. */
    @JsonIgnore
    public String volumeName() {
        return volume == null || !isSnapshot() ? volume : volume.substring(0, volume.indexOf('@'));
    }

    /** The snapshot's name, or null. */
    @JsonIgnore
    public String snapshotName() {
        return isSnapshot() ? volume.substring(volume.indexOf('@') + 1) : null;
    }

    /** Whether writes are allowed (a writable snapshot). */
    public boolean writeAccess() {
        return writable != null && writable;
    }
}
