package io.clonetarget.server.scsi;

import io.clonetarget.storage.lock.RangeLock;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The ROD tokens of this server (ODX): created by POPULATE TOKEN on one logical unit, used by
 * WRITE USING TOKEN on any unit of the server, from any nexus (a token is a capability: 64 random
 * bits name it, 256 more must match, and it is compared in constant time).
 *
 * <p>A token stands for its source ranges at the moment it was made ("point in time, change
 * vulnerable"): any write to a volume that overlaps a live token's ranges cancels the token
 * before the write's data lands ({@link #written}), so a WRITE USING TOKEN that checks the token
 * after copying knows whether what it read was the point in time. A token also ends after its
 * inactivity timeout, when its source unit closes, or when deleted.
 *
 * <p>Thread safety: all state is guarded by this object's monitor; {@link #written} reads one
 * volatile count first, so writes cost nothing while no token is good, and then looks only at
 * the good tokens of the volume written (a cancelled or revoked one is out of that set at once).
 */
final class RodTokens {
    static final int TOKEN_LENGTH = 512;
    /** ROD TYPE: point in time copy, default (SPC-4); we give it the change-vulnerable semantics. */
    static final int ROD_POINT_IN_TIME_DEFAULT = 0x0080_0000;
    static final int ROD_POINT_IN_TIME_CHANGE_VULNERABLE = 0x0080_0001;
    /** ROD TYPE: the block device zero ROD token (SBC-4): reads as zeroes, never looked up. */
    static final int ROD_BLOCK_ZERO = 0xffff_0001;
    static final int MAX_TOKENS = 1024;
    /** No initiator may hold more than this many, so one cannot take every token from the others. */
    static final int MAX_TOKENS_PER_INITIATOR = 256;
    /** Identifiers of expired tokens remembered (so a late use says TOKEN EXPIRED, not UNKNOWN). */
    static final int EXPIRED_KEPT = 4096;
    static final int DEFAULT_INACTIVITY_SECONDS = 60;
    static final int MAX_INACTIVITY_SECONDS = 600;

    /** The server's tokens (one copy manager per server, as the token namespace is). */
    static final RodTokens SERVER = new RodTokens(System::nanoTime);

    /** A source range, in logical blocks of the source unit. */
    record Range(long lba, long blocks) {
    }

    /** Why a token cannot be used. */
    enum Problem {
        UNKNOWN(Asc.TOKEN_UNKNOWN), CORRUPT(Asc.TOKEN_CORRUPT), EXPIRED(Asc.TOKEN_EXPIRED),
        CANCELLED(Asc.TOKEN_CANCELLED), REVOKED(Asc.TOKEN_REVOKED);

        final Asc asc;

        Problem(Asc asc) {
            this.asc = asc;
        }
    }

    /** A live token. Its fields are final; {@link #problem} and {@link #lastUse} are guarded by the registry. */
    static final class Token {
        final long id;
        final byte[] bytes;
        final BlockLogicalUnit source;
        final RangeLock volume;
        final List<Range> ranges;
        final long blocks;
        final long inactivityNanos;
        final String owner;
        private long lastUse;
        private Problem problem;

        private Token(long id, byte[] bytes, BlockLogicalUnit source, RangeLock volume, List<Range> ranges,
                      long inactivityNanos, long now, String owner) {
            this.id = id;
            this.bytes = bytes;
            this.source = source;
            this.volume = volume;
            this.ranges = List.copyOf(ranges);
            this.blocks = ranges.stream().mapToLong(Range::blocks).sum();
            this.inactivityNanos = inactivityNanos;
            this.owner = owner;
            this.lastUse = now;
        }
    }

    private final LongSupplier clock;
    private final SecureRandom random = new SecureRandom();
    private final Map<Long, Token> byId = new HashMap<>();
    /** Tokens in {@link #byId} per initiator name. */
    private final Map<String, Integer> held = new HashMap<>();
    private final java.util.LinkedHashMap<Long, Boolean> expired = new java.util.LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
            return size() > EXPIRED_KEPT;
        }
    };
    /** The tokens still good, by the write ranges of their volume: what a write must look at. */
    private final Map<RangeLock, List<Token>> good = new java.util.IdentityHashMap<>();
    /** How many tokens are in {@link #good}: while 0, writes look at nothing. */
    private volatile int live;

    RodTokens(LongSupplier clock) {
        this.clock = clock;
    }

    /**
     * A new token for {@code ranges} of {@code source}.
     *
     * @param owner the initiator name that asked for it
     * @return the 512 token bytes, or null when {@link #MAX_TOKENS} are kept, or
     *     {@link #MAX_TOKENS_PER_INITIATOR} for this owner
     */
    synchronized byte[] create(BlockLogicalUnit source, RangeLock volume, List<Range> ranges, int rodType,
                               int inactivitySeconds, String owner) {
        purge();
        if (byId.size() >= MAX_TOKENS || held.getOrDefault(owner, 0) >= MAX_TOKENS_PER_INITIATOR) {
            return null;
        }
        long id;
        do {
            id = random.nextLong();
        } while (id == 0 || byId.containsKey(id));
        ByteBuffer t = ByteBuffer.allocate(TOKEN_LENGTH);
        t.putInt(0, rodType);
        t.putShort(6, (short) (TOKEN_LENGTH - 8));
        t.putLong(8, id);
        // CREATOR LOGICAL UNIT DESCRIPTOR: an identification descriptor naming the source unit
        t.put(16, (byte) CopyCommands.IDENTIFICATION_DESCRIPTOR).put(20, (byte) 0x01).put(21, (byte) 0x03)
                .put(23, (byte) 16).put(24, source.identity().naa());
        long blocks = ranges.stream().mapToLong(Range::blocks).sum();
        t.putLong(56, blocks * source.blockSize()); // NUMBER OF BYTES REPRESENTED (low 64 of 128 bits)
        t.putInt(96, source.blockSize()); // device type specific data: the block size
        // target device descriptor: the unit's NAA designator again
        t.put(128, (byte) 0x01).put(129, (byte) 0x03).put(131, (byte) 16).put(132, source.identity().naa());
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        t.put(192, secret); // what makes the token unguessable: checked whole on every use
        byte[] bytes = t.array();
        Token token = new Token(id, bytes.clone(), source, volume, ranges, inactivitySeconds * 1_000_000_000L,
                clock.getAsLong(), owner);
        byId.put(id, token);
        held.merge(owner, 1, Integer::sum);
        good.computeIfAbsent(volume, v -> new ArrayList<>()).add(token);
        live++;
        return bytes;
    }

    /** The token these bytes are, marked used now; or the problem with them. */
    synchronized Object lookup(byte[] presented) {
        purge();
        long id = ByteBuffer.wrap(presented).getLong(8);
        Token t = byId.get(id);
        if (t == null) {
            return expired.containsKey(id) ? Problem.EXPIRED : Problem.UNKNOWN;
        }
        if (!MessageDigest.isEqual(t.bytes, presented)) {
            return Problem.CORRUPT;
        }
        if (t.problem != null) {
            return t.problem;
        }
        t.lastUse = clock.getAsLong();
        return t;
    }

    /** Whether the token is still good (nothing wrote its ranges since it was made); marks it used. */
    synchronized Problem check(Token t) {
        if (t.problem != null) {
            return t.problem;
        }
        if (byId.get(t.id) != t) {
            return Problem.EXPIRED;
        }
        t.lastUse = clock.getAsLong();
        return null;
    }

    synchronized void delete(Token t) {
        if (byId.remove(t.id, t)) {
            released(t);
        }
        notGood(t);
    }

    private void released(Token t) {
        held.computeIfPresent(t.owner, (k, n) -> n > 1 ? n - 1 : null);
    }

    /** Takes a token out of what writes look at (it was cancelled, revoked, deleted or expired). */
    private void notGood(Token t) {
        List<Token> list = good.get(t.volume);
        if (list != null && list.remove(t)) {
            live--;
            if (list.isEmpty()) {
                good.remove(t.volume);
            }
        }
    }

    /**
     * Blocks {@code [lba, lba + blocks)} (of {@code blockSize} bytes) of the volume whose write
     * ranges are {@code volume} are about to be written: cancel every token that covers any of them.
     */
    void written(RangeLock volume, long lba, long blocks, int blockSize) {
        if (live == 0) {
            return;
        }
        long from = lba * blockSize;
        long to = from + blocks * blockSize;
        synchronized (this) {
            List<Token> list = good.get(volume);
            if (list == null) {
                return;
            }
            for (Iterator<Token> i = list.iterator(); i.hasNext(); ) {
                Token t = i.next();
                int size = t.source.blockSize();
                for (Range r : t.ranges) {
                    if (r.lba() * size < to && from < (r.lba() + r.blocks()) * size) {
                        t.problem = Problem.CANCELLED;
                        i.remove();
                        live--;
                        break;
                    }
                }
            }
            if (list.isEmpty()) {
                good.remove(volume);
            }
        }
    }

    /** The unit is going away: its tokens are revoked. */
    synchronized void revoke(BlockLogicalUnit source) {
        for (Token t : byId.values()) {
            if (t.source == source && t.problem == null) {
                t.problem = Problem.REVOKED;
                notGood(t);
            }
        }
    }

    /** Forgets tokens unused for longer than their inactivity timeout, and cancelled ones as well once they time out. */
    private void purge() {
        long now = clock.getAsLong();
        for (Iterator<Token> i = byId.values().iterator(); i.hasNext(); ) {
            Token t = i.next();
            if (now - t.lastUse > t.inactivityNanos) {
                i.remove();
                released(t);
                notGood(t);
                expired.put(t.id, Boolean.TRUE);
            }
        }
    }

    synchronized int size() {
        return byId.size();
    }

    /** The ranges of {@code t} that hold ROD bytes {@code [offset, offset + length)}, as {lba, blocks} pieces. */
    static List<Range> slice(Token t, long offsetBlocks, long blocks) {
        List<Range> out = new ArrayList<>();
        long skip = offsetBlocks;
        long want = blocks;
        for (Range r : t.ranges) {
            if (want == 0) {
                break;
            }
            if (skip >= r.blocks()) {
                skip -= r.blocks();
                continue;
            }
            long n = Math.min(r.blocks() - skip, want);
            out.add(new Range(r.lba() + skip, n));
            want -= n;
            skip = 0;
        }
        return out;
    }
}
