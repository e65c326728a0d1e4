package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * WRITE ATOMIC(16) (SBC-4): a write that other commands, and a power loss, see whole or not at all.
 *
 * <p>What is promised, and on what it rests:
 * <ul>
 *   <li><b>Against concurrent commands</b>: the write holds its blocks in the volume's
 *       {@link RangeLock} exclusively, so no other write (through any LUN of the volume) lands in
 *       between, and reads, which check the lock's optimistic stamp and read again under a shared
 *       range when it changed, never return part of it. The hold is also what
 *       {@link io.clonetarget.storage.device.JournaledDevice} needs: overlapping writes are never
 *       in flight together.</li>
 *   <li><b>Against power loss</b>: the device's {@link BlockDevice#writeAtomic}, up to its
 *       {@link BlockDevice#atomicWriteLimit()} (a redo journal for the volumes the server
 *       serves). Durability follows the usual rule: only once FUA or SYNCHRONIZE CACHE completes
 *       (in fact an acknowledged atomic write is already in the flushed journal).</li>
 * </ul>
 * A device without power-safe atomic writes (limit 0: read-only LUNs, snapshot LUNs) reports
 * zero atomic limits, and WRITE ATOMIC(16) is an invalid operation code there, not listed by
 * REPORT SUPPORTED OPERATION CODES. ATOMIC ALIGNMENT and granularity are the physical block. The
 * atomic boundary fields are reported as zero: a non-zero ATOMIC BOUNDARY is an invalid field.
 */
final class AtomicWrites {
    /** The largest atomic write any device may offer: MAXIMUM ATOMIC TRANSFER LENGTH is at most this. */
    static final int MAX_ATOMIC_BYTES = 1 << 20;

    private final BlockCommands core;

    AtomicWrites(BlockCommands core) {
        this.core = core;
    }

    /** Whether the unit offers WRITE ATOMIC(16) at all. */
    boolean offered() {
        return core.device().atomicWriteLimit() > 0 && !core.device().isReadOnly();
    }

    /** The Block Limits fields for a device (in its logical blocks); all zero without atomic writes. */
    static Inquiry.AtomicLimits limits(BlockDevice device) {
        int blockSize = device.logicalBlockSize();
        long unit = Math.max(1, device.physicalBlockSize() / blockSize);
        long max = Math.min(MAX_ATOMIC_BYTES, device.atomicWriteLimit()) / blockSize / unit * unit;
        if (max == 0 || device.isReadOnly()) {
            return new Inquiry.AtomicLimits(0, 0, 0);
        }
        return new Inquiry.AtomicLimits(max, unit, unit);
    }

    ScsiResult writeAtomic(ScsiTask task) throws ScsiException, IOException {
        if (!offered()) {
            throw ScsiException.invalidOpcode();
        }
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
            core.device().writeAtomic(lba * core.blockSize(), data.slice(0, bytes), core.fua(cdb));
        }
        return ScsiResult.good();
    }
}
