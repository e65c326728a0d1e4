package io.clonetarget.storage.clone;

import io.clonetarget.storage.meta.CloneInfo;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What stands in for the source of a fully hydrated clone: the source is not opened at all (it
 * may be gone), and nothing ever reads it, since every region is in the destination.
 */
final class DetachedSource implements CloneSource {
    private final CloneInfo superblock;
    private final String location;

    DetachedSource(CloneInfo superblock) {
        this.superblock = superblock;
        this.location = CloneSource.parseDescriptor(superblock.source()).getOrDefault("location", "?");
    }

    @Override
    public long size() {
        return superblock.targetSize();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        throw new IOException("the source of a fully hydrated clone is detached and never read");
    }

    @Override
    public String descriptor() {
        return superblock.source();
    }

    @Override
    public void checkSame(String recorded) {
        // nothing is read from it: whatever the source is now does not matter
    }

    @Override
    public String describe() {
        return "detached source " + location;
    }

    @Override
    public void close() {
    }
}
