package io.clonetarget.storage.device;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A byte-addressed block device.
 *
 * <p>Offsets and lengths are in bytes. Callers keep every request inside {@code [0, size())};
 * implementations check and throw {@link IndexOutOfBoundsException} otherwise. Reads and writes
 * transfer exactly {@code buffer.remaining()} bytes and leave the buffer's position at its limit.
 *
 * <p><b>Durability.</b> A completed {@link #write} may still sit in a volatile cache. It is
 * durable once a later {@link #flush()} completes, or at once when it was written with
 * {@code fua} set. Discard and write-zeroes follow the same rule.
 *
 * <p><b>Thread safety.</b> All methods may be called concurrently, except {@link #close()},
 * which the owner calls once no request is in flight.
 */
public interface BlockDevice extends Closeable {

    /** Size in bytes; a multiple of {@link #logicalBlockSize()}. */
    long size();

    /** The addressable unit, in bytes (512 or 4096). */
    int logicalBlockSize();

    /** The unit the device writes internally, in bytes; a multiple of the logical block size. */
    int physicalBlockSize();

    /**
     * The space of the storage pool the device allocates from (for a file: its file system).
     *
     * @param availableBytes what the device could still allocate
     * @param totalBytes the pool's size
     */
    record Space(long availableBytes, long totalBytes) {
    }

    /** The pool the device allocates from, or null when it does not allocate (memory, a block device). */
    default Space space() throws IOException {
        return null;
    }

    /** Whether writes, discards and write-zeroes are refused with {@link ReadOnlyException}. */
    boolean isReadOnly();

    /** Reads {@code dst.remaining()} bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * Writes {@code src.remaining()} bytes at {@code offset}.
     *
     * @param fua force unit access: the data is durable when this call returns
     */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    /**
     * Reads {@code dst.remaining()} bytes only if that needs no waiting for storage (the data is
     * cached), or, where the device cannot tell, only while its recent transfers were fast. Used
     * to answer a command on the thread that received it.
     *
     * @return true when read (position at the limit); false, with {@code dst} unchanged in
     *     position, when the read would block or the device cannot tell
     */
    default boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return false;
    }

    /**
     * Writes {@code src.remaining()} bytes only if that needs no waiting for storage (a cached,
     * not durable, write), under the same rule as {@link #tryRead}. A false return may leave a
     * prefix written; the caller then writes the whole range again with {@link #write}.
     *
     * @return true when all was written (position at the limit)
     */
    default boolean tryWrite(long offset, ByteBuffer src) throws IOException {
        return false;
    }

    /**
     * The largest write, in bytes, that {@link #writeAtomic} makes all-or-nothing across power
     * loss (and a crash of the process); 0 when the device offers no such writes.
     */
    default int atomicWriteLimit() {
        return 0;
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code offset} so that after a power loss at any
     * moment the range reads either entirely as before or entirely as written, never a mix.
     * Offset and length are multiples of the logical block size; the length is at most
     * {@link #atomicWriteLimit()}. Durability follows the usual rule ({@code fua} or a later
     * {@link #flush()}); atomicity against concurrent requests to the same range is the
     * caller's (the SCSI layer holds the range exclusively).
     *
     * @throws UnsupportedOperationException when {@link #atomicWriteLimit()} is 0
     */
    default void writeAtomic(long offset, ByteBuffer src, boolean fua) throws IOException {
        throw new UnsupportedOperationException(describe() + " offers no power-safe atomic writes");
    }

    /** Makes every write, discard and write-zeroes completed before this call durable. */
    void flush() throws IOException;

    /**
     * Tells the device the range is unused. Whether it reads back as zeroes afterwards is
     * {@link #discardZeroesData()}.
     */
    void discard(long offset, long length) throws IOException;

    /** Makes the range read back as zeroes, deallocating it where the device can. */
    void writeZeroes(long offset, long length) throws IOException;

    /** Whether a discarded range reads back as zeroes (SCSI LBPRZ). */
    default boolean discardZeroesData() {
        return false;
    }

    /**
     * The allocation state of the device at {@code offset}: whether the bytes from there are
     * backed by storage, and for how many bytes that state holds (at least one logical block
     * unless {@code offset == size()}). Devices without that knowledge report the rest of the
     * device as allocated.
     */
    default Extent extentAt(long offset) throws IOException {
        Ranges.check(this, offset, 0);
        return new Extent(offset, size() - offset, true);
    }

    /**
     * Copies {@code length} bytes from {@code source} at {@code sourceOffset} to this device at
     * {@code offset} without passing them through the caller's memory, where both devices allow
     * it (files: copy_file_range). Like a write, it is durable only after {@link #flush()}.
     *
     * @return false when nothing can be done that way for this pair (or it failed part way); the
     *     caller then copies through a buffer, which also names any error precisely
     */
    default boolean copyFrom(BlockDevice source, long sourceOffset, long offset, long length) throws IOException {
        return false;
    }

    /**
     * A hint: begin writing back what the device holds in a volatile cache, without waiting
     * (nothing is durable by it), so that a later {@link #flush} has little left to write.
     */
    default void startWriteback() throws IOException {
    }

    /** A hint that the range will be read soon. */
    default void prefetch(long offset, long length) throws IOException {
        Ranges.check(this, offset, length);
    }

    /** A short human description for logs and status ("file /var/lib/x.img"). */
    String describe();

    /** One allocation run: {@code length} bytes from {@code offset}, all allocated or all not. */
    record Extent(long offset, long length, boolean allocated) {
        public Extent {
            if (offset < 0 || length < 0) {
                throw new IllegalArgumentException("negative extent " + offset + "+" + length);
            }
        }
    }
}
