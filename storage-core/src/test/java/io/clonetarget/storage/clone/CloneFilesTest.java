package io.clonetarget.storage.clone;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.meta.MetadataInspection;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which files a clone opens, creates or refuses: existing data is never formatted over. */
class CloneFilesTest {
    static final long REGION = 64 * 1024;
    static final int SIZE = 2 << 20;
    @TempDir
    Path dir;
    Path golden;
    Path dest;
    Path meta;
    final CloneVolume.Settings settings = new CloneVolume.Settings(REGION, 512, false, true,
            new HydrationSettings(1, 1, 0, true, Duration.ofMillis(50), Duration.ofMillis(100)));

    @BeforeEach
    void files() throws IOException {
        golden = dir.resolve("golden.img");
        byte[] g = new byte[SIZE];
        new Random(3).nextBytes(g);
        Files.write(golden, g);
        dest = dir.resolve("clone.img");
        meta = dir.resolve("clone.img.meta");
    }

    CloneVolume open(boolean overwrite) throws IOException {
        return CloneFiles.open("c", golden.toString(), dest, meta, settings, overwrite);
    }

    static ByteBuffer read(CloneVolume v, long offset, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        v.read(offset, b);
        return b.flip();
    }

    static ByteBuffer bytes(byte[] a, int offset, int n) {
        return ByteBuffer.wrap(a, offset, n).slice();
    }

    private long entries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void aNewCloneHasValidMetadataAndASparseDestinationAndNothingElse() throws IOException {
        try (CloneVolume v = open(false)) {
            assertEquals(SIZE, v.size());
        }
        assertEquals(3, entries(), "golden, destination, metadata: no temporary files");
        try (FileBlockDevice m = FileBlockDevice.open(meta, true, 512)) {
            MetadataInspection i = MetadataInspection.of(m);
            assertTrue(i.opens(), i.findings().toString());
            assertEquals(2, i.formatVersion());
        }
    }

    @Test
    void aDestinationWithoutMetadataIsRefusedAndLeftAsItWas() throws IOException {
        byte[] data = new byte[SIZE];
        new Random(9).nextBytes(data);
        Files.write(dest, data);
        IOException e = assertThrows(IOException.class, () -> open(false));
        assertTrue(e.getMessage().contains("the destination " + dest + " exists but " + meta + " does not exist")
                && e.getMessage().contains("overwrite-destination"), e.getMessage());
        assertArrayEquals(data, Files.readAllBytes(dest), "not a byte changed");
        assertFalse(Files.exists(meta), "no metadata made");
        assertEquals(2, entries());

        // an empty metadata file (a crash right after it was created, by an older version) is no metadata
        Files.write(meta, new byte[0]);
        e = assertThrows(IOException.class, () -> open(false));
        assertTrue(e.getMessage().contains(meta + " is empty"), e.getMessage());
        // nor is garbage
        Files.write(meta, new byte[8192]);
        byte[] junk = new byte[8192];
        new Random(1).nextBytes(junk);
        Files.write(meta, junk);
        e = assertThrows(IOException.class, () -> open(false));
        assertTrue(e.getMessage().contains("is not valid clone metadata (superblock: no valid superblock"),
                e.getMessage());
        assertArrayEquals(junk, Files.readAllBytes(meta));
        assertArrayEquals(data, Files.readAllBytes(dest));
    }

    @Test
    void overwriteDestinationStartsANewCloneOverTheOldFiles() throws IOException {
        byte[] data = new byte[SIZE];
        new Random(9).nextBytes(data);
        Files.write(dest, data);
        Files.write(meta, new byte[100]);
        byte[] g = Files.readAllBytes(golden);
        try (CloneVolume v = open(true)) {
            assertEquals(bytes(g, 4096, 8192), read(v, 4096, 8192), "the old contents are ignored: reads are the source's");
            assertEquals(0, v.status().hydratedRegions());
        }
        try (CloneVolume v = open(false)) {
            assertEquals(bytes(g, 0, 512), read(v, 0, 512), "and it opens without the flag from now on");
        }
    }

    @Test
    void validMetadataIsOpenedAsItIsEvenWithTheFlag() throws IOException {
        try (CloneVolume v = open(false)) {
            v.write(0, ByteBuffer.allocateDirect(4096), false);
        }
        try (CloneVolume v = open(true)) {
            assertEquals(1, v.status().hydratedRegions(), "nothing was formatted");
            assertEquals(ByteBuffer.allocateDirect(4096), read(v, 0, 4096));
        }
    }

    @Test
    void metadataWithNothingHydratedAndNoDestinationIsAnInterruptedCreationAndCompleted() throws IOException {
        open(false).close();
        Files.delete(dest);
        try (CloneVolume v = open(false)) {
            assertEquals(0, v.status().hydratedRegions());
        }
        assertTrue(Files.exists(dest));
    }

    @Test
    void metadataWithHydratedRegionsAndNoDestinationIsRefused() throws IOException {
        try (CloneVolume v = open(false)) {
            v.write(0, ByteBuffer.allocateDirect(4096), false);
        }
        Files.delete(dest);
        byte[] before = Files.readAllBytes(meta);
        IOException e = assertThrows(IOException.class, () -> open(true));
        assertTrue(e.getMessage().contains("records 1 hydrated regions but the destination"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(meta));
        assertFalse(Files.exists(dest));
    }
}
