package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/**
 * Mode pages of a block logical unit (SPC-4 section 7.5, SBC-4 section 6.5) and MODE SENSE /
 * MODE SELECT over them.
 *
 * <p>Pages: Read-Write Error Recovery (01h), Caching (08h, WCE changeable, on by default:
 * writes are cached until SYNCHRONIZE CACHE or FUA), Control (0Ah, D_SENSE and SWP
 * changeable) and Informational Exceptions Control (1Ch). Nothing is savable. Thread-safe: the
 * changeable bits are volatile and each MODE SELECT applies under a lock.
 */
public final class ModePages {
    static final int RW_ERROR_RECOVERY = 0x01;
    static final int CACHING = 0x08;
    static final int CONTROL = 0x0a;
    static final int INFORMATIONAL_EXCEPTIONS = 0x1c;
    static final int ALL_PAGES = 0x3f;
    private static final int[] PAGES = {RW_ERROR_RECOVERY, CACHING, CONTROL, INFORMATIONAL_EXCEPTIONS};

    private volatile boolean writeCacheEnabled = true;
    private volatile boolean descriptorSense;
    private volatile boolean softwareWriteProtect;

    /** WCE: when off, every write is made durable before it completes. */
    public boolean writeCacheEnabled() {
        return writeCacheEnabled;
    }

    /** D_SENSE: report sense data in descriptor format. */
    public boolean descriptorSense() {
        return descriptorSense;
    }

    /** SWP: the initiator asked for the medium to be write protected. */
    public boolean softwareWriteProtect() {
        return softwareWriteProtect;
    }

    /** Page control values of MODE SENSE. */
    enum PageControl { CURRENT, CHANGEABLE, DEFAULT, SAVED }

    private static int pageLength(int page) {
        return switch (page) {
            case CACHING -> 20;
            default -> 12;
        };
    }

    /** Writes one page (header included) at {@code out}'s position. */
    private void putPage(ByteBuffer out, int page, PageControl pc) {
        int start = out.position();
        int length = pageLength(page);
        for (int i = 0; i < length; i++) {
            out.put((byte) 0);
        }
        out.put(start, (byte) page);
        out.put(start + 1, (byte) (length - 2));
        boolean changeable = pc == PageControl.CHANGEABLE;
        boolean defaults = pc == PageControl.DEFAULT;
        switch (page) {
            case RW_ERROR_RECOVERY -> {
                if (!changeable) {
                    out.put(start + 2, (byte) 0xc0);
                }
            }
            case CACHING -> {
                boolean wce = changeable || (defaults ? true : writeCacheEnabled);
                out.put(start + 2, (byte) (wce ? 0x04 : 0));
                if (!changeable) {
                    out.putShort(start + 4, (short) 0xffff);
                    out.putShort(start + 8, (short) 0xffff);
                    out.putShort(start + 10, (short) 0xffff);
                }
            }
            case CONTROL -> {
                boolean dsense = changeable || (!defaults && descriptorSense);
                boolean swp = changeable || (!defaults && softwareWriteProtect);
                out.put(start + 2, (byte) (dsense ? 0x04 : 0));
                if (!changeable) {
                    out.put(start + 3, (byte) 0x10);
                }
                out.put(start + 4, (byte) (swp ? 0x08 : 0));
                if (!changeable) {
                    out.putShort(start + 8, (short) 0xffff);
                }
            }
            case INFORMATIONAL_EXCEPTIONS -> {
                if (!changeable) {
                    out.put(start + 2, (byte) 0x08);
                }
            }
            default -> throw new IllegalArgumentException("page " + page);
        }
    }

    /**
     * MODE SENSE(6) or (10).
     *
     * @param blocks the logical unit's capacity in blocks
     * @param writeProtected whether the device-specific parameter reports WP
     */
    public ByteBuffer sense(ScsiTask task, boolean ten, long blocks, int blockSize, boolean writeProtected)
            throws ScsiException {
        ByteBuffer cdb = task.cdb();
        boolean dbd = Cdb.bit(cdb, 1, 3);
        boolean llbaa = ten && Cdb.bit(cdb, 1, 4);
        int pcCode = Cdb.u8(cdb, 2) >>> 6;
        int page = Cdb.u8(cdb, 2) & 0x3f;
        int subpage = Cdb.u8(cdb, 3);
        int allocation = ten ? Cdb.u16(cdb, 7) : Cdb.u8(cdb, 4);
        PageControl pc = PageControl.values()[pcCode];
        if (pc == PageControl.SAVED) {
            throw ScsiException.check(Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
        }
        boolean all = page == ALL_PAGES;
        if (!all && !supported(page)) {
            throw ScsiException.invalidCdbField(2, 5);
        }
        if (subpage != 0 && subpage != 0xff) {
            throw ScsiException.invalidCdbField(3, -1);
        }
        int headerLength = ten ? 8 : 4;
        int descriptorLength = dbd ? 0 : (llbaa ? 16 : 8);
        ByteBuffer out = ByteBuffer.allocate(headerLength + descriptorLength + 128);
        out.position(headerLength);
        if (descriptorLength == 16) {
            out.putLong(blocks);
            out.putInt(0);
            out.putInt(blockSize);
        } else if (descriptorLength == 8) {
            out.putInt((int) Math.min(blocks, 0xffff_ffffL));
            out.put((byte) 0);
            out.put((byte) (blockSize >>> 16)).put((byte) (blockSize >>> 8)).put((byte) blockSize);
        }
        for (int p : PAGES) {
            if (all || p == page) {
                putPage(out, p, pc);
            }
        }
        int length = out.position();
        int deviceSpecific = (writeProtected ? 0x80 : 0) | 0x10;
        if (ten) {
            out.putShort(0, (short) (length - 2));
            out.put(3, (byte) deviceSpecific);
            out.put(4, (byte) (llbaa && descriptorLength == 16 ? 1 : 0));
            out.putShort(6, (short) descriptorLength);
        } else {
            if (length - 1 > 255) {
                throw new IllegalStateException("mode data too long for MODE SENSE(6)");
            }
            out.put(0, (byte) (length - 1));
            out.put(2, (byte) deviceSpecific);
            out.put(3, (byte) descriptorLength);
        }
        out.flip();
        return copyOut(task, out, allocation);
    }

    private static boolean supported(int page) {
        for (int p : PAGES) {
            if (p == page) {
                return true;
            }
        }
        return false;
    }

    /**
     * MODE SELECT(6) or (10). Accepts the header, an optional block descriptor whose block
     * length must match, and pages whose non-changeable bits equal the current values.
     *
     * @return whether anything changed (the caller raises MODE PARAMETERS CHANGED)
     */
    public synchronized boolean select(ScsiTask task, boolean ten, long blocks, int blockSize) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        boolean sp = Cdb.bit(cdb, 1, 0);
        boolean pf = Cdb.bit(cdb, 1, 4);
        int listLength = ten ? Cdb.u16(cdb, 7) : Cdb.u8(cdb, 4);
        if (sp) {
            throw ScsiException.invalidCdbField(1, 0);
        }
        if (listLength == 0) {
            return false;
        }
        if (!pf) {
            throw ScsiException.invalidCdbField(1, 4);
        }
        ByteBuffer data = task.dataOut();
        if (data.remaining() < listLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        int headerLength = ten ? 8 : 4;
        if (listLength < headerLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        int descriptorLength = ten ? Cdb.u16(data, 6) : Cdb.u8(data, 3);
        int p = headerLength;
        if (descriptorLength != 0) {
            boolean longLba = ten && (Cdb.u8(data, 4) & 1) != 0;
            int expected = longLba ? 16 : 8;
            if (descriptorLength != expected) {
                throw ScsiException.invalidParameterField(ten ? 6 : 3, -1);
            }
            if (listLength < p + descriptorLength) {
                throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
            }
            int length = longLba ? data.getInt(p + 12) : Cdb.u24(data, p + 5);
            if (length != blockSize) {
                throw ScsiException.invalidParameterField(p + (longLba ? 12 : 5), -1);
            }
            p += descriptorLength;
        }
        boolean wce = writeCacheEnabled;
        boolean dsense = descriptorSense;
        boolean swp = softwareWriteProtect;
        while (p < listLength) {
            if (listLength - p < 2) {
                throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
            }
            int code = Cdb.u8(data, p);
            if ((code & 0x40) != 0) {
                throw ScsiException.invalidParameterField(p, 6);
            }
            int page = code & 0x3f;
            if (!supported(page)) {
                throw ScsiException.invalidParameterField(p, 5);
            }
            int length = Cdb.u8(data, p + 1) + 2;
            if (length != pageLength(page)) {
                throw ScsiException.invalidParameterField(p + 1, -1);
            }
            if (listLength - p < length) {
                throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
            }
            ByteBuffer current = ByteBuffer.allocate(length);
            putPage(current, page, PageControl.CURRENT);
            ByteBuffer mask = ByteBuffer.allocate(length);
            putPage(mask, page, PageControl.CHANGEABLE);
            for (int i = 2; i < length; i++) {
                int diff = (data.get(p + i) ^ current.get(i)) & ~mask.get(i) & 0xff;
                if (diff != 0) {
                    throw ScsiException.invalidParameterField(p + i, 31 - Integer.numberOfLeadingZeros(diff));
                }
            }
            switch (page) {
                case CACHING -> wce = (data.get(p + 2) & 0x04) != 0;
                case CONTROL -> {
                    dsense = (data.get(p + 2) & 0x04) != 0;
                    swp = (data.get(p + 4) & 0x08) != 0;
                }
                default -> { }
            }
            p += length;
        }
        boolean changed = wce != writeCacheEnabled || dsense != descriptorSense || swp != softwareWriteProtect;
        writeCacheEnabled = wce;
        descriptorSense = dsense;
        softwareWriteProtect = swp;
        return changed;
    }

    /** Copies at most {@code allocation} bytes of {@code src} into a data-in buffer. */
    static ByteBuffer copyOut(ScsiTask task, ByteBuffer src, int allocation) {
        int n = Math.min(allocation, src.remaining());
        ByteBuffer out = task.allocateDataIn(n);
        out.put(src.slice(src.position(), n));
        return out.flip();
    }
}
