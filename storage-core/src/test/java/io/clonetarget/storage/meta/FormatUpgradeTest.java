package io.clonetarget.storage.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.testing.Journal;
import io.clonetarget.storage.testing.PatternSource;
import io.clonetarget.storage.testing.RecordingBlockDevice;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Metadata written by clonetarget 0.1 (format 1; the files under {@code meta-v1/} were made by
 * that code) keeps opening: it is read as it is, and upgraded to format 2 in place, crash-safely.
 */
class FormatUpgradeTest {
    static byte[] fixture(String name) throws IOException {
        try (InputStream in = FormatUpgradeTest.class.getResourceAsStream("/meta-v1/" + name)) {
            return in.readAllBytes();
        }
    }

    /** A fixture on a device with room for the upgrade. */
    static RecordingBlockDevice grown(String name, long regions, Journal j) throws IOException {
        byte[] v1 = fixture(name);
        return RecordingBlockDevice.of("meta", j, Arrays.copyOf(v1, (int) CloneStore.bytesNeeded(regions)), 4096);
    }

    static long[] smallBits() {
        long[] w = new long[1];
        w[0] = 0b11 | 1L << 5 | 1L << 63;
        return w;
    }

    static long[] largeBits() {
        long[] w = new long[PersistentBitset.words(100_000)];
        for (long r = 0; r < 100_000; r++) {
            if (r % 3 == 0 || (r >= 32512 && r < 32600) || (r >= 64000 && r < 64064)) {
                w[(int) (r >>> 6)] |= 1L << r;
            }
        }
        return w;
    }

    @Test
    void formatOneIsReadAsItIs() throws IOException {
        Journal j = new Journal();
        MetadataInspection small = MetadataInspection.of(RecordingBlockDevice.of("m", j, fixture("small-v1.meta"), 4096));
        assertNull(small.worst(), small.findings().toString());
        assertEquals(1, small.formatVersion());
        assertEquals(4, small.generation());
        CloneInfo info = small.clone();
        assertEquals(UUID.fromString("6a1f3c2e-0b7d-4c11-9a55-1e2f3a4b5c6d"), info.uuid());
        assertEquals(16384, info.regionSize());
        assertEquals(64 * 16384L, info.targetSize());
        assertEquals(new PatternSource(64 * 16384L, 7).descriptor(), info.source());
        assertArrayEquals(smallBits(), small.words());

        MetadataInspection large = MetadataInspection.of(RecordingBlockDevice.of("m", j, fixture("large-v1.meta"), 4096));
        assertNull(large.worst(), large.findings().toString());
        assertEquals(4, large.blocks().size());
        assertEquals(4096, large.clone().logicalBlockSize());
        assertArrayEquals(largeBits(), large.words());
    }

    @Test
    void openingUpgradesInPlaceKeepingEveryBit() throws IOException {
        Journal j = new Journal();
        RecordingBlockDevice dev = grown("large-v1.meta", 100_000, j);
        CloneStore upgraded = CloneStore.open(dev);
        assertEquals(5, upgraded.generation(), "the upgrade is one more commit");
        assertArrayEquals(largeBits(), upgraded.durableWords());
        MetadataInspection after = MetadataInspection.of(dev);
        assertNull(after.worst(), after.findings().toString());
        assertEquals(2, after.formatVersion());
        assertEquals(UUID.fromString("0c9e8d7f-1a2b-4c3d-8e9f-a0b1c2d3e4f5"), after.clone().uuid());
        upgraded.commit(v -> v.word(1, 1L << 1));
        CloneStore again = CloneStore.open(dev);
        assertEquals(6, again.generation());
        assertTrue(again.durable(65));
        assertEquals(2 + 1 + 4 + 1, again.blocksInUse(), "the format-1 blocks were given back");
    }

    @Test
    void anUpgradeWithoutRoomIsRefusedAndChangesNothing() throws IOException {
        byte[] v1 = fixture("small-v1.meta");
        RecordingBlockDevice dev = RecordingBlockDevice.of("m", new Journal(), v1, 4096);
        MetadataException e = assertThrows(MetadataException.class, () -> CloneStore.open(dev));
        assertTrue(e.getMessage().contains("to be upgraded to format 2"), e.getMessage());
        byte[] now = new byte[v1.length];
        dev.read(0, java.nio.ByteBuffer.wrap(now));
        assertArrayEquals(v1, now);
    }

    @Test
    void aCrashAnywhereInTheUpgradeLeavesFormatOneOrFormatTwoWithTheSameBits() throws IOException {
        Journal j = new Journal();
        RecordingBlockDevice dev = grown("small-v1.meta", 64, j);
        CloneStore.open(dev);
        long end = j.now();
        int two = 0;
        for (long p = 0; p <= end; p++) {
            for (int variant = 0; variant < 3; variant++) {
                RecordingBlockDevice image = dev.crashImage(p, new Random(p * 3 + variant), variant == 2, new Journal());
                MetadataInspection i = MetadataInspection.of(image);
                assertTrue(i.opens(), "crash at " + p + ": " + i.findings());
                assertArrayEquals(smallBits(), i.words(), "crash at " + p);
                assertEquals(i.formatVersion() == 1 ? 4 : 5, i.generation());
                two += i.formatVersion() == 2 ? 1 : 0;
                CloneStore reopened = CloneStore.open(image);
                assertArrayEquals(smallBits(), reopened.durableWords());
            }
        }
        assertTrue(two > 0, "some crash images are already upgraded");
    }
}
