package io.clonetarget.storage.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBlockDeviceTest {
    @TempDir
    Path dir;

    private static ByteBuffer pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        ByteBuffer direct = ByteBuffer.allocateDirect(length);
        direct.put(b).flip();
        return direct;
    }

    private static ByteBuffer read(BlockDevice d, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        d.read(offset, b);
        assertEquals(length, b.position(), "read advances the position to the limit");
        return b.flip();
    }

    @Test
    void createsSparseFileOfTheRequestedSize() throws IOException {
        Path f = dir.resolve("a.img");
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(f, 64L << 30, 512)) {
            assertEquals(64L << 30, d.size());
            assertEquals(512, d.logicalBlockSize());
            assertEquals(4096, d.physicalBlockSize());
            assertFalse(d.extentAt(0).allocated(), "a new sparse file is one hole");
        }
        assertTrue((Long) Files.getAttribute(f, "unix:size") == 64L << 30);
        assertTrue(Files.size(f) > 0);
    }

    @Test
    void growingIsPreparedDurablyThenServedOrTakenBack() throws IOException {
        Path f = dir.resolve("g.img");
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(f, 1 << 20, 512)) {
            d.write(0, pattern(4096, 1), false);
            d.prepareGrow(4 << 20);
            assertEquals(1 << 20, d.size(), "not served before the commit");
            assertEquals(4L << 20, Files.size(f), "the file is that long already");
            assertThrows(IndexOutOfBoundsException.class, () -> d.write(2 << 20, pattern(512, 2), false),
                    "beyond the served size");
            d.abortGrow();
            assertEquals(1L << 20, Files.size(f), "taken back");
            d.prepareGrow(4 << 20);
            d.commitGrow();
            assertEquals(4 << 20, d.size());
            d.write((4 << 20) - 512, pattern(512, 3), true);
            assertEquals(pattern(512, 3), read(d, (4 << 20) - 512, 512));
            assertEquals(ByteBuffer.allocateDirect(4096), read(d, 2 << 20, 4096), "the new part reads as zeroes");
            assertEquals(pattern(4096, 1), read(d, 0, 4096), "what was there stays");
            assertThrows(IllegalArgumentException.class, () -> d.prepareGrow(1 << 20), "never shrinks");
            assertThrows(IllegalArgumentException.class, () -> d.prepareGrow((8 << 20) + 100));
            assertThrows(IllegalStateException.class, d::commitGrow, "nothing prepared");
        }
        try (FileBlockDevice d = FileBlockDevice.open(f, false, 512)) {
            assertEquals(4 << 20, d.size(), "durable across a reopen");
        }
        try (FileBlockDevice ro = FileBlockDevice.open(f, true, 512)) {
            assertThrows(IOException.class, () -> ro.prepareGrow(8 << 20));
        }
    }

    @Test
    void writtenDataReadsBackAcrossReopen() throws IOException {
        Path f = dir.resolve("a.img");
        ByteBuffer data = pattern(128 * 1024, 1);
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(f, 1 << 20, 512)) {
            d.write(4096, data.duplicate(), false);
            d.flush();
            assertEquals(data, read(d, 4096, data.remaining()));
        }
        try (FileBlockDevice d = FileBlockDevice.open(f, true, 512)) {
            assertEquals(data, read(d, 4096, data.remaining()));
            assertTrue(d.isReadOnly());
        }
    }

    @Test
    void copyFromAnotherFileHappensInTheKernel() throws IOException {
        try (FileBlockDevice src = FileBlockDevice.openOrCreate(dir.resolve("src.img"), 4 << 20, 512);
             FileBlockDevice dst = FileBlockDevice.openOrCreate(dir.resolve("dst.img"), 4 << 20, 512)) {
            src.write(0, pattern(4 << 20, 9), false);
            assertTrue(dst.copyFrom(src, 1 << 20, 1 << 20, 2 << 20), "copy_file_range between two files");
            assertEquals(pattern(4 << 20, 9).slice(1 << 20, 2 << 20), read(dst, 1 << 20, 2 << 20));
            assertEquals(ByteBuffer.allocateDirect(1 << 20), read(dst, 0, 1 << 20), "nothing outside the range");
            assertFalse(dst.copyFrom(new MemoryBlockDevice(4 << 20, 512), 0, 0, 4096), "not from memory");
            assertThrows(IndexOutOfBoundsException.class, () -> dst.copyFrom(src, 3 << 20, 3 << 20, 2 << 20));
        }
        try (FileBlockDevice src = FileBlockDevice.open(dir.resolve("src.img"), true, 512);
             FileBlockDevice ro = FileBlockDevice.open(dir.resolve("dst.img"), true, 512)) {
            assertThrows(ReadOnlyException.class, () -> ro.copyFrom(src, 0, 0, 4096));
        }
    }

    @Test
    void fuaWriteIsReadable() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            ByteBuffer data = pattern(4096, 2);
            d.write(0, data.duplicate(), true);
            assertEquals(data, read(d, 0, 4096));
        }
    }

    @Test
    void heapBuffersWorkToo() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            byte[] bytes = new byte[1024];
            new Random(3).nextBytes(bytes);
            d.write(512, ByteBuffer.wrap(bytes), false);
            ByteBuffer back = ByteBuffer.allocate(1024);
            d.read(512, back);
            assertArrayEquals(bytes, back.array());
        }
    }

    @Test
    void discardPunchesAHoleThatReadsZero() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            d.write(0, pattern(1 << 20, 4), false);
            assertTrue(d.extentAt(65536).allocated());
            d.discard(65536, 131072);
            assertEquals(ByteBuffer.allocateDirect(131072), read(d, 65536, 131072));
            BlockDevice.Extent hole = d.extentAt(65536);
            assertFalse(hole.allocated());
            assertEquals(131072, hole.length());
            assertTrue(d.extentAt(0).allocated());
            assertEquals(65536, d.extentAt(0).length());
            assertTrue(d.discardZeroesData());
        }
    }

    @Test
    void writeZeroesZeroesAnUnalignedRange() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            ByteBuffer data = pattern(8192, 5);
            d.write(0, data.duplicate(), false);
            d.writeZeroes(512, 1024);
            ByteBuffer back = read(d, 0, 8192);
            assertEquals(data.slice(0, 512), back.slice(0, 512));
            assertEquals(ByteBuffer.allocate(1024), back.slice(512, 1024));
            assertEquals(data.slice(1536, 8192 - 1536), back.slice(1536, 8192 - 1536));
        }
    }

    @Test
    void rangesOutsideTheDeviceAreRefused() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            assertThrows(IndexOutOfBoundsException.class, () -> d.read((1 << 20) - 256, ByteBuffer.allocateDirect(512)));
            assertThrows(IndexOutOfBoundsException.class, () -> d.write(-512, ByteBuffer.allocateDirect(512), false));
            assertThrows(IndexOutOfBoundsException.class, () -> d.discard(Long.MAX_VALUE, 512));
            assertThrows(IndexOutOfBoundsException.class, () -> d.writeZeroes(512, Long.MAX_VALUE));
        }
    }

    @Test
    void readOnlyDeviceRefusesWrites() throws IOException {
        Path f = dir.resolve("a.img");
        FileBlockDevice.openOrCreate(f, 1 << 20, 512).close();
        try (FileBlockDevice d = FileBlockDevice.open(f, true, 512)) {
            assertThrows(ReadOnlyException.class, () -> d.write(0, ByteBuffer.allocateDirect(512), false));
            assertThrows(ReadOnlyException.class, () -> d.discard(0, 512));
            assertThrows(ReadOnlyException.class, () -> d.writeZeroes(0, 512));
        }
    }

    @Test
    void aSecondWriterIsRefusedByTheLock() throws IOException {
        Path f = dir.resolve("a.img");
        try (FileBlockDevice first = FileBlockDevice.openOrCreate(f, 1 << 20, 512)) {
            IOException e = assertThrows(IOException.class, () -> FileBlockDevice.open(f, false, 512));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertThrows(IOException.class, () -> FileBlockDevice.open(f, true, 512));
        }
        FileBlockDevice.open(f, false, 512).close();
    }

    @Test
    void readersShareTheLock() throws IOException {
        Path f = dir.resolve("a.img");
        FileBlockDevice.openOrCreate(f, 1 << 20, 512).close();
        try (FileBlockDevice a = FileBlockDevice.open(f, true, 512);
             FileBlockDevice b = FileBlockDevice.open(f, true, 512)) {
            assertEquals(a.size(), b.size());
        }
    }

    @Test
    void missingFileAndDirectoryGivePreciseErrors() {
        IOException missing = assertThrows(IOException.class, () -> FileBlockDevice.open(dir.resolve("nope"), true, 512));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        IOException isDir = assertThrows(IOException.class, () -> FileBlockDevice.open(dir, true, 512));
        assertTrue(isDir.getMessage().contains("directory"), isDir.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FileBlockDevice.open(dir.resolve("x"), true, 1024));
    }

    @Test
    void sizeIsRoundedDownToBlocks() throws IOException {
        Path f = dir.resolve("odd.img");
        Files.write(f, new byte[4096 + 100]);
        try (FileBlockDevice d = FileBlockDevice.open(f, true, 512)) {
            assertEquals(4096, d.size());
        }
    }

    @Test
    void closeIsIdempotent() throws IOException {
        FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512);
        d.close();
        d.close();
    }

    @Test
    void nonBlockingTransfersOfCachedData() throws IOException {
        try (FileBlockDevice d = FileBlockDevice.openOrCreate(dir.resolve("a.img"), 1 << 20, 512)) {
            ByteBuffer data = pattern(8192, 6);
            d.write(8192, data.duplicate(), false);
            ByteBuffer dst = ByteBuffer.allocateDirect(8192);
            assertTrue(d.tryRead(8192, dst), "just-written data is cached");
            assertEquals(data, dst.flip());
            ByteBuffer more = pattern(4096, 7);
            assertTrue(d.tryWrite(0, more.duplicate()), "a buffered write needs no waiting");
            assertEquals(more, read(d, 0, 4096));
            ByteBuffer heap = ByteBuffer.allocate(512);
            assertFalse(d.tryRead(0, heap), "heap buffers never take the fast path");
            assertEquals(0, heap.position(), "a declined read leaves the buffer untouched");
            assertThrows(IndexOutOfBoundsException.class, () -> d.tryRead(1 << 20, ByteBuffer.allocateDirect(512)));
        }
        Path ro = dir.resolve("a.img");
        try (FileBlockDevice d = FileBlockDevice.open(ro, true, 512)) {
            assertFalse(d.tryWrite(0, ByteBuffer.allocateDirect(512)), "read-only devices decline");
        }
    }
}
