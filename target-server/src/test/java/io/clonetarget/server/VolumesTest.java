package io.clonetarget.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.storage.device.ReadOnlyException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumesTest {
    @TempDir
    Path dir;

    static VolumeConfig file(Path path, String size, boolean readOnly) {
        return new VolumeConfig("v", VolumeType.FILE, path.toString(), size == null ? null : ByteSize.parse(size),
                null, readOnly, null, null, null, null, null);
    }

    static Path image(Path path, int bytes, byte fill) throws IOException {
        byte[] content = new byte[bytes];
        Arrays.fill(content, fill);
        return Files.write(path, content);
    }

    @Test
    void aReadOnlyVolumeWithASizeIsOpenedReadOnlyWithASharedLock() throws Exception {
        Path img = image(dir.resolve("ro.img"), 1 << 20, (byte) 7);
        VolumeConfig v = file(img, "1M", true);
        OpenVolume first = Volumes.open(v);
        // a shared lock: a second reader gets in, where an exclusive (read-write) lock would refuse it
        try (var a = first.owner(); var b = Volumes.open(v).owner()) {
            assertTrue(first.device().isReadOnly(), "opened read-only");
            ByteBuffer block = ByteBuffer.allocateDirect(512);
            assertThrows(ReadOnlyException.class, () -> first.device().write(0, block, false));
        }
        byte[] expected = new byte[1 << 20];
        Arrays.fill(expected, (byte) 7);
        assertArrayEquals(expected, Files.readAllBytes(img), "untouched");
    }

    @Test
    void aGrowthACrashKeptFromBeingSavedIsTakenBackAndWrittenDataNeverIs() throws Exception {
        // as LiveState's prepare leaves it when the process dies before the configuration is saved
        Path img = image(dir.resolve("grown.img"), 1 << 20, (byte) 5);
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), (3 << 20) - 1); // a sparse extension (one byte written at its very end ...
        }
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(3 << 20);
        }
        Path sparse = dir.resolve("sparse.img");
        Files.copy(image(dir.resolve("base.img"), 1 << 20, (byte) 5), sparse);
        try (var f = new java.io.RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(3 << 20); // ... and this one is holes only
        }
        try (var open = Volumes.open(file(sparse, "1M", false)).owner()) {
            assertEquals(1L << 20, Files.size(sparse), "cut back to the configured size");
        }
        byte[] expected = new byte[1 << 20];
        Arrays.fill(expected, (byte) 5);
        assertArrayEquals(expected, Files.readAllBytes(sparse), "what was there stays");
        IOException e = assertThrows(IOException.class, () -> Volumes.open(file(img, "1M", false)));
        assertTrue(e.getMessage().contains("exists with 3145728 bytes, but the configuration says size 1M"),
                "data past the configured size is never cut: " + e.getMessage());
    }

    @Test
    void aReadOnlyVolumeOfAnotherSizeIsRefused() throws Exception {
        Path img = image(dir.resolve("ro.img"), 1 << 20, (byte) 0);
        IOException e = assertThrows(IOException.class, () -> Volumes.open(file(img, "2M", true)));
        assertTrue(e.getMessage().contains("exists with 1048576 bytes, but the configuration says size 2M"),
                e.getMessage());
    }

    @Test
    void aMissingReadOnlyFileIsNeverCreated() {
        Path img = dir.resolve("missing.img");
        IOException e = assertThrows(IOException.class, () -> Volumes.open(file(img, "1M", true)));
        assertEquals("volume v: " + img + " does not exist, and a read-only volume is never created; create the "
                + "file first, or drop read-only to create it with size 1M", e.getMessage());
        assertFalse(Files.exists(img));
        IOException noSize = assertThrows(IOException.class, () -> Volumes.open(file(img, null, true)));
        assertEquals("volume v: " + img + " does not exist, and a read-only volume is never created; create the "
                + "file first", noSize.getMessage());
        IOException writable = assertThrows(IOException.class, () -> Volumes.open(file(img, null, false)));
        assertEquals("volume v: " + img + " does not exist (give a size to create it)", writable.getMessage());
    }

    @Test
    void overwriteDestinationIsTheExplicitChoiceToStartANewCloneOverADestination() throws Exception {
        Path golden = image(dir.resolve("golden.img"), 256 << 10, (byte) 1);
        Path dest = image(dir.resolve("vm.img"), 256 << 10, (byte) 2);
        VolumeConfig keep = new VolumeConfig("c", VolumeType.CLONE, dest.toString(), null, null, null, golden.toString(),
                null, null, null, null, false);
        IOException refused = assertThrows(IOException.class, () -> Volumes.open(keep));
        assertTrue(refused.getMessage().startsWith("volume c: "), refused.getMessage());
        assertTrue(refused.getMessage().contains("overwrite-destination = true"), refused.getMessage());
        assertFalse(Files.exists(dir.resolve("vm.img.meta")), "refused without a trace");
        VolumeConfig overwrite = new VolumeConfig("c", VolumeType.CLONE, dest.toString(), null, null, null,
                golden.toString(), null, null, null, null, true);
        try (var opened = Volumes.open(overwrite).owner()) {
            assertTrue(Files.size(dir.resolve("vm.img.meta")) > 0, "a new clone over the destination");
        }
        try (var again = Volumes.open(keep).owner()) {
            // valid metadata now: opened as it is, with or without the flag
        }
    }

    @Test
    void aWritableVolumeWithASizeIsCreatedSparse() throws Exception {
        Path img = dir.resolve("new/rw.img");
        try (var v = Volumes.open(file(img, "4M", false)).owner()) {
            assertEquals(4L << 20, Files.size(img));
        }
        try (var again = Volumes.open(file(img, "4M", false)).owner()) {
            assertEquals(4L << 20, Files.size(img), "opened, not recreated");
        }
    }
}
