package io.clonetarget.storage.device;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The Linux system calls the file device needs, bound through the FFM API.
 *
 * <p>Why not {@link java.nio.channels.FileChannel}: it has no fallocate (hole punching,
 * zero-range), no SEEK_DATA/SEEK_HOLE, no RWF_DSYNC, and it closes itself when a thread doing
 * I/O on it is interrupted, which a storage engine cannot afford.
 *
 * <p>Every call retries on EINTR. Data buffers must be direct; the callers in this package
 * bounce heap buffers. Thread-safe: errno is captured into a per-thread segment.
 */
public final class NativeIo {
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_CLOEXEC = 02000000;

    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;
    static final int SEEK_END = 2;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int POSIX_FADV_SEQUENTIAL = 2;
    static final int POSIX_FADV_WILLNEED = 3;
    static final int LOCK_SH = 1;
    static final int LOCK_EX = 2;
    static final int LOCK_NB = 4;
    static final int RWF_DSYNC = 0x02;
    static final int RWF_NOWAIT = 0x08;
    static final int SYNC_FILE_RANGE_WRITE = 2;

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EROFS = 30;
    public static final int ENOSYS = 38;
    public static final int EXDEV = 18;
    public static final int EOPNOTSUPP = 95;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout STATE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            STATE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(STATE_LAYOUT));

    private static final MethodHandle OPEN =
            bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PREAD =
            bind("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE =
            bind("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITEV2 = bind("pwritev2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PREADV2 = bind("preadv2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FDATASYNC = bind("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSYNC = bind("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SYNC_FILE_RANGE = bind("sync_file_range",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FALLOCATE =
            bind("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LSEEK =
            bind("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FTRUNCATE =
            bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle COPY_FILE_RANGE = bind("copy_file_range",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final ThreadLocal<MemorySegment> OFFSETS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG, 2));
    private static final MethodHandle FLOCK = bind("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle FADVISE = LINKER.downcallHandle(
            LIBC.find("posix_fadvise").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private NativeIo() {
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** The C library's text for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** open(2); returns the file descriptor. */
    public static int open(Path path, int flags, int mode) throws NativeIoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path.toString());
            MemorySegment state = STATE.get();
            while (true) {
                int fd = (int) OPEN.invokeExact(state, cPath, flags | O_CLOEXEC, mode);
                if (fd >= 0) {
                    return fd;
                }
                int err = errno(state);
                if (err != EINTR) {
                    throw new NativeIoException("open " + path, err);
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** close(2); EINTR is not retried (the descriptor is gone either way on Linux). */
    public static void close(int fd) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            int r = (int) CLOSE.invokeExact(state, fd);
            if (r != 0 && errno(state) != EINTR) {
                throw new NativeIoException("close", errno(state));
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset} into a direct buffer.
     *
     * @return the bytes read; fewer than asked only at end of file
     */
    public static long pread(int fd, ByteBuffer dst, long offset) throws NativeIoException {
        MemorySegment segment = MemorySegment.ofBuffer(dst);
        long want = segment.byteSize();
        long done = 0;
        try {
            MemorySegment state = STATE.get();
            while (done < want) {
                long n = (long) PREAD.invokeExact(state, fd, segment.asSlice(done), want - done, offset + done);
                if (n > 0) {
                    done += n;
                } else if (n == 0) {
                    break;
                } else if (errno(state) != EINTR) {
                    throw new NativeIoException("pread at " + (offset + done), errno(state));
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            Reference.reachabilityFence(dst);
        }
        dst.position(dst.position() + (int) done);
        return done;
    }

    /** Writes all of {@code src.remaining()} (a direct buffer) at {@code offset}. */
    public static void pwrite(int fd, ByteBuffer src, long offset) throws NativeIoException {
        MemorySegment segment = MemorySegment.ofBuffer(src);
        long want = segment.byteSize();
        long done = 0;
        try {
            MemorySegment state = STATE.get();
            while (done < want) {
                long n = (long) PWRITE.invokeExact(state, fd, segment.asSlice(done), want - done, offset + done);
                if (n >= 0) {
                    done += n;
                } else if (errno(state) != EINTR) {
                    throw new NativeIoException("pwrite at " + (offset + done), errno(state));
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            Reference.reachabilityFence(src);
        }
        src.position(src.limit());
    }

    /**
     * Writes all of {@code src} at {@code offset} with RWF_DSYNC: durable on return.
     *
     * @return false if the kernel or file system has no per-write sync (the caller then syncs)
     */
    public static boolean pwriteDsync(int fd, ByteBuffer src, long offset) throws NativeIoException {
        MemorySegment segment = MemorySegment.ofBuffer(src);
        long want = segment.byteSize();
        long done = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(16, 8);
            MemorySegment state = STATE.get();
            while (done < want) {
                iov.set(ADDRESS, 0, segment.asSlice(done));
                iov.set(JAVA_LONG, 8, want - done);
                long n = (long) PWRITEV2.invokeExact(state, fd, iov, 1, offset + done, RWF_DSYNC);
                if (n >= 0) {
                    done += n;
                    continue;
                }
                int err = errno(state);
                if (done == 0 && (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL)) {
                    return false;
                }
                if (err != EINTR) {
                    throw new NativeIoException("pwritev2(RWF_DSYNC) at " + (offset + done), err);
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            Reference.reachabilityFence(src);
        }
        src.position(src.limit());
        return true;
    }

    /**
     * Tries to transfer all of a direct buffer without blocking (RWF_NOWAIT): data in the page
     * cache is read, or written into it, at once. Nothing that would wait for the disk happens.
     *
     * @return the bytes transferred (may be fewer than asked, even 0), or -1 when the kernel or
     *     file system does not do non-blocking I/O on this file
     */
    public static long tryTransfer(int fd, ByteBuffer buffer, long offset, boolean write) throws NativeIoException {
        MemorySegment segment = MemorySegment.ofBuffer(buffer);
        long want = segment.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, segment);
            iov.set(JAVA_LONG, 8, want);
            MemorySegment state = STATE.get();
            while (true) {
                long n = write
                        ? (long) PWRITEV2.invokeExact(state, fd, iov, 1, offset, RWF_NOWAIT)
                        : (long) PREADV2.invokeExact(state, fd, iov, 1, offset, RWF_NOWAIT);
                if (n >= 0) {
                    buffer.position(buffer.position() + (int) n);
                    return n;
                }
                int err = errno(state);
                if (err == EAGAIN) {
                    return 0;
                }
                if (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) {
                    return -1;
                }
                if (err != EINTR) {
                    throw new NativeIoException((write ? "pwritev2" : "preadv2") + "(RWF_NOWAIT) at " + offset, err);
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            Reference.reachabilityFence(buffer);
        }
    }

    /** fdatasync(2). */
    public static void fdatasync(int fd) throws NativeIoException {
        simple(FDATASYNC, fd, "fdatasync");
    }

    /** fsync(2). */
    public static void fsync(int fd) throws NativeIoException {
        simple(FSYNC, fd, "fsync");
    }

    /** sync_file_range(2) of the whole file with SYNC_FILE_RANGE_WRITE: starts writeback, waits for none. */
    public static void startWriteback(int fd) throws NativeIoException {
        retrying("sync_file_range", state -> (int) SYNC_FILE_RANGE.invokeExact(state, fd, 0L, 0L, SYNC_FILE_RANGE_WRITE));
    }

    private static void simple(MethodHandle handle, int fd, String what) throws NativeIoException {
        retrying(what, state -> (int) handle.invokeExact(state, fd));
    }

    /** A call returning 0 or -1 with errno in {@code state}. */
    @FunctionalInterface
    private interface ZeroOrErrno {
        int call(MemorySegment state) throws Throwable;
    }

    /** Runs {@code call} until it returns 0 or fails with another errno than EINTR. */
    private static void retrying(String what, ZeroOrErrno call) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            while (true) {
                int r = call.call(state);
                if (r == 0) {
                    return;
                }
                if (errno(state) != EINTR) {
                    throw new NativeIoException(what, errno(state));
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** fallocate(2). */
    public static void fallocate(int fd, int mode, long offset, long length) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            while (true) {
                int r = (int) FALLOCATE.invokeExact(state, fd, mode, offset, length);
                if (r == 0) {
                    return;
                }
                if (errno(state) != EINTR) {
                    throw new NativeIoException("fallocate(mode=" + mode + ") " + offset + "+" + length, errno(state));
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * copy_file_range(2): copies up to {@code length} bytes from {@code in} at {@code inOffset}
     * to {@code out} at {@code outOffset} inside the kernel (no user-space buffer; a reflink on
     * file systems that share extents).
     *
     * @return bytes copied, possibly fewer than asked; 0 at the end of the source
     */
    public static long copyFileRange(int in, long inOffset, int out, long outOffset, long length)
            throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            MemorySegment offsets = OFFSETS.get();
            while (true) {
                offsets.setAtIndex(JAVA_LONG, 0, inOffset);
                offsets.setAtIndex(JAVA_LONG, 1, outOffset);
                long r = (long) COPY_FILE_RANGE.invokeExact(state, in, offsets, out, offsets.asSlice(8), length, 0);
                if (r >= 0) {
                    return r;
                }
                int err = errno(state);
                if (err != EINTR) {
                    throw new NativeIoException("copy_file_range " + inOffset + "+" + length, err);
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** lseek(2); returns the resulting offset. */
    public static long lseek(int fd, long offset, int whence) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            long r = (long) LSEEK.invokeExact(state, fd, offset, whence);
            if (r < 0) {
                throw new NativeIoException("lseek(" + offset + ", " + whence + ")", errno(state));
            }
            return r;
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ftruncate(2). */
    public static void ftruncate(int fd, long length) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            while (true) {
                int r = (int) FTRUNCATE.invokeExact(state, fd, length);
                if (r == 0) {
                    return;
                }
                if (errno(state) != EINTR) {
                    throw new NativeIoException("ftruncate " + length, errno(state));
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** flock(2) without waiting; returns false if another open file description holds it. */
    public static boolean tryLock(int fd, boolean exclusive) throws NativeIoException {
        try {
            MemorySegment state = STATE.get();
            while (true) {
                int r = (int) FLOCK.invokeExact(state, fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
                if (r == 0) {
                    return true;
                }
                int err = errno(state);
                if (err == EAGAIN) {
                    return false;
                }
                if (err != EINTR) {
                    throw new NativeIoException("flock", err);
                }
            }
        } catch (NativeIoException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** posix_fadvise(WILLNEED); a hint, errors are ignored. */
    public static void willNeed(int fd, long offset, long length) {
        advise(fd, offset, length, POSIX_FADV_WILLNEED);
    }

    /** posix_fadvise(SEQUENTIAL) for the whole file (a larger read-ahead); a hint, errors are ignored. */
    public static void sequential(int fd) {
        advise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }

    private static void advise(int fd, long offset, long length, int advice) {
        try {
            int ignored = (int) FADVISE.invokeExact(fd, offset, length, advice);
        } catch (Throwable t) {
            // a hint only
        }
    }
}
