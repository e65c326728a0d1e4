package io.clonetarget.storage.clone;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The read-only image a clone copies from. Implementations are thread-safe: the hydrator and
 * user reads call {@link #read} concurrently.
 */
public interface CloneSource extends Closeable {
    /** Size in bytes. */
    long size();

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset} (inside the source).
     *
     * @throws io.clonetarget.storage.device.MediumErrorException when the source cannot be read
     *     now (retried later by hydration)
     * @throws SourceChangedException when the source is no longer the one recorded
     */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * What identifies this version of the source, as {@code key=value} lines: kind, location,
     * size and a version (modification time and inode, or ETag and Last-Modified). Recorded in
     * the clone's superblock when it is created.
     */
    String descriptor();

    /**
     * Refuses, with {@link SourceChangedException}, a source that is not the one described by
     * {@code recorded} (a descriptor from an earlier {@link #descriptor()}).
     */
    void checkSame(String recorded) throws IOException;

    String describe();

    /**
     * Copies {@code length} bytes at {@code offset} into {@code dest} at the same offset without
     * a buffer, where the source and the destination allow it.
     *
     * @return false when it cannot (the caller reads and writes through a buffer)
     */
    default boolean copyTo(io.clonetarget.storage.device.BlockDevice dest, long offset, long length)
            throws IOException {
        return false;
    }

    /** Parses a descriptor into its keys. */
    static Map<String, String> parseDescriptor(String descriptor) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String line : descriptor.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                map.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return map;
    }

    /** Formats keys as a descriptor. */
    static String formatDescriptor(Map<String, String> keys) {
        StringBuilder sb = new StringBuilder();
        keys.forEach((k, v) -> {
            if (v != null) {
                sb.append(k).append('=').append(v.replace("\n", " ")).append('\n');
            }
        });
        return sb.toString();
    }
}
