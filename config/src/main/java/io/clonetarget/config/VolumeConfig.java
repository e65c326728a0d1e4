package io.clonetarget.config;

/**
 * A volume: what a LUN stores its blocks in.
 *
 * @param name unique name that LUNs refer to
 * @param type file or clone
 * @param path the file (type file) or the clone's destination file (type clone)
 * @param size for a file that does not exist yet: create it sparse with this size
 * @param blockSize logical block size, 512 or 4096
 * @param readOnly expose write-protected
 * @param source a clone's source: a file, a block device or an http(s) URL
 * @param metadata a clone's metadata file (default: the destination plus {@code .meta})
 * @param regionSize a clone's region size, a power of two from 4K to 1G
 * @param hydration background hydration knobs
 * @param discardPassdown punch holes in the destination on discard
 * @param overwriteDestination a clone whose destination exists without valid metadata starts a
 *     new clone over it (by default such a clone is refused); valid metadata is always opened
 * @param snapshots snapshots of this volume ({@code [volume.snapshots]}); null: none
 */
public record VolumeConfig(String name, VolumeType type, String path, ByteSize size, Integer blockSize,
                           Boolean readOnly, String source, String metadata, ByteSize regionSize,
                           HydrationConfig hydration, Boolean discardPassdown, Boolean overwriteDestination,
                           SnapshotsConfig snapshots) {
    public static final long DEFAULT_REGION_SIZE = 64 * 1024;
    /** A clone source that is a snapshot of another volume: {@code snapshot:VOLUME@SNAPSHOT}. */
    public static final String SNAPSHOT_SOURCE = "snapshot:";

    public VolumeConfig {
        type = type == null ? VolumeType.FILE : type;
        blockSize = blockSize == null ? 512 : blockSize;
        readOnly = readOnly != null && readOnly;
        if (type == VolumeType.CLONE) {
            regionSize = regionSize == null ? ByteSize.ofBytes(DEFAULT_REGION_SIZE) : regionSize;
            hydration = hydration == null ? HydrationConfig.defaults() : hydration;
            discardPassdown = discardPassdown == null || discardPassdown;
            metadata = metadata == null && path != null ? path + ".meta" : metadata;
            overwriteDestination = overwriteDestination != null && overwriteDestination;
        }
    }

    /** A volume without snapshots. */
    public VolumeConfig(String name, VolumeType type, String path, ByteSize size, Integer blockSize, Boolean readOnly,
                        String source, String metadata, ByteSize regionSize, HydrationConfig hydration,
                        Boolean discardPassdown, Boolean overwriteDestination) {
        this(name, type, path, size, blockSize, readOnly, source, metadata, regionSize, hydration, discardPassdown,
                overwriteDestination, null);
    }

    /** The same volume with snapshots (null: without). */
    public VolumeConfig withSnapshots(SnapshotsConfig s) {
        return new VolumeConfig(name, type, path, size, blockSize, readOnly, source, metadata, regionSize, hydration,
                discardPassdown, overwriteDestination, s);
    }

    /** A volume that does not overwrite a clone's destination. */
    public VolumeConfig(String name, VolumeType type, String path, ByteSize size, Integer blockSize, Boolean readOnly,
                        String source, String metadata, ByteSize regionSize, HydrationConfig hydration,
                        Boolean discardPassdown) {
        this(name, type, path, size, blockSize, readOnly, source, metadata, regionSize, hydration, discardPassdown,
                null);
    }

    /** A plain file volume. */
    public static VolumeConfig file(String name, String path, ByteSize size) {
        return new VolumeConfig(name, VolumeType.FILE, path, size, null, null, null, null, null, null, null);
    }

    /** A clone volume with default knobs. */
    public static VolumeConfig clone(String name, String source, String dest, ByteSize regionSize) {
        return new VolumeConfig(name, VolumeType.CLONE, dest, null, null, null, source, null, regionSize, null, null);
    }
}
