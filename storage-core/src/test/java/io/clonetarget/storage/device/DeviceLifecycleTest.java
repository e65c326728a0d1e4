package io.clonetarget.storage.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Creating files durably and atomically, and fencing calls against close. */
class DeviceLifecycleTest {
    @TempDir
    Path dir;

    private List<Path> entries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    private static ByteBuffer filled(int n, int value) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        while (b.hasRemaining()) {
            b.put((byte) value);
        }
        return b.flip();
    }

    @Test
    void aLateCallOnAClosedDeviceNeverReachesTheFileThatReusedItsDescriptor() throws IOException {
        Path a = dir.resolve("a.img");
        Path b = dir.resolve("b.img");
        FileBlockDevice first = FileBlockDevice.openOrCreate(a, 1 << 20, 512);
        first.close();
        // the next open gets the lowest free descriptor: the one the first device had
        try (FileBlockDevice second = FileBlockDevice.openOrCreate(b, 1 << 20, 512)) {
            assertThrows(ClosedDeviceException.class, () -> first.write(0, filled(4096, 0x77), false));
            assertThrows(ClosedDeviceException.class, () -> first.read(0, ByteBuffer.allocateDirect(512)));
            assertThrows(ClosedDeviceException.class, first::flush);
            assertThrows(ClosedDeviceException.class, () -> first.discard(0, 4096));
            assertThrows(ClosedDeviceException.class, () -> first.writeZeroes(0, 4096));
            assertThrows(ClosedDeviceException.class, () -> first.tryWrite(0, filled(512, 1)));
            ByteBuffer got = ByteBuffer.allocateDirect(4096);
            second.read(0, got);
            assertEquals(filled(4096, 0), got.flip(), "nothing of the closed device's write reached the other file");
        }
    }

    @Test
    void closeWaitsForACallInside() throws Exception {
        DeviceFence fence = new DeviceFence("test");
        fence.enter();
        CountDownLatch closing = new CountDownLatch(1);
        boolean[] result = new boolean[1];
        Thread closer = Thread.ofPlatform().start(() -> {
            closing.countDown();
            try {
                result[0] = fence.close(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        closing.await();
        // the closer cannot finish while the call is inside; new calls are refused from the moment close began
        while (!fence.isClosed()) {
            Thread.onSpinWait();
        }
        assertThrows(ClosedDeviceException.class, fence::enter);
        assertTrue(closer.isAlive(), "close returned while a call was inside");
        fence.exit();
        closer.join(30_000);
        assertTrue(result[0], "close drained the fence");
        assertFalse(fence.close(1, TimeUnit.SECONDS), "a second close does nothing");
    }

    @Test
    void closeGivesUpOnAHungCallAndSaysSo() throws Exception {
        DeviceFence fence = new DeviceFence("test");
        fence.enter();
        assertFalse(fence.close(10, TimeUnit.MILLISECONDS), "a call still inside: the resource must be kept");
        assertEquals(1, fence.inside());
    }

    @Test
    void aNewFileIsCompleteUnderItsNameAndNoTemporaryIsLeft() throws IOException {
        Path f = dir.resolve("sub/dir/new.img");
        try (FileBlockDevice d = DurableFiles.create(f, 1 << 20, 512, dev -> dev.write(0, filled(4096, 9), false))) {
            assertEquals(1 << 20, d.size());
        }
        assertEquals(1 << 20, Files.size(f));
        try (FileBlockDevice d = FileBlockDevice.open(f, true, 512)) {
            ByteBuffer got = ByteBuffer.allocateDirect(4096);
            d.read(0, got);
            assertEquals(filled(4096, 9), got.flip(), "what the initializer wrote is there");
        }
        try (Stream<Path> s = Files.list(f.getParent())) {
            assertEquals(List.of(f), s.toList(), "only the final name remains");
        }
    }

    @Test
    void anExistingFileIsNeverReplaced() throws IOException {
        Path f = dir.resolve("x.img");
        Files.write(f, new byte[4096]);
        assertThrows(FileAlreadyExistsException.class, () -> DurableFiles.create(f, 1 << 20, 512, d -> { }));
        assertEquals(4096, Files.size(f));
        assertEquals(List.of(f), entries());
    }

    @Test
    void aSizeTheFileSystemRefusesLeavesNothingBehind() {
        Path f = dir.resolve("huge.img");
        long size = 999_999L << 40; // beyond what ext4, xfs or tmpfs take
        IOException e = assertThrows(IOException.class, () -> FileBlockDevice.openOrCreate(f, size, 512));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        assertFalse(Files.exists(f), "no half-made file");
        IOException check = assertThrows(IOException.class, () -> FileBlockDevice.checkCanCreate(f, size));
        assertTrue(check.getMessage().contains("refuses that size"), check.getMessage());
        assertTrue(assertDoesNotLeave(), "no probe file left");
    }

    private boolean assertDoesNotLeave() {
        try {
            return entries().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aFailingInitializerLeavesNothingBehind() {
        Path f = dir.resolve("m.meta");
        assertThrows(IOException.class, () -> DurableFiles.create(f, 1 << 20, 512, d -> {
            throw new IOException("format failed");
        }));
        assertTrue(assertDoesNotLeave());
    }

    @Test
    void checkCanCreateAcceptsWhatCanBeMadeAndNamesWhatCannot() throws IOException {
        FileBlockDevice.checkCanCreate(dir.resolve("a/b/c.img"), 1L << 40);
        assertTrue(assertDoesNotLeave(), "the check creates no directories and no files");
        Path file = dir.resolve("plain");
        Files.write(file, new byte[1]);
        IOException e = assertThrows(IOException.class, () -> FileBlockDevice.checkCanCreate(file.resolve("x.img"), 4096));
        assertTrue(e.getMessage().contains("is not a directory"), e.getMessage());
    }
}
