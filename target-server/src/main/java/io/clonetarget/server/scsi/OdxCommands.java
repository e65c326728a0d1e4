package io.clonetarget.server.scsi;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Offloaded data transfer (ODX, SBC-4 token-based copy) on one logical unit: POPULATE TOKEN
 * makes a ROD token for ranges of this unit ({@link RodTokens}); WRITE USING TOKEN writes the
 * data a token stands for (or zeroes, for the block device zero ROD token) to ranges of this
 * unit; RECEIVE ROD TOKEN INFORMATION returns a command's result and its token.
 *
 * <p>Both commands run synchronously (IMMED is refused). A WRITE USING TOKEN stops at a chunk
 * boundary once {@link #WRITE_DEADLINE_NANOS} have passed and reports how much it wrote, so each
 * command ends well within the 4 s Windows allows; the initiator sends the rest. A token whose
 * source was written while it was being copied fails the command with TOKEN CANCELLED: the data
 * written is then not the point in time, and the initiator copies by reads and writes.
 *
 * <p>Thread safety: results are kept per nexus in {@link #results} (thread-safe); tokens in
 * {@link RodTokens}; everything else is per command.
 */
final class OdxCommands {
    static final int MAX_RANGE_DESCRIPTORS = 64;
    /** MAXIMUM TOKEN TRANSFER SIZE, bytes (256 MiB, the most Windows asks for). */
    static final long MAX_TOKEN_BYTES = 256L << 20;
    /** OPTIMAL TRANSFER COUNT, bytes (Windows' default, 64 MiB). */
    static final long OPTIMAL_TRANSFER_BYTES = 64L << 20;
    static final long WRITE_DEADLINE_NANOS = 3_000_000_000L;
    static final int RESULTS_KEPT = 32;
    private static final int POPULATE_TOKEN = 0x10;
    private static final int WRITE_USING_TOKEN = 0x11;
    /** COPY OPERATION STATUS (SPC-4). */
    private static final int COMPLETED = 0x01;
    private static final int COMPLETED_WITH_ERRORS = 0x02;
    private static final int IN_PROGRESS = 0x10;

    private record Result(int action, int status, long blocks, byte[] token) {
    }

    private final BlockLogicalUnit self;
    private final RodTokens tokens;
    private final LongSupplier clock;
    private final ListResults<Result> results = new ListResults<>(RESULTS_KEPT, r -> r.status() == IN_PROGRESS);

    OdxCommands(BlockLogicalUnit self, RodTokens tokens, LongSupplier clock) {
        this.self = self;
        this.tokens = tokens;
        this.clock = clock;
    }

    /** Block device range descriptors at {@code at}, checked against this unit's capacity. */
    private List<RodTokens.Range> ranges(ByteBuffer p, int lengthAt, int at) throws ScsiException {
        int bytes = Cdb.u16(p, lengthAt);
        if (bytes % 16 != 0 || bytes == 0 || at + bytes > p.remaining()) {
            throw ScsiException.invalidParameterField(lengthAt, -1);
        }
        if (bytes / 16 > MAX_RANGE_DESCRIPTORS) {
            throw ScsiException.check(Asc.TOO_MANY_SEGMENT_DESCRIPTORS);
        }
        List<RodTokens.Range> out = new ArrayList<>();
        long total = 0;
        for (int d = at; d < at + bytes; d += 16) {
            long lba = Cdb.u64(p, d);
            long blocks = Cdb.u32(p, d + 8);
            if (!self.contains(lba, blocks)) {
                throw ScsiException.lbaOutOfRange();
            }
            total += blocks;
            if (total * self.blockSize() > MAX_TOKEN_BYTES) {
                throw ScsiException.invalidParameterField(d + 8, -1);
            }
            if (blocks > 0) {
                out.add(new RodTokens.Range(lba, blocks));
            }
        }
        // ranges may not overlap (a token that stood for a block twice, or a destination written twice)
        List<RodTokens.Range> sorted = new ArrayList<>(out);
        sorted.sort(java.util.Comparator.comparingLong(RodTokens.Range::lba));
        for (int i = 1; i < sorted.size(); i++) {
            RodTokens.Range before = sorted.get(i - 1);
            if (sorted.get(i).lba() < before.lba() + before.blocks()) {
                throw ScsiException.invalidParameterField(at + 16 * out.indexOf(sorted.get(i)), -1);
            }
        }
        return out;
    }

    /**
     * The parameter list of POPULATE TOKEN or WRITE USING TOKEN: at least {@code minimum} bytes
     * (one range descriptor), all of it received, and IMMED clear (only synchronous copies).
     */
    private static ByteBuffer parameterList(ScsiTask task, int minimum) throws ScsiException {
        long length = Cdb.u32(task.cdb(), 10);
        ByteBuffer p = task.dataOut();
        if (length < minimum || p.remaining() < length) {
            throw ScsiException.check(Asc.PARAMETER_LIST_LENGTH_ERROR);
        }
        p = p.slice(0, (int) length);
        if ((Cdb.u8(p, 2) & 0x01) != 0) {
            throw ScsiException.invalidParameterField(2, 0);
        }
        return p;
    }

    ScsiResult populateToken(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        long listId = Cdb.u32(cdb, 6);
        ByteBuffer p = parameterList(task, 16 + 16);
        int flags = Cdb.u8(p, 2);
        long inactivity = Cdb.u32(p, 4);
        if (inactivity > RodTokens.MAX_INACTIVITY_SECONDS) {
            throw ScsiException.invalidParameterField(4, -1);
        }
        int rodType = RodTokens.ROD_POINT_IN_TIME_DEFAULT;
        if ((flags & 0x02) != 0) {
            rodType = (int) Cdb.u32(p, 8);
            if (rodType != RodTokens.ROD_POINT_IN_TIME_DEFAULT
                    && rodType != RodTokens.ROD_POINT_IN_TIME_CHANGE_VULNERABLE) {
                throw ScsiException.invalidParameterField(8, -1);
            }
        }
        List<RodTokens.Range> ranges = ranges(p, 14, 16);
        results.begin(task.nexus(), listId, new Result(0, IN_PROGRESS, 0, null));
        byte[] token = tokens.create(self, self.ranges(), ranges, rodType,
                inactivity == 0 ? RodTokens.DEFAULT_INACTIVITY_SECONDS : (int) inactivity, task.nexus().initiatorName());
        if (token == null) {
            results.finish(task.nexus(), listId, new Result(POPULATE_TOKEN, COMPLETED_WITH_ERRORS, 0, null));
            throw ScsiException.check(Asc.INSUFFICIENT_RESOURCES);
        }
        // writes that took their blocks before the token existed did not cancel it: wait until they
        // have landed, so the token stands for the data as it is when this command answers (a write
        // that takes its blocks from now on cancels the token itself)
        int size = self.blockSize();
        for (RodTokens.Range r : ranges) {
            try (RangeLock.Range drained = self.ranges().lock(r.lba() * size, (r.lba() + r.blocks()) * size,
                    RangeLock.Mode.EXCLUSIVE)) {
                // nothing: holding the blocks once is the point
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw ScsiException.check(Asc.COPY_ABORTED);
            }
        }
        long blocks = ranges.stream().mapToLong(RodTokens.Range::blocks).sum();
        results.finish(task.nexus(), listId, new Result(POPULATE_TOKEN, COMPLETED, blocks, token));
        return ScsiResult.good();
    }

    ScsiResult writeUsingToken(ScsiTask task) throws ScsiException, IOException {
        ByteBuffer cdb = task.cdb();
        long listId = Cdb.u32(cdb, 6);
        ByteBuffer p = parameterList(task, 536 + 16);
        int flags = Cdb.u8(p, 2);
        boolean deleteToken = (flags & 0x02) != 0;
        long offset = Cdb.u64(p, 8);
        byte[] presented = new byte[RodTokens.TOKEN_LENGTH];
        p.get(16, presented);
        List<RodTokens.Range> destination = ranges(p, 534, 536);
        self.checkWritable();
        results.begin(task.nexus(), listId, new Result(0, IN_PROGRESS, 0, null));
        long written = 0;
        try {
            int rodType = ByteBuffer.wrap(presented).getInt(0);
            if (rodType == RodTokens.ROD_BLOCK_ZERO) {
                written = zero(destination, task);
            } else {
                Object found = tokens.lookup(presented);
                if (found instanceof RodTokens.Problem problem) {
                    throw ScsiException.check(problem.asc);
                }
                RodTokens.Token token = (RodTokens.Token) found;
                if (token.source.blockSize() != self.blockSize()) {
                    throw ScsiException.invalidParameterField(16 + 96, -1);
                }
                if (offset >= token.blocks) {
                    throw ScsiException.invalidParameterField(8, -1);
                }
                written = copy(token, offset, destination, task);
                if (deleteToken) {
                    tokens.delete(token);
                }
            }
            if (!self.writeCacheEnabled()) {
                self.device().flush();
            }
            results.finish(task.nexus(), listId, new Result(WRITE_USING_TOKEN, COMPLETED, written, null));
            return ScsiResult.good();
        } catch (ScsiException | IOException | RuntimeException e) {
            results.finish(task.nexus(), listId, new Result(WRITE_USING_TOKEN, COMPLETED_WITH_ERRORS, written, null));
            throw e;
        }
    }

    private long zero(List<RodTokens.Range> destination, ScsiTask task) throws IOException {
        long written = 0;
        int size = self.blockSize();
        for (RodTokens.Range d : destination) {
            if (task.aborted()) {
                break;
            }
            try (RangeLock.Range held = self.hold(d.lba(), d.blocks(), RangeLock.Mode.SHARED)) {
                self.device().writeZeroes(d.lba() * size, d.blocks() * size);
            }
            written += d.blocks();
        }
        return written;
    }

    /** Copies the token's data from ROD block {@code offset} into {@code destination}; returns the blocks written. */
    private long copy(RodTokens.Token token, long offset, List<RodTokens.Range> destination, ScsiTask task)
            throws ScsiException, IOException {
        long deadline = clock.getAsLong() + WRITE_DEADLINE_NANOS;
        int size = self.blockSize();
        BlockDevice in = token.source.device();
        BlockDevice out = self.device();
        long rod = offset;
        long written = 0;
        boolean[] stopped = {false};
        for (RodTokens.Range d : destination) {
            long at = d.lba();
            long left = Math.min(d.blocks(), token.blocks - rod);
            // the source of this destination range is read ahead by the kernel while pieces are copied
            for (RodTokens.Range s : RodTokens.slice(token, rod, left)) {
                in.prefetch(s.lba() * size, s.blocks() * size);
            }
            while (left > 0) {
                if (task.aborted() || clock.getAsLong() > deadline) {
                    return checked(token, written);
                }
                // one source piece, at most a chunk, so the deadline is looked at often
                RodTokens.Range piece = RodTokens.slice(token, rod, Math.min(left, BlockCopy.CHUNK / size)).getFirst();
                try (RangeLock.Range held = self.hold(at, piece.blocks(), RangeLock.Mode.SHARED)) {
                    BlockCopy.copy(in, piece.lba() * size, out, at * size, piece.blocks() * size, self.buffers(),
                            () -> stopped[0]);
                } catch (IOException e) {
                    if (tokens.check(token) == RodTokens.Problem.REVOKED) {
                        throw ScsiException.check(Asc.TOKEN_REVOKED); // its source went away under the copy
                    }
                    throw e;
                }
                at += piece.blocks();
                rod += piece.blocks();
                left -= piece.blocks();
                written += piece.blocks();
            }
            if (rod >= token.blocks) {
                break;
            }
        }
        return checked(token, written);
    }

    /** The blocks written, if the token still stands for what was read (nothing wrote its ranges meanwhile). */
    private long checked(RodTokens.Token token, long written) throws ScsiException {
        RodTokens.Problem problem = tokens.check(token);
        if (problem != null) {
            throw ScsiException.check(problem.asc);
        }
        return written;
    }

    /** The nexus is gone: its copy results go with it. */
    void forget(Nexus nexus) {
        results.forget(nexus);
    }

    /** RECEIVE ROD TOKEN INFORMATION for a list identifier of this nexus. */
    ScsiResult receiveRodTokenInformation(ScsiTask task) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        long listId = Cdb.u32(cdb, 2);
        int allocation = (int) Math.min(Integer.MAX_VALUE, Cdb.u32(cdb, 10));
        Result r = results.get(task.nexus(), listId);
        if (r == null) {
            throw ScsiException.invalidCdbField(2, -1);
        }
        int tokenPart = r.token() == null ? 0 : 2 + RodTokens.TOKEN_LENGTH;
        ByteBuffer b = ByteBuffer.allocate(32 + 4 + tokenPart);
        b.putInt(0, b.capacity() - 4);
        b.put(4, (byte) r.action());
        b.put(5, (byte) r.status());
        b.put(12, (byte) (r.status() == COMPLETED_WITH_ERRORS ? ScsiStatus.CHECK_CONDITION.code() : 0));
        b.put(15, (byte) 0xf1); // TRANSFER COUNT UNITS: logical blocks
        b.putLong(16, r.blocks());
        b.putInt(32, tokenPart);
        if (r.token() != null) {
            b.put(32 + 4 + 2, r.token());
        }
        return ScsiResult.good(ModePages.copyOut(task, b.position(0), allocation));
    }

    /** The ODX descriptors of the Third-party Copy VPD page. */
    static void vpdDescriptors(ByteBuffer b, int blockSize) {
        // Block Device ROD Token Limits (0000h)
        b.putShort((short) 0x0000).putShort((short) 0x20);
        b.position(b.position() + 6); // vendor specific
        b.putShort((short) MAX_RANGE_DESCRIPTORS).putInt(RodTokens.MAX_INACTIVITY_SECONDS)
                .putInt(RodTokens.DEFAULT_INACTIVITY_SECONDS).putLong(MAX_TOKEN_BYTES / blockSize)
                .putLong(OPTIMAL_TRANSFER_BYTES / blockSize);
        // Supported ROD Types (0108h): point in time (token in and out), block device zero (token in)
        // (ROD type descriptors of 64 bytes: type, TOKEN_IN/TOKEN_OUT flags, preference, reserved)
        b.putShort((short) 0x0108).putShort((short) (4 + 64 * 2)).putShort((short) 0).putShort((short) (64 * 2));
        b.putInt(RodTokens.ROD_POINT_IN_TIME_DEFAULT).put((byte) 0x03).put((byte) 0).putShort((short) 0);
        b.position(b.position() + 56);
        b.putInt(RodTokens.ROD_BLOCK_ZERO).put((byte) 0x02).put((byte) 0).putShort((short) 0);
        b.position(b.position() + 56);
        // ROD Token Features (0106h): no remote tokens; lifetimes in seconds
        b.putShort((short) 0x0106).putShort((short) 0x2c).put((byte) 0);
        b.position(b.position() + 11);
        b.putInt(1).putInt(RodTokens.MAX_INACTIVITY_SECONDS).putInt(RodTokens.MAX_INACTIVITY_SECONDS);
        b.position(b.position() + 18);
        b.putShort((short) 0);
    }
}
