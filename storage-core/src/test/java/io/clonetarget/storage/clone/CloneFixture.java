package io.clonetarget.storage.clone;

import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.PatternSource;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;

/** A clone over recording devices and a pattern source, for tests. */
final class CloneFixture implements AutoCloseable {
    final Journal journal = new Journal();
    final PatternSource source;
    final RecordingBlockDevice dest;
    final RecordingBlockDevice meta;
    final CloneVolume.Settings settings;
    CloneVolume volume;

    CloneFixture(long size, long region, boolean hydrateOnRead, HydrationSettings hydration) throws IOException {
        this(size, region, hydrateOnRead, hydration, io.clonetarget.storage.time.Clock.SYSTEM);
    }

    CloneFixture(long size, long region, boolean hydrateOnRead, HydrationSettings hydration,
                 io.clonetarget.storage.time.Clock clock) throws IOException {
        this.source = new PatternSource(size, 7);
        this.dest = new RecordingBlockDevice("dest", journal, size, 512);
        this.meta = new RecordingBlockDevice("meta", journal, CloneVolume.metadataBytes(size, region), 4096);
        this.settings = new CloneVolume.Settings(region, 512, hydrateOnRead, true, hydration);
        CloneVolume.format(source, meta, settings);
        this.volume = CloneVolume.open("test", source, dest, meta, settings, clock);
    }

    static HydrationSettings paused() {
        return new HydrationSettings(2, 4, 0, true, Duration.ofMillis(50), Duration.ofMillis(400));
    }

    static HydrationSettings running() {
        return new HydrationSettings(2, 4, 0, false, Duration.ofMillis(50), Duration.ofMillis(400));
    }

    ByteBuffer read(long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        volume.read(offset, b);
        return b.flip();
    }

    ByteBuffer sourceBytes(long offset, int length) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int i = 0; i < length; i++) {
            b.put(source.at(offset + i));
        }
        return b.flip();
    }

    static ByteBuffer filled(int length, int value) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        while (b.hasRemaining()) {
            b.put((byte) value);
        }
        return b.flip();
    }

    /** Superblock writes so far (blocks 0 and 1 of the metadata device). */
    long superblockWrites() {
        return meta.writesAt(0) + meta.writesAt(4096);
    }

    void awaitHydrated(Duration timeout) {
        io.clonetarget.storage.testing.Await.until(timeout, () -> "hydration complete: " + volume.status(),
                () -> volume.status().complete());
    }

    /** Waits until the hydrator's scheduler has gone round {@code n} more times (it saw every state change). */
    void awaitSchedulerRounds(int n) {
        long target = volume.hydrator().rounds() + n;
        io.clonetarget.storage.testing.Await.until(Duration.ofSeconds(10), () -> "scheduler rounds",
                () -> volume.hydrator().rounds() >= target);
    }

    @Override
    public void close() throws IOException {
        volume.close();
    }
}
