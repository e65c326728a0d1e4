package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import io.clonetarget.storage.lock.RangeLock;
import java.io.InterruptedIOException;
import java.util.function.BooleanSupplier;

/**
 * The data-moving commands of SBC-4: READ, WRITE, VERIFY, WRITE AND VERIFY, COMPARE AND WRITE,
 * ORWRITE, SYNCHRONIZE CACHE and PRE-FETCH; the thin-provisioning ones (WRITE SAME, UNMAP, GET
 * LBA STATUS) are {@link ProvisioningCommands}, on the same checks and write ranges.
 *
 * <p>LBA arithmetic is on longs and checked against overflow: an LBA at or above 2^63 (a
 * negative long) and LBA + length past the end are both LBA OUT OF RANGE. Writes use FUA when
 * the CDB asks for it or when the write cache is disabled (WCE=0).
 */
final class BlockCommands {
    /** Largest transfer of one command; reported as MAXIMUM TRANSFER LENGTH. */
    static final int MAX_TRANSFER_BYTES = 8 << 20;
    /** Reported as OPTIMAL TRANSFER LENGTH. */
    static final int OPTIMAL_TRANSFER_BYTES = 1 << 20;
    static final long MAX_UNMAP_BLOCKS = 1 << 20;
    static final int MAX_UNMAP_DESCRIPTORS = 256;
    static final long MAX_WRITE_SAME_BLOCKS = 65535;
    static final int MAX_COMPARE_AND_WRITE_BLOCKS = 16;
    static final int CHUNK = 1 << 20;

    private final BlockDevice device;
    private final ModePages modes;
    private final BufferSource buffers;
    private final BooleanSupplier writeProtected;
    private final int blockSize;
    /**
     * The volume's write ranges: every writing command holds its range shared, the
     * read-modify-write commands (COMPARE AND WRITE, ORWRITE) exclusively, so nothing lands
     * between their read and their write. Shared by every LUN of the volume.
     */
    private final RangeLock ranges;

    BlockCommands(BlockDevice device, ModePages modes, BufferSource buffers, BooleanSupplier writeProtected,
                  RangeLock ranges) {
        this.ranges = ranges;
        this.device = device;
        this.modes = modes;
        this.buffers = buffers;
        this.writeProtected = writeProtected;
        this.blockSize = device.logicalBlockSize();
    }

    BlockDevice device() {
        return device;
    }

    /** The volume's write ranges (what a ROD token is bound to). */
    RangeLock ranges() {
        return ranges;
    }

    BufferSource buffers() {
        return buffers;
    }

    ModePages modes() {
        return modes;
    }

    int blockSize() {
        return blockSize;
    }

    Inquiry.Limits limits() {
        int granularity = Math.max(1, device.physicalBlockSize() / blockSize);
        return new Inquiry.Limits(blockSize, granularity, MAX_TRANSFER_BYTES / blockSize, OPTIMAL_TRANSFER_BYTES / blockSize,
                MAX_UNMAP_BLOCKS, MAX_UNMAP_DESCRIPTORS, granularity, MAX_WRITE_SAME_BLOCKS,
                MAX_COMPARE_AND_WRITE_BLOCKS, AtomicWrites.limits(device));
    }

    long blocks() {
        return device.size() / blockSize;
    }

    /** LBA and transfer length of a READ/WRITE/VERIFY-shaped CDB, and where the length field is. */
    private record Extent(long lba, long blocks, int lengthOffset) {
    }

    private static Extent extent(ByteBuffer cdb) {
        return switch (Cdb.opcode(cdb) >>> 5) {
            case 0 -> {
                int len = Cdb.u8(cdb, 4);
                yield new Extent(Cdb.u24(cdb, 1) & 0x1f_ffff, len == 0 ? 256 : len, 4);
            }
            case 1, 2 -> new Extent(Cdb.u32(cdb, 2), Cdb.u16(cdb, 7), 7);
            case 5 -> new Extent(Cdb.u32(cdb, 2), Cdb.u32(cdb, 6), 6);
            case 4 -> new Extent(Cdb.u64(cdb, 2), Cdb.u32(cdb, 10), 10);
            default -> throw new IllegalArgumentException("not a block command");
        };
    }

    void checkRange(long lba, long count) throws ScsiException {
        long blocks = blocks();
        if (lba < 0 || count < 0 || lba > blocks || count > blocks - lba) {
            throw ScsiException.lbaOutOfRange();
        }
    }

    private void checkTransfer(Extent e) throws ScsiException {
        if (e.blocks() * blockSize > MAX_TRANSFER_BYTES) {
            throw ScsiException.invalidCdbField(e.lengthOffset(), -1);
        }
    }

    private static void checkProtect(ByteBuffer cdb) throws ScsiException {
        if (Cdb.opcode(cdb) != 0x08 && Cdb.opcode(cdb) != 0x0a && (Cdb.u8(cdb, 1) & 0xe0) != 0) {
            throw ScsiException.invalidCdbField(1, 7);
        }
    }

    /** The WRPROTECT field of a 10/12/16-byte write: protection information is not supported. */
    static void checkNoProtection(ByteBuffer cdb) throws ScsiException {
        checkProtect(cdb);
    }

    void checkWritable() throws ScsiException {
        if (writeProtected.getAsBoolean()) {
            throw ScsiException.check(Asc.WRITE_PROTECTED);
        }
    }

    boolean fua(ByteBuffer cdb) {
        boolean fuaBit = Cdb.opcode(cdb) != 0x0a && Cdb.bit(cdb, 1, 3);
        return fuaBit || !modes.writeCacheEnabled();
    }

    /** Data-out bytes a CDB asks for (see {@link LogicalUnit#dataOutLength}). */
    long dataOutLength(ByteBuffer cdb) {
        int op = Cdb.opcode(cdb);
        return switch (op) {
            case 0x0a, 0x2a, 0xaa, 0x8a, 0x2e, 0xae, 0x8e, 0x8b -> extent(cdb).blocks() * blockSize;
            case 0x2f, 0xaf, 0x8f -> switch ((Cdb.u8(cdb, 1) >>> 1) & 3) {
                case 1 -> extent(cdb).blocks() * blockSize;
                case 3 -> blockSize;
                default -> 0;
            };
            case 0x41 -> blockSize;
            case 0x93 -> Cdb.bit(cdb, 1, 0) ? 0 : blockSize;
            case 0x42, 0x55 -> Cdb.u16(cdb, 7);
            case 0x15 -> Cdb.u8(cdb, 4);
            case 0x5f -> Cdb.u32(cdb, 5);
            case 0x89 -> 2L * Cdb.u8(cdb, 13) * blockSize;
            case 0x83 -> Math.min(Cdb.u32(cdb, 10), CopyCommands.MAX_PARAMETER_LIST);
            case 0x9c -> (long) Cdb.u16(cdb, 12) * blockSize;
            case 0x48 -> Cdb.u16(cdb, 7);
            default -> 0;
        };
    }

    /** Thrown on the non-blocking path when storage would have to wait; nothing was changed. */
    static final class WouldBlock extends Exception {
        static final WouldBlock INSTANCE = new WouldBlock();

        private WouldBlock() {
            super(null, null, false, false);
        }
    }

    /** Whether the command is a plain READ or WRITE that the non-blocking path can run. */
    boolean nonBlockingCandidate(ByteBuffer cdb) {
        int op = Cdb.opcode(cdb);
        boolean read = op == 0x08 || op == 0x28 || op == 0xa8 || op == 0x88;
        boolean write = op == 0x0a || op == 0x2a || op == 0xaa || op == 0x8a;
        return read || (write && !fua(cdb));
    }

    ScsiResult read(ScsiTask task) throws ScsiException, IOException {
        try {
            return read(task, false);
        } catch (WouldBlock e) {
            throw new IllegalStateException(e);
        }
    }

    ScsiResult write(ScsiTask task) throws ScsiException, IOException {
        try {
            return write(task, false);
        } catch (WouldBlock e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Holds the blocks {@code [lba, lba + blocks)} in {@code mode} until closed, for a write: every
     * caller writes them, so the ROD tokens that stand for any of them are cancelled first.
     */
    RangeLock.Range hold(long lba, long blocks, RangeLock.Mode mode) throws InterruptedIOException {
        try {
            RangeLock.Range held = ranges.lock(lba * blockSize, (lba + blocks) * blockSize, mode);
            RodTokens.SERVER.written(ranges, lba, blocks, blockSize); // every hold is for a write
            return held;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for blocks " + lba + "+" + blocks);
        }
    }

    ScsiResult read(ScsiTask task, boolean nonBlocking) throws ScsiException, IOException, WouldBlock {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        Extent e = extent(cdb);
        checkRange(e.lba(), e.blocks());
        checkTransfer(e);
        long bytes = e.blocks() * blockSize;
        if (bytes == 0) {
            return ScsiResult.good();
        }
        long wanted = Math.min(bytes, ((long) task.dataInLimit() + blockSize - 1) / blockSize * blockSize);
        ByteBuffer data = task.allocateDataIn((int) wanted);
        if (wanted > 0) {
            readUntorn(e.lba(), data, nonBlocking);
        }
        data.flip();
        return new ScsiResult(ScsiStatus.GOOD, null, data, bytes);
    }

    /**
     * Reads {@code data.remaining()} bytes from {@code lba} so that no exclusive holder's write
     * (WRITE ATOMIC, COMPARE AND WRITE, ORWRITE) is seen in part: optimistically first, and
     * again under a shared range if one was granted meanwhile (the non-blocking path gives up).
     */
    private void readUntorn(long lba, ByteBuffer data, boolean nonBlocking) throws IOException, WouldBlock {
        long offset = lba * blockSize;
        int start = data.position();
        long stamp = ranges.tryOptimisticRead();
        if (stamp >= 0) {
            if (nonBlocking) {
                if (!device.tryRead(offset, data)) {
                    throw WouldBlock.INSTANCE;
                }
            } else {
                device.read(offset, data);
            }
            if (ranges.validate(stamp)) {
                return;
            }
            data.position(start);
        }
        if (nonBlocking) {
            throw WouldBlock.INSTANCE;
        }
        long blocks = ((long) data.remaining() + blockSize - 1) / blockSize;
        // not hold(): a read changes nothing, so it must not cancel the ROD tokens over its blocks
        try (RangeLock.Range held = ranges.lock(offset, offset + blocks * blockSize, RangeLock.Mode.SHARED)) {
            device.read(offset, data);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for blocks " + lba + "+" + blocks);
        }
    }

    ScsiResult write(ScsiTask task, boolean nonBlocking) throws ScsiException, IOException, WouldBlock {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        Extent e = extent(cdb);
        checkRange(e.lba(), e.blocks());
        checkTransfer(e);
        checkWritable();
        long expected = e.blocks() * blockSize;
        if (nonBlocking) {
            ByteBuffer data = task.dataOut();
            long usable = Math.min(expected, data.remaining()) / blockSize * blockSize;
            if (usable == 0) {
                return ScsiResult.good();
            }
            RangeLock.Range held = ranges.tryLock(e.lba() * blockSize, e.lba() * blockSize + usable,
                    RangeLock.Mode.SHARED);
            if (held == null) {
                throw WouldBlock.INSTANCE; // a COMPARE AND WRITE holds these blocks: wait on the pool, not here
            }
            RodTokens.SERVER.written(ranges, e.lba(), usable / blockSize, blockSize);
            try (held) {
                if (!device.tryWrite(e.lba() * blockSize, data.slice(0, (int) usable))) {
                    throw WouldBlock.INSTANCE;
                }
            }
            return ScsiResult.good();
        }
        try (RangeLock.Range held = hold(e.lba(), e.blocks(), RangeLock.Mode.SHARED)) {
            writeAvailable(e.lba(), task.dataOut(), expected, fua(cdb));
        }
        return ScsiResult.good();
    }

    /** Writes the whole blocks of data-out that arrived (at most {@code expected} bytes). */
    private long writeAvailable(long lba, ByteBuffer dataOut, long expected, boolean fua) throws IOException {
        long usable = Math.min(expected, dataOut.remaining()) / blockSize * blockSize;
        if (usable > 0) {
            device.write(lba * blockSize, dataOut.slice(0, (int) usable), fua);
        }
        return usable;
    }

    ScsiResult verify(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        int byteCheck = (Cdb.u8(cdb, 1) >>> 1) & 3;
        if (byteCheck == 2) {
            throw ScsiException.invalidCdbField(1, 2);
        }
        Extent e = extent(cdb);
        checkRange(e.lba(), e.blocks());
        if (byteCheck != 0) {
            // a byte-check reads every block it verifies: no more than a transfer's worth in one command
            checkTransfer(e);
        }
        long expected = dataOutLength(cdb);
        ByteBuffer data = task.dataOut();
        if (byteCheck == 1) {
            long usable = Math.min(expected, data.remaining()) / blockSize * blockSize;
            compareRange(e.lba(), data.slice(0, (int) usable));
        } else if (byteCheck == 3 && data.remaining() >= blockSize) {
            compareEach(e.lba(), data.slice(0, blockSize), e.blocks());
        }
        return ScsiResult.good();
    }

    ScsiResult writeAndVerify(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        int byteCheck = (Cdb.u8(cdb, 1) >>> 1) & 3;
        if (byteCheck > 1) {
            throw ScsiException.invalidCdbField(1, 2);
        }
        Extent e = extent(cdb);
        checkRange(e.lba(), e.blocks());
        checkTransfer(e);
        checkWritable();
        long expected = e.blocks() * blockSize;
        try (RangeLock.Range held = hold(e.lba(), e.blocks(), RangeLock.Mode.SHARED)) {
            long written = writeAvailable(e.lba(), task.dataOut(), expected, true);
            if (byteCheck == 1 && written > 0) {
                compareRange(e.lba(), task.dataOut().slice(0, (int) written));
            }
        }
        return ScsiResult.good();
    }

    /**
     * Compares {@code expected} with the medium from {@code lba}.
     *
     * @throws ScsiException MISCOMPARE with the offset of the first differing byte
     */
    private void compareRange(long lba, ByteBuffer expected) throws ScsiException, IOException {
        int done = 0;
        int total = expected.remaining();
        ByteBuffer scratch = buffers.acquire(Math.min(CHUNK, Math.max(total, blockSize)));
        try {
            while (done < total) {
                int n = Math.min(CHUNK, total - done);
                ByteBuffer medium = scratch.clear().limit(n);
                device.read(lba * blockSize + done, medium);
                medium.flip();
                int mismatch = medium.mismatch(expected.slice(done, n));
                if (mismatch >= 0) {
                    throw ScsiException.check(SenseData.of(Asc.MISCOMPARE_DURING_VERIFY).withInformation(done + mismatch));
                }
                done += n;
            }
        } finally {
            buffers.release(scratch);
        }
    }

    /**
     * Compares one block with each of {@code count} blocks from {@code lba} (BYTCHK=11b), reading
     * the medium in chunks; {@code count} is at most a transfer's worth ({@link #checkTransfer}).
     */
    private void compareEach(long lba, ByteBuffer block, long count) throws ScsiException, IOException {
        long total = count * blockSize;
        ByteBuffer scratch = buffers.acquire((int) Math.min(CHUNK, Math.max(total, blockSize)));
        try {
            for (long done = 0; done < total; ) {
                int n = (int) Math.min(scratch.capacity() / blockSize * blockSize, total - done);
                ByteBuffer medium = scratch.clear().limit(n);
                device.read(lba * blockSize + done, medium);
                medium.flip();
                for (int at = 0; at < n; at += blockSize) {
                    int mismatch = medium.slice(at, blockSize).mismatch(block.duplicate());
                    if (mismatch >= 0) {
                        throw ScsiException.check(SenseData.of(Asc.MISCOMPARE_DURING_VERIFY)
                                .withInformation(done + at + mismatch));
                    }
                }
                done += n;
            }
        } finally {
            buffers.release(scratch);
        }
    }

    ScsiResult compareAndWrite(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        long lba = Cdb.u64(cdb, 2);
        int count = Cdb.u8(cdb, 13);
        if (count > MAX_COMPARE_AND_WRITE_BLOCKS) {
            throw ScsiException.invalidCdbField(13, -1);
        }
        checkRange(lba, count);
        long expected = 2L * count * blockSize;
        ByteBuffer data = task.dataOut();
        if (data.remaining() != expected || task.dataOutReceived() != expected) {
            // verify and write data must be exactly 2 x NUMBER OF LOGICAL BLOCKS: with any other
            // amount the halves cannot be told apart
            throw ScsiException.check(SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, 13, -1));
        }
        if (count == 0) {
            return ScsiResult.good();
        }
        checkWritable();
        int half = count * blockSize;
        try (RangeLock.Range held = hold(lba, count, RangeLock.Mode.EXCLUSIVE)) {
            compareRange(lba, data.slice(0, half));
            device.write(lba * blockSize, data.slice(half, half), fua(cdb));
        }
        return ScsiResult.good();
    }

    /** ORWRITE(16): the medium becomes (medium OR data-out), atomically with respect to every write. */
    ScsiResult orWrite(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        checkProtect(cdb);
        Extent e = extent(cdb);
        checkRange(e.lba(), e.blocks());
        checkTransfer(e);
        checkWritable();
        ByteBuffer data = task.dataOut();
        int usable = (int) (Math.min(e.blocks() * blockSize, data.remaining()) / blockSize * blockSize);
        if (usable == 0) {
            return ScsiResult.good();
        }
        ByteBuffer medium = buffers.acquire(usable);
        try (RangeLock.Range held = hold(e.lba(), e.blocks(), RangeLock.Mode.EXCLUSIVE)) {
            medium.clear().limit(usable);
            device.read(e.lba() * blockSize, medium);
            for (int i = 0; i + 8 <= usable; i += 8) {
                medium.putLong(i, medium.getLong(i) | data.getLong(i));
            }
            device.write(e.lba() * blockSize, medium.flip(), fua(cdb));
        } finally {
            buffers.release(medium);
        }
        return ScsiResult.good();
    }

    ScsiResult synchronizeCache(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        boolean sixteen = Cdb.opcode(cdb) == 0x91;
        long lba = sixteen ? Cdb.u64(cdb, 2) : Cdb.u32(cdb, 2);
        long count = sixteen ? Cdb.u32(cdb, 10) : Cdb.u16(cdb, 7);
        checkRange(lba, count);
        device.flush();
        return ScsiResult.good();
    }

    ScsiResult prefetch(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        boolean sixteen = Cdb.opcode(cdb) == 0x90;
        long lba = sixteen ? Cdb.u64(cdb, 2) : Cdb.u32(cdb, 2);
        long count = sixteen ? Cdb.u32(cdb, 10) : Cdb.u16(cdb, 7);
        checkRange(lba, count);
        long length = count == 0 ? device.size() - lba * blockSize : count * blockSize;
        device.prefetch(lba * blockSize, length);
        return ScsiResult.good();
    }
}
