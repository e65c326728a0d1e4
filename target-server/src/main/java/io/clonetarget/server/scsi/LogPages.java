package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * LOG SENSE (SPC-4): the supported log pages page (00h) and, for a unit whose device allocates
 * from a pool, the Logical Block Provisioning page (0Ch, SBC-4) with the pool's available and
 * used resources, in threshold sets of {@link #thresholdExponent} logical blocks (the THRESHOLD
 * EXPONENT of VPD B2h). The pool is the file system holding the volume, shared with whatever
 * else lives there, so both counts have SCOPE 10b (not dedicated to this unit). Windows reads
 * the page to show and act on the space left. Only current cumulative values (PC 01b) are
 * kept; nothing is saved (SP is refused).
 */
final class LogPages {
    static final int SUPPORTED = 0x00;
    static final int PROVISIONING = 0x0c;

    private LogPages() {
    }

    /** log2 of the threshold set, in logical blocks: a 1 MiB set, so 32-bit counts cover 4 PiB. */
    static int thresholdExponent(int blockSize) {
        return 20 - Integer.numberOfTrailingZeros(blockSize);
    }

    static ScsiResult logSense(ScsiTask task, BlockDevice device) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        if (Cdb.bit(cdb, 1, 0)) {
            throw ScsiException.invalidCdbField(1, 0); // SP: no saved log parameters
        }
        int pc = Cdb.u8(cdb, 2) >>> 6;
        int page = Cdb.u8(cdb, 2) & 0x3f;
        int subpage = Cdb.u8(cdb, 3);
        int pointer = Cdb.u16(cdb, 5);
        int allocation = Cdb.u16(cdb, 7);
        if (pc != 1) {
            throw ScsiException.invalidCdbField(2, 7); // only current cumulative values
        }
        BlockDevice.Space space = device.space();
        ByteBuffer b;
        if (page == SUPPORTED && (subpage == 0 || subpage == 0xff)) {
            boolean withSubpages = subpage == 0xff;
            int pages = space != null ? 2 : 1;
            b = ByteBuffer.allocate(4 + pages * (withSubpages ? 2 : 1));
            b.put(0, (byte) (withSubpages ? 0x40 : 0x00)).put(1, (byte) subpage);
            int at = 4;
            for (int p : space != null ? new int[]{SUPPORTED, PROVISIONING} : new int[]{SUPPORTED}) {
                b.put(at++, (byte) p);
                if (withSubpages) {
                    b.put(at++, (byte) 0);
                }
            }
        } else if (page == PROVISIONING && subpage == 0 && space != null) {
            if (pointer > 2) {
                throw ScsiException.invalidCdbField(5, -1); // parameters 0001h and 0002h only
            }
            long set = (long) device.logicalBlockSize() << thresholdExponent(device.logicalBlockSize());
            long available = space.availableBytes() / set;
            long used = Math.max(0, space.totalBytes() - space.availableBytes()) / set;
            boolean both = pointer <= 1;
            b = ByteBuffer.allocate(4 + (both ? 24 : 12));
            b.put(0, (byte) PROVISIONING);
            int at = 4;
            if (both) {
                at = parameter(b, at, 0x0001, available);
            }
            parameter(b, at, 0x0002, used);
        } else {
            throw ScsiException.invalidCdbField(2, 5);
        }
        b.putShort(2, (short) (b.capacity() - 4));
        return ScsiResult.good(ModePages.copyOut(task, b.position(0), allocation));
    }

    /** A resource count parameter: code, FORMAT AND LINKING 11b, length 8, the count, SCOPE 10b. */
    private static int parameter(ByteBuffer b, int at, int code, long count) {
        b.putShort(at, (short) code).put(at + 2, (byte) 0x03).put(at + 3, (byte) 8)
                .putInt(at + 4, (int) Math.min(count, 0xffff_ffffL)).put(at + 8, (byte) 0x02);
        return at + 12;
    }
}
