package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * The copy manager of one logical unit (SPC-4 third-party copy, LID1): EXTENDED COPY with
 * identification target descriptors (E4h) naming logical units of this target by their NAA
 * designator and block-to-block segment descriptors (02h), and RECEIVE COPY RESULTS (COPY
 * STATUS, OPERATING PARAMETERS).
 *
 * <p>Only units the commanding I_T nexus can address take part ({@link ScsiTask#peers}), with
 * that nexus's reservations and each unit's write protection. Every descriptor is parsed, every
 * unit resolved and every segment's range checked before a block is copied, so a command that
 * fails on its parameters copies nothing. The copy itself runs segment by segment in chunks,
 * holding the destination blocks as a WRITE does; between files it is a {@code copy_file_range}
 * ({@link BlockDevice#copyFrom}), else it goes through a pooled buffer. Data written is durable
 * at the next SYNCHRONIZE CACHE, as for a WRITE (at once when the destination's write cache is
 * off).
 *
 * <p>Thread safety: copy results are kept per nexus in {@link #results} (thread-safe);
 * everything else is per command.
 */
final class CopyCommands {
    static final int MAX_TARGET_DESCRIPTORS = 8;
    static final int MAX_SEGMENT_DESCRIPTORS = 64;
    static final int TARGET_DESCRIPTOR_LENGTH = 32;
    static final int SEGMENT_DESCRIPTOR_LENGTH = 28;
    static final int MAX_DESCRIPTOR_LIST_LENGTH = MAX_TARGET_DESCRIPTORS * TARGET_DESCRIPTOR_LENGTH
            + MAX_SEGMENT_DESCRIPTORS * SEGMENT_DESCRIPTOR_LENGTH;
    /** The parameter list is never kept beyond this (a longer one is a PARAMETER LIST LENGTH ERROR). */
    static final int MAX_PARAMETER_LIST = 16 + MAX_DESCRIPTOR_LIST_LENGTH + 1;
    static final int IDENTIFICATION_DESCRIPTOR = 0xe4;
    static final int BLOCK_TO_BLOCK = 0x02;
    /** Copy results remembered per nexus (oldest forgotten first). */
    static final int RESULTS_KEPT = 32;

    /** What RECEIVE COPY RESULTS (COPY STATUS) reports for one list identifier. */
    record Result(int status, int segmentsProcessed, long bytes) {
        static final int COMPLETED = 0x00;
        static final int COMPLETED_WITH_ERRORS = 0x01;
        static final int IN_PROGRESS = 0x10;
    }

    private final BlockLogicalUnit self;
    private final ListResults<Result> results = new ListResults<>(RESULTS_KEPT,
            r -> r.status() == Result.IN_PROGRESS);

    CopyCommands(BlockLogicalUnit self) {
        this.self = self;
    }

    /** One block-to-block segment, resolved and checked. */
    private record Segment(BlockLogicalUnit source, BlockLogicalUnit destination, long sourceLba, long destinationLba,
                           long blocks) {
    }

    ScsiResult extendedCopy(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        long listLength = Cdb.u32(cdb, 10);
        if (listLength == 0) {
            return ScsiResult.good();
        }
        ByteBuffer p = task.dataOut();
        if (listLength < 16 || listLength > MAX_PARAMETER_LIST - 1 || p.remaining() < listLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        int listId = Cdb.u8(p, 0);
        int usage = (Cdb.u8(p, 1) >>> 3) & 3;
        int targetBytes = Cdb.u16(p, 2);
        long segmentBytes = Cdb.u32(p, 8);
        long inlineBytes = Cdb.u32(p, 12);
        if (16 + targetBytes + segmentBytes + inlineBytes > listLength) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        if (targetBytes + segmentBytes > MAX_DESCRIPTOR_LIST_LENGTH) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        if (inlineBytes != 0) {
            throw ScsiException.invalidParameterField(12, -1); // no inline data is held (MAXIMUM INLINE DATA LENGTH 0)
        }
        // LIST ID USAGE: 00b and 10b track the list identifier (no data is ever held), 11b has none, 01b is reserved
        if (usage == 1 || (usage == 3 && listId != 0)) {
            throw ScsiException.invalidParameterField(usage == 1 ? 1 : 0, usage == 1 ? 4 : -1);
        }
        if (targetBytes % TARGET_DESCRIPTOR_LENGTH != 0) {
            throw ScsiException.invalidParameterField(2, -1);
        }
        int targetCount = targetBytes / TARGET_DESCRIPTOR_LENGTH;
        if (targetCount > MAX_TARGET_DESCRIPTORS) {
            throw ScsiException.check(Asc.TOO_MANY_TARGET_DESCRIPTORS);
        }
        int[] targetAt = new int[targetCount];
        for (int i = 0; i < targetCount; i++) {
            targetAt[i] = 16 + i * TARGET_DESCRIPTOR_LENGTH;
            checkTargetDescriptor(p, targetAt[i]);
        }
        List<int[]> segmentAt = new ArrayList<>();
        for (int at = 16 + targetBytes; at < 16 + targetBytes + segmentBytes; ) {
            if (segmentAt.size() == MAX_SEGMENT_DESCRIPTORS) {
                throw ScsiException.check(Asc.TOO_MANY_SEGMENT_DESCRIPTORS);
            }
            if (at + 4 > 16 + targetBytes + segmentBytes) {
                throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
            }
            int type = Cdb.u8(p, at);
            if (type != BLOCK_TO_BLOCK) {
                throw ScsiException.check(SenseData.fieldPointer(Asc.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE, false,
                        at, -1));
            }
            if (Cdb.u16(p, at + 2) != SEGMENT_DESCRIPTOR_LENGTH - 4) {
                throw ScsiException.invalidParameterField(at + 2, -1);
            }
            if (at + SEGMENT_DESCRIPTOR_LENGTH > 16 + targetBytes + segmentBytes) {
                throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
            }
            segmentAt.add(new int[]{at});
            at += SEGMENT_DESCRIPTOR_LENGTH;
        }
        Collection<LogicalUnit> peers = task.peers();
        List<Segment> segments = new ArrayList<>();
        for (int[] s : segmentAt) {
            segments.add(resolve(task.nexus(), p, s[0], targetAt, peers));
        }
        boolean tracked = usage != 3;
        if (tracked) {
            results.begin(task.nexus(), listId, new Result(Result.IN_PROGRESS, 0, 0));
        }
        int done = 0;
        long bytes = 0;
        try {
            for (Segment s : segments) {
                if (task.aborted()) {
                    throw ScsiException.check(Asc.COPY_ABORTED);
                }
                bytes += copy(s, task);
                done++;
            }
            if (tracked) {
                results.finish(task.nexus(), listId, new Result(Result.COMPLETED, done, bytes));
            }
            return ScsiResult.good();
        } catch (ScsiException | IOException | RuntimeException e) {
            if (tracked) {
                results.finish(task.nexus(), listId, new Result(Result.COMPLETED_WITH_ERRORS, done, bytes));
            }
            throw e;
        }
    }

    /** The fields of an identification target descriptor that do not depend on which unit it names. */
    private void checkTargetDescriptor(ByteBuffer p, int at) throws ScsiException {
        if (Cdb.u8(p, at) != IDENTIFICATION_DESCRIPTOR) {
            throw ScsiException.check(SenseData.fieldPointer(Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE, false,
                    at, -1));
        }
        // byte 1: LU ID TYPE is ignored (SPC-4), NUL is obsolete; the peripheral device type must be a disk
        if ((Cdb.u8(p, at + 1) & 0x1f) != 0) {
            throw ScsiException.check(SenseData.fieldPointer(Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE, false,
                    at + 1, 4));
        }
        int length = Cdb.u8(p, at + 7);
        if (length > 20) {
            throw ScsiException.invalidParameterField(at + 7, -1);
        }
    }

    /** The unit an identification descriptor names among the nexus's units, or null. */
    private static BlockLogicalUnit named(ByteBuffer p, int at, Collection<LogicalUnit> peers) {
        int codeSet = Cdb.u8(p, at + 4) & 0x0f;
        int association = (Cdb.u8(p, at + 5) >>> 4) & 3;
        int type = Cdb.u8(p, at + 5) & 0x0f;
        int length = Cdb.u8(p, at + 7);
        if (codeSet != 1 || association != 0 || type != 3 || length != 16) {
            return null; // only the binary NAA designator of a logical unit names one here
        }
        byte[] naa = new byte[16];
        p.get(at + 8, naa);
        for (LogicalUnit u : peers) {
            if (u instanceof BlockLogicalUnit b && Arrays.equals(b.identity().naa(), naa)) {
                return b;
            }
        }
        return null;
    }

    private Segment resolve(Nexus nexus, ByteBuffer p, int at, int[] targetAt, Collection<LogicalUnit> peers)
            throws ScsiException {
        int sourceIndex = Cdb.u16(p, at + 4);
        int destinationIndex = Cdb.u16(p, at + 6);
        if (sourceIndex >= targetAt.length || destinationIndex >= targetAt.length) {
            throw ScsiException.check(SenseData.of(Asc.COPY_TARGET_DEVICE_NOT_REACHABLE)
                    .withInformation(sourceIndex >= targetAt.length ? sourceIndex : destinationIndex));
        }
        BlockLogicalUnit source = named(p, targetAt[sourceIndex], peers);
        BlockLogicalUnit destination = named(p, targetAt[destinationIndex], peers);
        if (source == null || destination == null) {
            throw ScsiException.check(SenseData.of(Asc.COPY_TARGET_DEVICE_NOT_REACHABLE)
                    .withInformation(source == null ? sourceIndex : destinationIndex));
        }
        checkBlockLength(p, targetAt[sourceIndex], source);
        checkBlockLength(p, targetAt[destinationIndex], destination);
        if (source.blockSize() != destination.blockSize()) {
            throw ScsiException.invalidParameterField(targetAt[destinationIndex] + 29, -1);
        }
        long blocks = Cdb.u16(p, at + 10);
        long sourceLba = Cdb.u64(p, at + 12);
        long destinationLba = Cdb.u64(p, at + 20);
        if (!source.contains(sourceLba, blocks) || !destination.contains(destinationLba, blocks)) {
            throw ScsiException.check(Asc.COPY_ABORTED);
        }
        // the units a copy names are used as a READ and a WRITE there would use them
        source.checkNotSanitizing(CommandTable.lookup(0x28, -1));
        destination.checkNotSanitizing(CommandTable.lookup(0x2a, -1));
        source.checkAccess(nexus, Reservations.Access.READ);
        destination.checkAccess(nexus, Reservations.Access.WRITE);
        destination.checkWritable();
        return new Segment(source, destination, sourceLba, destinationLba, blocks);
    }

    private static void checkBlockLength(ByteBuffer p, int at, BlockLogicalUnit unit) throws ScsiException {
        if (Cdb.u24(p, at + 29) != unit.blockSize()) {
            throw ScsiException.invalidParameterField(at + 29, -1);
        }
    }

    /** Copies one segment; returns the bytes copied. */
    private long copy(Segment s, ScsiTask task) throws ScsiException, IOException {
        int blockSize = s.destination().blockSize();
        long length = s.blocks() * blockSize;
        if (length == 0) {
            return 0;
        }
        BlockDevice out = s.destination().device();
        try (RangeLock.Range held = s.destination().hold(s.destinationLba(), s.blocks(), RangeLock.Mode.SHARED)) {
            long done = BlockCopy.copy(s.source().device(), s.sourceLba() * blockSize, out,
                    s.destinationLba() * blockSize, length, self.buffers(), task::aborted);
            if (done < length) {
                throw ScsiException.check(Asc.COPY_ABORTED);
            }
        }
        if (!s.destination().writeCacheEnabled()) {
            out.flush();
        }
        return length;
    }

    /** The nexus is gone: its copy results go with it. */
    void forget(Nexus nexus) {
        results.forget(nexus);
    }

    ScsiResult receiveCopyResults(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        int action = Cdb.u8(cdb, 1) & 0x1f;
        int allocation = (int) Math.min(Integer.MAX_VALUE, Cdb.u32(cdb, 10));
        ByteBuffer b;
        if (action == 0x00) {
            int listId = Cdb.u8(cdb, 2);
            Result r = results.get(task.nexus(), listId);
            if (r == null) {
                throw ScsiException.invalidCdbField(2, -1); // no copy with this list identifier
            }
            b = ByteBuffer.allocate(12);
            b.putInt(0, 8);
            b.put(4, (byte) r.status());
            b.putShort(5, (short) Math.min(r.segmentsProcessed(), 0xffff));
            // TRANSFER COUNT in bytes (units 00h) when that fits in 32 bits, which it always does with
            // 512-byte blocks (64 segments of 65535 blocks); else in KiB (01h), exact for 4096-byte blocks
            boolean bytes = r.bytes() <= 0xffff_ffffL;
            b.put(7, (byte) (bytes ? 0x00 : 0x01));
            b.putInt(8, (int) (bytes ? r.bytes() : r.bytes() >>> 10));
        } else if (action == 0x03) {
            b = ByteBuffer.allocate(44 + 2);
            b.putInt(0, b.capacity() - 4);
            b.put(4, (byte) 0x01); // SNLID: a copy without a list identifier (LIST ID USAGE 11b) is supported
            b.putShort(8, (short) MAX_TARGET_DESCRIPTORS);
            b.putShort(10, (short) MAX_SEGMENT_DESCRIPTORS);
            b.putInt(12, MAX_DESCRIPTOR_LIST_LENGTH);
            b.putInt(16, 0xffff * self.blockSize()); // MAXIMUM SEGMENT LENGTH: a segment's 16-bit block count
            b.putInt(20, 0); // MAXIMUM INLINE DATA LENGTH
            b.putInt(24, 0); // HELD DATA LIMIT
            b.putInt(28, 0); // MAXIMUM STREAM DEVICE TRANSFER SIZE
            b.putShort(34, (short) RESULTS_KEPT); // TOTAL CONCURRENT COPIES
            b.put(36, (byte) RESULTS_KEPT); // MAXIMUM CONCURRENT COPIES
            b.put(37, (byte) Integer.numberOfTrailingZeros(self.blockSize())); // DATA SEGMENT GRANULARITY (log2)
            b.put(43, (byte) 2);
            b.put(44, (byte) BLOCK_TO_BLOCK);
            b.put(45, (byte) IDENTIFICATION_DESCRIPTOR);
        } else {
            throw ScsiException.invalidCdbField(1, 4);
        }
        return ScsiResult.good(ModePages.copyOut(task, b.position(0), allocation));
    }

    /**
     * The Third-party Copy VPD page (8Fh) descriptors: supported commands, parameter data,
     * supported descriptors and general copy operations, after the 4-byte page header.
     */
    static ByteBuffer vpdDescriptors(int blockSize) {
        ByteBuffer b = ByteBuffer.allocate(512);
        // Supported Commands (0001h): EXTENDED COPY(LID1), POPULATE TOKEN, WRITE USING TOKEN; RECEIVE COPY
        // RESULTS: COPY STATUS, OPERATING PARAMETERS, RECEIVE ROD TOKEN INFORMATION
        byte[] commands = {(byte) 0x83, 3, 0x00, 0x10, 0x11, (byte) 0x84, 3, 0x00, 0x03, 0x07};
        int length = (1 + commands.length + 3) & ~3;
        b.putShort((short) 0x0001).putShort((short) length).put((byte) commands.length).put(commands);
        b.position(b.position() + length - 1 - commands.length);
        // Parameter Data (0004h)
        b.putShort((short) 0x0004).putShort((short) 0x1c).putInt(0)
                .putShort((short) MAX_TARGET_DESCRIPTORS).putShort((short) MAX_SEGMENT_DESCRIPTORS)
                .putInt(MAX_DESCRIPTOR_LIST_LENGTH).putInt(0);
        b.position(b.position() + 12);
        // Supported Descriptors (0008h)
        b.putShort((short) 0x0008).putShort((short) 4).put((byte) 2).put((byte) BLOCK_TO_BLOCK)
                .put((byte) IDENTIFICATION_DESCRIPTOR).put((byte) 0);
        // General Copy Operations (8001h)
        b.putShort((short) 0x8001).putShort((short) 0x20).putInt(RESULTS_KEPT).putInt(RESULTS_KEPT)
                .putInt(0xffff * blockSize).put((byte) Integer.numberOfTrailingZeros(blockSize)).put((byte) 0);
        b.position(b.position() + 0x20 - 14);
        OdxCommands.vpdDescriptors(b, blockSize);
        return b.flip();
    }
}
