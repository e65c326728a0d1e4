package io.clonetarget.storage.snapshot;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * The difference storage of one volume: chunk-sized slots in a device (a file in the snapshot
 * directory), grown in steps up to a limit. Slot {@code s} is bytes {@code [s * chunk, (s + 1) *
 * chunk)}. Which slots are in use is rebuilt from the exception table at open; a slot is handed
 * out once and comes back with {@link #free} after the commit that stopped using it is durable.
 *
 * <p>A file device grows with {@link FileBlockDevice#prepareGrow} (ftruncate and fsync) before
 * a slot past its end is used; any other device is used up to its size. Thread-safe: allocation
 * and growth under this object's monitor, I/O unlocked.
 */
final class DiffStorage {
    private final BlockDevice device;
    private final int chunk;
    private final long capacity;
    private final long step;
    private final BitSet used = new BitSet();
    private long allocatedSlots;
    private long inUse;

    DiffStorage(BlockDevice device, int chunk, long capacity, long stepBytes) {
        this.device = device;
        this.chunk = chunk;
        this.capacity = device instanceof FileBlockDevice ? capacity : Math.min(capacity, device.size() / chunk);
        this.step = Math.max(1, stepBytes / chunk);
        this.allocatedSlots = Math.min(this.capacity, device.size() / chunk);
    }

    BlockDevice device() {
        return device;
    }

    /**
     * Marks a slot the durable exception table uses (at open).
     *
     * @throws IOException when the device is too short to hold it (truncated, or not the metadata's)
     */
    synchronized void use(long slot) throws IOException {
        if (slot >= allocatedSlots) {
            throw new IOException("the snapshot metadata stores chunks in slot " + slot + " of " + device.describe()
                    + ", which holds " + allocatedSlots + " slots (" + device.size() + " bytes; it needs at least "
                    + (slot + 1) * chunk + "): the difference storage is truncated or not this metadata's");
        }
        if (!used.get((int) slot)) {
            used.set((int) slot);
            inUse++;
        }
    }

    /**
     * A free slot, growing the storage by a step when every allocated slot is in use.
     *
     * @return the slot, or -1 when the storage is at its limit and full
     */
    synchronized long allocate() throws IOException {
        long s = used.nextClearBit(0);
        if (s >= allocatedSlots) {
            if (allocatedSlots >= capacity) {
                return -1;
            }
            long grown = Math.min(capacity, allocatedSlots + step);
            if (device instanceof FileBlockDevice file) {
                file.prepareGrow(grown * chunk);
                file.commitGrow();
            }
            allocatedSlots = grown;
        }
        used.set((int) s);
        inUse++;
        return s;
    }

    /** The slot's data is no longer needed by the durable state: reuse it, give its space back. */
    void free(long slot) {
        synchronized (this) {
            if (!used.get((int) slot)) {
                return;
            }
            used.clear((int) slot);
            inUse--;
        }
        try {
            device.discard(slot * chunk, chunk);
        } catch (IOException e) {
            // only space is lost until the slot is reused; its data is never read again
        }
    }

    /** A slot allocated for a copy that failed before anything referred to it. */
    void abandon(long slot) {
        synchronized (this) {
            if (used.get((int) slot)) {
                used.clear((int) slot);
                inUse--;
            }
        }
    }

    void write(long slot, int inChunk, ByteBuffer src, boolean fua) throws IOException {
        device.write(slot * chunk + inChunk, src, fua);
    }

    void read(long slot, int inChunk, ByteBuffer dst) throws IOException {
        device.read(slot * chunk + inChunk, dst);
    }

    void flush() throws IOException {
        device.flush();
    }

    synchronized long slotsInUse() {
        return inUse;
    }

    synchronized long allocatedSlots() {
        return allocatedSlots;
    }

    long capacity() {
        return capacity;
    }
}
