package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * WRITE ATOMIC(16) (SBC-4): a write that other commands see whole or not at all.
 *
 * <p>What is promised, and on what it rests:
 * <ul>
 *   <li><b>Against concurrent commands</b>, for up to {@link #MAX_ATOMIC_BYTES}: the write holds
 *       its blocks in the volume's {@link RangeLock} exclusively, so no other write (through any
 *       LUN of the volume) lands in between, and reads, which check the lock's optimistic stamp
 *       and read again under a shared range when it changed, never return part of it.</li>
 *   <li><b>Against power loss</b>, only what the backing store gives: one aligned 4 KiB page
 *       is assumed to be written whole by the host (file system page, disk sector or flash
 *       page), nothing larger. ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY are
 *       therefore one such page (or the physical block when larger), so an atomic write is
 *       always made of whole pages and a power cut can tear it only between pages, never
 *       inside one. Durability itself follows the usual rule: only once FUA or SYNCHRONIZE
 *       CACHE completes. A larger all-or-nothing promise across power loss would need a redo
 *       journal, which this target does not have.</li>
 * </ul>
 * The atomic boundary fields are reported as zero: a non-zero ATOMIC BOUNDARY is an invalid field.
 */
final class AtomicWrites {
    /** The largest atomic write: reported as MAXIMUM ATOMIC TRANSFER LENGTH. */
    static final int MAX_ATOMIC_BYTES = 1 << 20;
    /** The unit a power cut is assumed not to tear. */
    static final int UNTORN_BYTES = 4096;

    private final BlockCommands core;

    AtomicWrites(BlockCommands core) {
        this.core = core;
    }

    /** The Block Limits fields for a device (in its logical blocks). */
    static Inquiry.AtomicLimits limits(BlockDevice device) {
        int blockSize = device.logicalBlockSize();
        long unit = Math.max(1, Math.max(UNTORN_BYTES, device.physicalBlockSize()) / blockSize);
        long max = Math.max(unit, MAX_ATOMIC_BYTES / blockSize / unit * unit);
        return new Inquiry.AtomicLimits(max, unit, unit);
    }

    ScsiResult writeAtomic(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        BlockCommands.checkNoProtection(cdb);
        if (Cdb.u16(cdb, 10) != 0) {
            throw ScsiException.invalidCdbField(10, -1);
        }
        long lba = Cdb.u64(cdb, 2);
        int count = Cdb.u16(cdb, 12);
        // range before the atomic limits: a write past the end is out of range whatever its size
        core.checkRange(lba, count);
        if (count == 0) {
            return ScsiResult.good();
        }
        Inquiry.AtomicLimits limits = limits(core.device());
        if (count > limits.maxTransfer() || count % limits.granularity() != 0) {
            throw ScsiException.invalidCdbField(12, -1);
        }
        if (lba % limits.alignment() != 0) {
            throw ScsiException.invalidCdbField(2, -1);
        }
        core.checkWritable();
        int bytes = count * core.blockSize();
        ByteBuffer data = task.dataOut();
        if (data.remaining() < bytes) {
            // all or nothing: with part of the data there is nothing to write
            throw ScsiException.check(Asc.DATA_PHASE_ERROR);
        }
        try (RangeLock.Range held = core.hold(lba, count, RangeLock.Mode.EXCLUSIVE)) {
            core.device().write(lba * core.blockSize(), data.slice(0, bytes), core.fua(cdb));
        }
        return ScsiResult.good();
    }
}
