package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The thin-provisioning commands of SBC-4: WRITE SAME (10/16, with and without UNMAP), UNMAP and
 * GET LBA STATUS, on {@link BlockCommands}' device, checks and write ranges.
 */
final class ProvisioningCommands {
    private final BlockCommands core;

    ProvisioningCommands(BlockCommands core) {
        this.core = core;
    }

    ScsiResult writeSame(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        boolean sixteen = Cdb.opcode(cdb) == 0x93;
        int flags = Cdb.u8(cdb, 1);
        if ((flags & 0xe0) != 0) {
            throw ScsiException.invalidCdbField(1, 7);
        }
        if ((flags & 0x10) != 0) {
            throw ScsiException.invalidCdbField(1, 4);
        }
        if ((flags & 0x06) != 0) {
            throw ScsiException.invalidCdbField(1, (flags & 0x04) != 0 ? 2 : 1);
        }
        boolean noDataOut = sixteen && (flags & 0x01) != 0;
        if (!sixteen && (flags & 0x01) != 0) {
            throw ScsiException.invalidCdbField(1, 0);
        }
        boolean unmap = (flags & 0x08) != 0;
        long lba = sixteen ? Cdb.u64(cdb, 2) : Cdb.u32(cdb, 2);
        long count = sixteen ? Cdb.u32(cdb, 10) : Cdb.u16(cdb, 7);
        int lengthOffset = sixteen ? 10 : 7;
        if (count == 0) {
            // WSNZ=0: zero blocks means "to the end of the medium" (SBC-4 5.50)
            if (lba < 0 || lba > core.blocks()) {
                throw ScsiException.lbaOutOfRange();
            }
            count = core.blocks() - lba;
            if (count == 0) {
                return ScsiResult.good();
            }
        }
        if (count > BlockCommands.MAX_WRITE_SAME_BLOCKS) {
            throw ScsiException.invalidCdbField(lengthOffset, -1);
        }
        core.checkRange(lba, count);
        // a write-protected medium refuses before the data-out is looked at (what was sent does not matter)
        core.checkWritable();
        ByteBuffer data = task.dataOut();
        if (!noDataOut && (data.remaining() != core.blockSize() || task.dataOutReceived() != core.blockSize())) {
            throw ScsiException.check(SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, lengthOffset, -1));
        }
        long offset = lba * core.blockSize();
        long length = count * core.blockSize();
        try (RangeLock.Range held = core.hold(lba, count, RangeLock.Mode.SHARED)) {
            if (unmap) {
                core.device().discard(offset, length);
            } else if (noDataOut || isZero(data)) {
                core.device().writeZeroes(offset, length);
            } else {
                replicate(offset, length, data.slice(0, core.blockSize()));
            }
        }
        if (!core.modes().writeCacheEnabled()) {
            core.device().flush();
        }
        return ScsiResult.good();
    }

    private static boolean isZero(ByteBuffer data) {
        for (int i = data.position(); i < data.limit(); i++) {
            if (data.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    private void replicate(long offset, long length, ByteBuffer block) throws IOException {
        int chunk = (int) Math.min(BlockCommands.CHUNK, length);
        ByteBuffer pattern = core.buffers().acquire(chunk);
        try {
            pattern.clear().limit(chunk);
            while (pattern.hasRemaining()) {
                pattern.put(block.duplicate());
            }
            long done = 0;
            while (done < length) {
                int n = (int) Math.min(chunk, length - done);
                core.device().write(offset + done, pattern.duplicate().position(0).limit(n), false);
                done += n;
            }
        } finally {
            core.buffers().release(pattern);
        }
    }

    ScsiResult unmap(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        if (Cdb.bit(cdb, 1, 0)) {
            throw ScsiException.invalidCdbField(1, 0);
        }
        int listLength = Cdb.u16(cdb, 7);
        if (listLength == 0) {
            return ScsiResult.good();
        }
        ByteBuffer data = task.dataOut();
        if (listLength < 8 || data.remaining() < listLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        int descriptorBytes = Math.min(Cdb.u16(data, 2), listLength - 8);
        int count = descriptorBytes / 16;
        if (count > BlockCommands.MAX_UNMAP_DESCRIPTORS) {
            throw ScsiException.invalidParameterField(2, -1);
        }
        long total = 0;
        for (int i = 0; i < count; i++) {
            int p = 8 + 16 * i;
            long lba = Cdb.u64(data, p);
            long n = Cdb.u32(data, p + 8);
            core.checkRange(lba, n);
            total += n;
            if (total > BlockCommands.MAX_UNMAP_BLOCKS) {
                throw ScsiException.invalidParameterField(p + 8, -1);
            }
        }
        core.checkWritable();
        for (int i = 0; i < count; i++) {
            int p = 8 + 16 * i;
            long n = Cdb.u32(data, p + 8);
            if (n > 0) {
                long lba = Cdb.u64(data, p);
                try (RangeLock.Range held = core.hold(lba, n, RangeLock.Mode.SHARED)) {
                    core.device().discard(lba * core.blockSize(), n * core.blockSize());
                }
            }
        }
        if (!core.modes().writeCacheEnabled()) {
            core.device().flush();
        }
        return ScsiResult.good();
    }

    ScsiResult getLbaStatus(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        long lba = Cdb.u64(cdb, 2);
        long allocation = Cdb.u32(cdb, 10);
        long blocks = core.blocks();
        if (lba < 0 || lba >= blocks) {
            throw ScsiException.lbaOutOfRange();
        }
        int maxDescriptors = (int) Math.max(1, Math.min(64, (allocation - 8) / 16));
        ByteBuffer out = ByteBuffer.allocate(8 + 16 * maxDescriptors);
        out.position(8);
        long offset = lba * core.blockSize();
        int n = 0;
        while (n < maxDescriptors && offset < core.device().size()) {
            BlockDevice.Extent first = core.device().extentAt(offset);
            boolean allocated = first.allocated();
            long end = offset + first.length();
            while (end < core.device().size()) {
                BlockDevice.Extent next = core.device().extentAt(end);
                if (next.allocated() != allocated || next.length() == 0) {
                    break;
                }
                end += next.length();
            }
            long startBlock = offset / core.blockSize();
            long endBlock = allocated ? (end + core.blockSize() - 1) / core.blockSize() : Math.max(startBlock + 1, end / core.blockSize());
            endBlock = Math.min(endBlock, blocks);
            long runBlocks = Math.min(endBlock - startBlock, 0xffff_ffffL);
            out.putLong(startBlock).putInt((int) runBlocks).put((byte) (allocated ? 0 : 1))
                    .put((byte) 0).putShort((short) 0);
            offset = (startBlock + runBlocks) * core.blockSize();
            n++;
        }
        out.putInt(0, 4 + 16 * n);
        out.flip();
        return ScsiResult.good(ModePages.copyOut(task, out, (int) Math.min(allocation, Integer.MAX_VALUE)));
    }
}
