package io.clonetarget.storage.device;

import java.nio.ByteBuffer;

/**
 * A volatile {@link BlockDevice} in one direct buffer, for tests and for generated demo images.
 * "Durable" means nothing here: flush is a no-op, and {@link #writeAtomic} is a plain write. Thread-safe for disjoint ranges; overlapping
 * concurrent writes may interleave, as on real disks.
 */
public final class MemoryBlockDevice implements BlockDevice {
    private final ByteBuffer data;
    private final int logicalBlockSize;
    private final boolean readOnly;

    public MemoryBlockDevice(int sizeBytes, int logicalBlockSize) {
        this(ByteBuffer.allocateDirect(sizeBytes), logicalBlockSize, false);
    }

    private MemoryBlockDevice(ByteBuffer data, int logicalBlockSize, boolean readOnly) {
        if (data.capacity() % logicalBlockSize != 0) {
            throw new IllegalArgumentException("size must be a multiple of " + logicalBlockSize);
        }
        this.data = data;
        this.logicalBlockSize = logicalBlockSize;
        this.readOnly = readOnly;
    }

    /** A read-only view sharing this device's bytes. */
    public MemoryBlockDevice readOnlyView() {
        return new MemoryBlockDevice(data, logicalBlockSize, true);
    }

    @Override
    public long size() {
        return data.capacity();
    }

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public int physicalBlockSize() {
        return Math.max(4096, logicalBlockSize);
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    /** Nothing here survives a power loss, so every write is trivially all-or-nothing across one. */
    @Override
    public int atomicWriteLimit() {
        return readOnly ? 0 : JournaledDevice.MAX_ATOMIC_BYTES;
    }

    @Override
    public void writeAtomic(long offset, ByteBuffer src, boolean fua) throws ReadOnlyException {
        write(offset, src, fua);
    }

    @Override
    public boolean discardZeroesData() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        Ranges.check(this, offset, dst.remaining());
        dst.put(data.slice((int) offset, dst.remaining()));
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws ReadOnlyException {
        if (readOnly) {
            throw new ReadOnlyException("memory device is read-only");
        }
        Ranges.check(this, offset, src.remaining());
        data.slice((int) offset, src.remaining()).put(src);
    }

    @Override
    public void flush() {
    }

    @Override
    public void discard(long offset, long length) throws ReadOnlyException {
        writeZeroes(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws ReadOnlyException {
        if (readOnly) {
            throw new ReadOnlyException("memory device is read-only");
        }
        Ranges.check(this, offset, length);
        ByteBuffer slice = data.slice((int) offset, (int) length);
        while (slice.hasRemaining()) {
            slice.put((byte) 0);
        }
    }

    @Override
    public String describe() {
        return "memory (" + data.capacity() + " bytes)";
    }

    @Override
    public void close() {
    }
}
