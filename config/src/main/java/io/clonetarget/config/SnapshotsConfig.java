package io.clonetarget.config;

/**
 * Snapshots of a volume ({@code [volume.snapshots]}): the volume's writes then go through
 * copy-on-write, and {@code clonetarget snapshot create VOLUME@NAME} works on it. Its difference
 * storage and snapshot metadata live in {@code STATE-DIR/snapshots/VOLUME/}.
 *
 * @param limit the most difference storage the volume's snapshots may use (default: the
 *     volume's size); when it is full, the snapshots that would lose data fail, never the volume
 * @param chunkSize the copy-on-write unit, a power of two from 16K to 1M (default 64K); fixed
 *     once the volume's snapshot store exists
 * @param lowSpacePercent a low-space event (log line, status, metric) when less than this share
 *     of the limit is free (default 10)
 */
public record SnapshotsConfig(ByteSize limit, ByteSize chunkSize, Integer lowSpacePercent) {
    public static final long DEFAULT_CHUNK = 64 * 1024;

    public SnapshotsConfig {
        chunkSize = chunkSize == null ? ByteSize.ofBytes(DEFAULT_CHUNK) : chunkSize;
        lowSpacePercent = lowSpacePercent == null ? 10 : lowSpacePercent;
    }

    public static SnapshotsConfig defaults() {
        return new SnapshotsConfig(null, null, null);
    }
}
