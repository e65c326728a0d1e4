package io.clonetarget.storage.lock;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongPredicate;

/**
 * Exclusive claims on numbered units of a volume (a clone's regions; a snapshot's chunks): only
 * the holder of a unit's claim may change its state (copy into it, write it whole, store it).
 *
 * <p>Two ways in: {@link #claim} waits for the holder, {@link #tryClaim} gives up at once (a
 * background worker that must never make user I/O wait behind it). Both take a predicate that
 * says the unit needs no claim any more (hydrated, stored); it is checked before and after the
 * claim is taken, so a claim is never handed out for a unit that is done. Callers that hold
 * several claims take them in ascending order, so no two callers can deadlock.
 *
 * <p>One {@link CompletableFuture} per claimed unit in a concurrent map: free units cost nothing.
 * Thread-safe.
 */
public final class RegionClaims {
    private final ConcurrentHashMap<Long, CompletableFuture<Void>> held = new ConcurrentHashMap<>();

    /** A claim on one unit, to be {@link #release}d by its holder. */
    public record Claim(long unit, CompletableFuture<Void> done) {
    }

    /**
     * Takes the claim of {@code unit}, waiting while another caller holds it.
     *
     * @return the claim, or null when {@code finished} says the unit needs none (any more)
     */
    public Claim claim(long unit, LongPredicate finished) {
        while (true) {
            if (finished.test(unit)) {
                return null;
            }
            CompletableFuture<Void> mine = new CompletableFuture<>();
            CompletableFuture<Void> other = held.putIfAbsent(unit, mine);
            if (other == null) {
                Claim c = new Claim(unit, mine);
                if (finished.test(unit)) {
                    release(c);
                    return null;
                }
                return c;
            }
            other.join();
        }
    }

    /** Takes the claim of {@code unit} only if it is free and the unit not finished; else null. */
    public Claim tryClaim(long unit, LongPredicate finished) {
        if (finished.test(unit)) {
            return null;
        }
        CompletableFuture<Void> mine = new CompletableFuture<>();
        if (held.putIfAbsent(unit, mine) != null) {
            return null;
        }
        Claim c = new Claim(unit, mine);
        if (finished.test(unit)) {
            release(c);
            return null;
        }
        return c;
    }

    /** Gives a claim back and wakes whoever waits for it. */
    public void release(Claim claim) {
        held.remove(claim.unit(), claim.done());
        claim.done().complete(null);
    }

    /** Whether someone holds the claim of {@code unit} right now. */
    public boolean isHeld(long unit) {
        return held.containsKey(unit);
    }

    /** Claims held right now. */
    public int held() {
        return held.size();
    }
}
