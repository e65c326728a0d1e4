package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A copy of the LUN's protected bytes (see {@link LunLayout}), read from the image file (the
 * target writes through the page cache, so the file shows every acknowledged write), and the
 * check that none of them changed.
 */
final class RegionGuard {
    private final Path image;
    private final LunLayout layout;
    private final byte[] before;
    private final byte[] after;

    RegionGuard(Path image, LunLayout layout) throws IOException {
        this.image = image;
        this.layout = layout;
        this.before = read(layout.protectedBytesBefore(), layout.lunBytes() - layout.protectedStart());
        this.after = new byte[before.length];
    }

    private byte[] read(long head, long tail) throws IOException {
        byte[] b = new byte[(int) (head + tail)];
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            readFully(ch, ByteBuffer.wrap(b, 0, (int) head), 0);
            readFully(ch, ByteBuffer.wrap(b, (int) head, (int) tail), layout.protectedStart());
        }
        return b;
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long at) throws IOException {
        while (dst.hasRemaining()) {
            int n = ch.read(dst, at);
            if (n < 0) {
                throw new IOException("image shorter than the LUN");
            }
            at += n;
        }
    }

    /** Null when nothing changed, else the first changed LUN byte offset and how many blocks changed. */
    String changes() throws IOException {
        byte[] now = read(layout.protectedBytesBefore(), layout.lunBytes() - layout.protectedStart());
        System.arraycopy(now, 0, after, 0, now.length);
        if (Arrays.equals(before, now)) {
            return null;
        }
        long head = layout.protectedBytesBefore();
        int bs = layout.blockSize();
        long first = -1;
        int blocks = 0;
        for (int i = 0; i < now.length; i += bs) {
            if (!Arrays.equals(before, i, i + bs, now, i, i + bs)) {
                long lunOffset = i < head ? i : layout.protectedStart() + (i - head);
                if (first < 0) {
                    first = lunOffset;
                }
                blocks++;
            }
        }
        return blocks + " protected block(s) changed, the first at LBA " + first / bs + " (byte " + first + ")";
    }
}
