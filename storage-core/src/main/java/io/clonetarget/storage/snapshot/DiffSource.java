package io.clonetarget.storage.snapshot;

import java.io.IOException;
import java.io.InputStream;

/**
 * The bytes of a stream being parsed, through one fixed buffer, with the offset of the next
 * byte. Whatever the stream claims, nothing here allocates more than that buffer. Not
 * thread-safe: one parse owns it.
 */
final class DiffSource {
    static final int BUFFER_BYTES = 64 * 1024;

    private final InputStream in;
    private final byte[] buf = new byte[BUFFER_BYTES];
    private int pos;
    private int limit;
    private long position;
    private boolean eof;

    DiffSource(InputStream in) {
        this.in = in;
    }

    /** The offset in the stream of the next byte. */
    long position() {
        return position;
    }

    /** The next byte, or -1 at the end of the stream. */
    int read() throws IOException {
        if (pos == limit && !fill()) {
            return -1;
        }
        position++;
        return buf[pos++] & 0xff;
    }

    /** Up to {@code len} bytes (at least one unless {@code len} is 0), or -1 at the end. */
    int read(byte[] dst, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (pos == limit && !fill()) {
            return -1;
        }
        int n = Math.min(len, limit - pos);
        System.arraycopy(buf, pos, dst, off, n);
        pos += n;
        position += n;
        return n;
    }

    /** Reads {@code len} bytes unless the stream ends first; returns how many were read. */
    int readFully(byte[] dst, int off, int len) throws IOException {
        int done = 0;
        while (done < len) {
            int n = read(dst, off + done, len - done);
            if (n < 0) {
                break;
            }
            done += n;
        }
        return done;
    }

    /** Skips up to {@code n} bytes (at least one unless {@code n} is 0), or -1 at the end. */
    long skip(long n) throws IOException {
        if (n == 0) {
            return 0;
        }
        if (pos == limit && !fill()) {
            return -1;
        }
        int k = (int) Math.min(n, limit - pos);
        pos += k;
        position += k;
        return k;
    }

    /** How many bytes can be had without blocking. */
    int buffered() {
        return limit - pos;
    }

    private boolean fill() throws IOException {
        if (eof) {
            return false;
        }
        int n;
        do {
            n = in.read(buf, 0, buf.length);
        } while (n == 0);
        if (n < 0) {
            eof = true;
            return false;
        }
        pos = 0;
        limit = n;
        return true;
    }
}
