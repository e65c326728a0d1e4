package io.clonetarget.storage.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlockDevice} on a regular file or a Linux block device.
 *
 * <p>Data moves between direct buffers and the kernel with pread/pwrite; nothing is copied into
 * the heap. {@link #flush()} is fdatasync; a FUA write uses RWF_DSYNC where the kernel has it.
 * Discard punches holes (a sparse file stays sparse); write-zeroes uses FALLOC_FL_ZERO_RANGE.
 * Either falls back to writing zeroes where the file system cannot, so discarded ranges always
 * read back as zeroes.
 *
 * <p>The file is locked with flock: exclusively when writable, shared when read-only, so two
 * servers can never write the same image. Thread-safe; see {@link BlockDevice}.
 */
public final class FileBlockDevice implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(FileBlockDevice.class);
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final int fd;
    /** The size served; grows only, by {@link #commitGrow} (readers see it at once). */
    private volatile long size;
    /** Under the monitor: the length the file was extended to by {@link #prepareGrow}, not served yet (0: none). */
    private long pendingSize;
    private final int logicalBlockSize;
    private final int physicalBlockSize;
    private final boolean readOnly;
    private final DeviceFence fence;
    private final QuickTransfers quick;
    private volatile boolean dsyncWrites = true;
    private volatile boolean zeroRange = true;
    private volatile boolean punchHole = true;
    private volatile boolean seekData = true;
    private volatile boolean copyRange = true;
    private static final long CLOSE_WAIT_SECONDS = 30;

    private FileBlockDevice(Path path, int fd, long size, int logicalBlockSize, boolean readOnly) {
        this.path = path;
        this.fd = fd;
        this.size = size;
        this.logicalBlockSize = logicalBlockSize;
        this.physicalBlockSize = Math.max(logicalBlockSize, 4096);
        this.readOnly = readOnly;
        this.fence = new DeviceFence(path.toString());
        this.quick = new QuickTransfers(path);
    }

    /**
     * Opens an existing file or block device.
     *
     * @param logicalBlockSize 512 or 4096; the usable size is the file size rounded down to it
     */
    public static FileBlockDevice open(Path path, boolean readOnly, int logicalBlockSize) throws IOException {
        checkBlockSize(logicalBlockSize);
        if (Files.isDirectory(path)) {
            throw new IOException(path + " is a directory, not an image file or block device");
        }
        int fd;
        try {
            fd = NativeIo.open(path, readOnly ? NativeIo.O_RDONLY : NativeIo.O_RDWR, 0);
        } catch (NativeIoException e) {
            throw describeOpenFailure(path, e);
        }
        try {
            if (!NativeIo.tryLock(fd, !readOnly)) {
                throw new IOException(path + " is in use by another process (flock held)");
            }
            long bytes = NativeIo.lseek(fd, 0, NativeIo.SEEK_END);
            long usable = bytes - bytes % logicalBlockSize;
            if (usable != bytes) {
                LOG.warn("{} is {} bytes, not a multiple of {}: the last {} bytes are not addressable",
                        path, bytes, logicalBlockSize, bytes - usable);
            }
            return new FileBlockDevice(path, fd, usable, logicalBlockSize, readOnly);
        } catch (IOException | RuntimeException e) {
            NativeIo.close(fd);
            throw e;
        }
    }

    /**
     * Creates a sparse file of {@code size} bytes if {@code path} does not exist, then opens it
     * writable. An existing file is opened as it is; the caller compares sizes. A new file is
     * made durably and atomically ({@link DurableFiles}): a failure leaves nothing behind.
     */
    public static FileBlockDevice openOrCreate(Path path, long size, int logicalBlockSize) throws IOException {
        checkBlockSize(logicalBlockSize);
        if (size <= 0 || size % logicalBlockSize != 0) {
            throw new IllegalArgumentException(
                    "size " + size + " must be a positive multiple of " + logicalBlockSize);
        }
        if (!Files.exists(path)) {
            try {
                return DurableFiles.create(path, size, logicalBlockSize, d -> { });
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // made by someone else meanwhile: open theirs
            }
        }
        return open(path, false, logicalBlockSize);
    }

    /**
     * Checks, leaving nothing behind, that a file of {@code size} bytes could be created at
     * {@code path} (see {@link DurableFiles#checkCanCreate}).
     */
    public static void checkCanCreate(Path path, long size) throws IOException {
        DurableFiles.checkCanCreate(path, size);
    }

    /** A device over a new file's descriptor, locked exclusively (for {@link DurableFiles}). */
    static FileBlockDevice adopt(Path path, int fd, int logicalBlockSize) throws IOException {
        try {
            if (!NativeIo.tryLock(fd, true)) {
                throw new IOException(path + " is in use by another process (flock held)");
            }
            long bytes = NativeIo.lseek(fd, 0, NativeIo.SEEK_END);
            return new FileBlockDevice(path, fd, bytes - bytes % logicalBlockSize, logicalBlockSize, false);
        } catch (IOException | RuntimeException e) {
            NativeIo.close(fd);
            throw e;
        }
    }

    private static void checkBlockSize(int logicalBlockSize) {
        if (logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new IllegalArgumentException("logical block size must be 512 or 4096, not " + logicalBlockSize);
        }
    }

    static IOException describeOpenFailure(Path path, NativeIoException e) {
        return switch (e.errno()) {
            case NativeIo.ENOENT -> new IOException(path + " does not exist", e);
            case NativeIo.EACCES, NativeIo.EPERM -> new IOException("no permission to open " + path, e);
            case NativeIo.EROFS -> new ReadOnlyException(path + " is on a read-only file system");
            default -> new IOException("cannot open " + path + ": " + e.getMessage(), e);
        };
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public int physicalBlockSize() {
        return physicalBlockSize;
    }

    /** The file system holding the file (statvfs): what an unprivileged writer may still allocate. */
    @Override
    public Space space() throws IOException {
        java.nio.file.FileStore store = Files.getFileStore(path);
        return new Space(store.getUsableSpace(), store.getTotalSpace());
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean discardZeroesData() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Ranges.check(this, offset, dst.remaining());
        if (!dst.isDirect()) {
            ByteBuffer bounce = ByteBuffer.allocateDirect(dst.remaining());
            read(offset, bounce);
            dst.put(bounce.flip());
            return;
        }
        int want = dst.remaining();
        long got;
        fence.enter();
        try {
            got = NativeIo.pread(fd, dst, offset);
        } catch (NativeIoException e) {
            throw translate(e, false);
        } finally {
            fence.exit();
        }
        if (got != want) {
            throw new MediumErrorException("short read of " + path + " at " + offset + ": " + got
                    + " of " + want + " bytes (file shrunk underneath?)", false);
        }
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return tryTransfer(offset, dst, false);
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src) throws IOException {
        if (readOnly) {
            return false;
        }
        return tryTransfer(offset, src, true);
    }

    /** The non-blocking transfer behind {@link #tryRead} and {@link #tryWrite} ({@link QuickTransfers}). */
    private boolean tryTransfer(long offset, ByteBuffer buffer, boolean write) throws IOException {
        if (!buffer.isDirect()) {
            return false;
        }
        Ranges.check(this, offset, buffer.remaining());
        fence.enter();
        try {
            return quick.transfer(fd, offset, buffer, write);
        } catch (NativeIoException e) {
            throw translate(e, write);
        } finally {
            fence.exit();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkWritable();
        Ranges.check(this, offset, src.remaining());
        if (!src.isDirect()) {
            ByteBuffer bounce = ByteBuffer.allocateDirect(src.remaining());
            bounce.put(src).flip();
            write(offset, bounce, fua);
            return;
        }
        fence.enter();
        try {
            if (fua && dsyncWrites) {
                int start = src.position();
                if (NativeIo.pwriteDsync(fd, src, offset)) {
                    return;
                }
                dsyncWrites = false;
                src.position(start);
            }
            NativeIo.pwrite(fd, src, offset);
            if (fua) {
                NativeIo.fdatasync(fd);
            }
        } catch (NativeIoException e) {
            throw translate(e, true);
        } finally {
            fence.exit();
        }
    }

    @Override
    public void startWriteback() throws IOException {
        sync(NativeIo::startWriteback);
    }

    @Override
    public void flush() throws IOException {
        sync(NativeIo::fdatasync);
    }

    /** A call on the descriptor that writes back what is cached (nothing to do when read-only). */
    @FunctionalInterface
    private interface SyncCall {
        void call(int fd) throws NativeIoException;
    }

    private void sync(SyncCall call) throws IOException {
        if (readOnly) {
            return;
        }
        fence.enter();
        try {
            call.call(fd);
        } catch (NativeIoException e) {
            throw translate(e, true);
        } finally {
            fence.exit();
        }
    }

    /**
     * Extends the file to {@code newSize} bytes (the new part reads as zeroes and takes no space)
     * and makes the length durable (fsync), without serving it: {@link #size()} stays until
     * {@link #commitGrow}, and {@link #abortGrow} takes it back. For regular files only: a block
     * device's size is its own.
     *
     * @throws IllegalArgumentException for a size smaller than now, or not a multiple of the block size
     * @throws IOException for a read-only device, a block device, or a failure (the file is then as it was)
     */
    public synchronized void prepareGrow(long newSize) throws IOException {
        checkWritable();
        if (newSize < size || newSize % logicalBlockSize != 0) {
            throw new IllegalArgumentException("a volume grows to a multiple of " + logicalBlockSize + " bytes not below "
                    + size + ", not to " + newSize);
        }
        if (!java.nio.file.Files.isRegularFile(path)) {
            throw new IOException(path + " is not a regular file; a block device is resized with its own tools");
        }
        fence.enter();
        try {
            NativeIo.ftruncate(fd, newSize);
            NativeIo.fsync(fd);
            pendingSize = newSize;
        } catch (NativeIoException e) {
            try {
                NativeIo.ftruncate(fd, size);
            } catch (NativeIoException again) {
                LOG.error("{}: cannot take back a failed extension to {} bytes: {}", path, newSize, again.getMessage());
            }
            throw translate(e, true);
        } finally {
            fence.exit();
        }
    }

    /** Serves the size {@link #prepareGrow} made durable. */
    public synchronized void commitGrow() {
        if (pendingSize == 0) {
            throw new IllegalStateException("no prepared growth of " + path);
        }
        size = pendingSize;
        pendingSize = 0;
    }

    /** Takes back a prepared growth that was not committed (nothing can have been written there). */
    public synchronized void abortGrow() throws IOException {
        if (pendingSize == 0) {
            return;
        }
        fence.enter();
        try {
            NativeIo.ftruncate(fd, size);
            NativeIo.fsync(fd);
            pendingSize = 0;
        } catch (NativeIoException e) {
            throw translate(e, true);
        } finally {
            fence.exit();
        }
    }

    /** fsync(2): data and every attribute (size included); what a new file needs before it is named. */
    void fsync() throws IOException {
        fence.enter();
        try {
            NativeIo.fsync(fd);
        } catch (NativeIoException e) {
            throw translate(e, true);
        } finally {
            fence.exit();
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        Ranges.check(this, offset, length);
        if (length == 0) {
            return;
        }
        if (punchHole) {
            fence.enter();
            try {
                NativeIo.fallocate(fd, NativeIo.FALLOC_FL_PUNCH_HOLE | NativeIo.FALLOC_FL_KEEP_SIZE, offset, length);
                return;
            } catch (NativeIoException e) {
                if (e.errno() != NativeIo.EOPNOTSUPP) {
                    throw translate(e, true);
                }
                LOG.info("{}: hole punching not supported, discards will write zeroes", path);
                punchHole = false;
            } finally {
                fence.exit();
            }
        }
        writeZeroBuffers(offset, length);
    }

    @Override
    public boolean copyFrom(BlockDevice source, long sourceOffset, long offset, long length) throws IOException {
        checkWritable();
        Ranges.check(this, offset, length);
        Ranges.check(source, sourceOffset, length);
        if (!copyRange || !(source instanceof FileBlockDevice from)) {
            return false;
        }
        fence.enter();
        try {
            from.fence.enter();
            try {
                return copyRange(from, sourceOffset, offset, length);
            } finally {
                from.fence.exit();
            }
        } finally {
            fence.exit();
        }
    }

    private boolean copyRange(FileBlockDevice from, long sourceOffset, long offset, long length) {
        long done = 0;
        try {
            while (done < length) {
                long n = NativeIo.copyFileRange(from.fd, sourceOffset + done, fd, offset + done, length - done);
                if (n == 0) {
                    return false; // the source is shorter than it was: let the buffered copy say so
                }
                done += n;
            }
            return true;
        } catch (NativeIoException e) {
            if (e.errno() == NativeIo.EXDEV || e.errno() == NativeIo.EOPNOTSUPP || e.errno() == NativeIo.ENOSYS
                    || e.errno() == NativeIo.EINVAL) {
                copyRange = false;
                LOG.debug("{}: no copy_file_range from {} ({}); copying through buffers", path, from.path,
                        e.getMessage());
            }
            return false;
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        Ranges.check(this, offset, length);
        if (length == 0) {
            return;
        }
        if (zeroRange) {
            fence.enter();
            try {
                NativeIo.fallocate(fd, NativeIo.FALLOC_FL_ZERO_RANGE | NativeIo.FALLOC_FL_KEEP_SIZE, offset, length);
                return;
            } catch (NativeIoException e) {
                if (e.errno() != NativeIo.EOPNOTSUPP && e.errno() != NativeIo.EINVAL) {
                    throw translate(e, true);
                }
                zeroRange = false;
            } finally {
                fence.exit();
            }
        }
        writeZeroBuffers(offset, length);
    }

    private void writeZeroBuffers(long offset, long length) throws IOException {
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(ZERO_CHUNK, length - done);
            write(offset + done, ZEROES.duplicate().limit(n), false);
            done += n;
        }
    }

    @Override
    public Extent extentAt(long offset) throws IOException {
        Ranges.check(this, offset, 0);
        if (offset == size || !seekData) {
            return new Extent(offset, size - offset, true);
        }
        fence.enter();
        try {
            long data;
            try {
                data = NativeIo.lseek(fd, offset, NativeIo.SEEK_DATA);
            } catch (NativeIoException e) {
                if (e.errno() == NativeIo.ENXIO) {
                    return new Extent(offset, size - offset, false);
                }
                throw e;
            }
            if (data > offset) {
                return new Extent(offset, Math.min(data, size) - offset, false);
            }
            long hole = NativeIo.lseek(fd, offset, NativeIo.SEEK_HOLE);
            return new Extent(offset, Math.min(hole, size) - offset, true);
        } catch (NativeIoException e) {
            if (e.errno() == NativeIo.EINVAL || e.errno() == NativeIo.EOPNOTSUPP) {
                seekData = false;
                return new Extent(offset, size - offset, true);
            }
            throw translate(e, false);
        } finally {
            fence.exit();
        }
    }

    /** Tells the kernel the file will be read mostly front to back (a clone's source). */
    public void adviseSequential() throws ClosedDeviceException {
        fence.enter();
        try {
            NativeIo.sequential(fd);
        } finally {
            fence.exit();
        }
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        Ranges.check(this, offset, length);
        fence.enter();
        try {
            NativeIo.willNeed(fd, offset, length);
        } finally {
            fence.exit();
        }
    }

    @Override
    public String describe() {
        return "file " + path + (readOnly ? " (read-only)" : "");
    }

    private void checkWritable() throws ReadOnlyException {
        if (readOnly) {
            throw new ReadOnlyException(path + " is open read-only");
        }
    }

    private IOException translate(NativeIoException e, boolean write) {
        return switch (e.errno()) {
            case NativeIo.ENOSPC -> new NoSpaceException(path + ": " + e.getMessage());
            case NativeIo.EIO -> new MediumErrorException(path + ": " + e.getMessage(), write, e);
            case NativeIo.EROFS -> new ReadOnlyException(path + ": " + e.getMessage());
            default -> e;
        };
    }

    /**
     * Closes the file once no call is inside any more; every later call fails with
     * {@link ClosedDeviceException}. A call that does not return within
     * {@value #CLOSE_WAIT_SECONDS} s (a hung storage device) makes close give up and keep the
     * descriptor open: a leaked descriptor is harmless, a reused one would let the late call
     * write into another file.
     */
    @Override
    public void close() throws IOException {
        boolean drained;
        try {
            drained = fence.close(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while closing " + path);
        }
        if (drained) {
            NativeIo.close(fd);
        } else if (fence.inside() > 0) {
            LOG.error("{}: {} calls still running {} s after close; the descriptor is left open so that they "
                    + "cannot reach another file", path, fence.inside(), CLOSE_WAIT_SECONDS);
        }
    }

    @Override
    public String toString() {
        return describe();
    }
}
