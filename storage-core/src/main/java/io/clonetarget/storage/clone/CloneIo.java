package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.BlockDevice;
import io.clonetarget.storage.device.MediumErrorException;
import io.clonetarget.storage.lock.RegionClaims;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * What user I/O does to a clone's regions (the I/O semantics in {@link CloneVolume}'s
 * description): reads split into runs of hydrated and unhydrated regions, copy before a partial
 * write, whole-region writes, discards and zeroes marked without a copy, allocation extents. Every
 * change to a region's state happens under its claim, taken in ascending order. The caller has
 * checked the mode and the range; this counts the I/O in flight (the hydrator yields to it).
 * Thread-safe.
 */
final class CloneIo {
    private final RegionGeometry geometry;
    private final CloneMetadata meta;
    private final RegionClaims claims;
    private final CopyEngine copier;
    private final CloneSource source;
    private final BlockDevice dest;
    private final CloneVolume.Settings settings;
    private final Hydrator hydrator;
    private final Consumer<IOException> sourceError;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final String name;

    CloneIo(String name, RegionGeometry geometry, CloneMetadata meta, RegionClaims claims, CopyEngine copier,
            CloneSource source, BlockDevice dest, CloneVolume.Settings settings, Hydrator hydrator,
            Consumer<IOException> sourceError) {
        this.name = name;
        this.geometry = geometry;
        this.meta = meta;
        this.claims = claims;
        this.copier = copier;
        this.source = source;
        this.dest = dest;
        this.settings = settings;
        this.hydrator = hydrator;
        this.sourceError = sourceError;
    }

    /** User I/O in flight right now. */
    int inFlight() {
        return inFlight.get();
    }

    /** Takes the claim of a region, waiting for another holder; null when it is hydrated meanwhile. */
    private RegionClaims.Claim claim(long region) {
        return claims.claim(region, meta::isHydrated);
    }

    /** Makes sure a region is hydrated, copying it on this thread if needed. */
    private void hydrate(long region) throws IOException {
        RegionClaims.Claim c = claim(region);
        if (c == null) {
            return;
        }
        try {
            copyClaimed(region);
        } finally {
            claims.release(c);
        }
    }

    /** Copies one region whose claim the caller holds, and marks it. */
    private void copyClaimed(long region) throws IOException {
        try {
            copier.copy(region, 1);
        } catch (MediumErrorException e) {
            throw e.isWrite() ? e : sourceFailure(e); // a failed destination write is not the source's
        }
        meta.markHydrated(region, 1);
        hydrator.copied(geometry.bytes(region, 1));
    }

    /** Counts a failed source read of user I/O in the status, as a medium error for the caller. */
    private MediumErrorException sourceFailure(IOException e) {
        if (hydrator.noteError(e)) {
            sourceError.accept(e);
        }
        return e instanceof MediumErrorException m ? m
                : new MediumErrorException("clone " + name + ": source read failed: " + e.getMessage(), false, e);
    }

    /** Whether every region of {@code [offset, offset + length)} is hydrated. */
    boolean allHydrated(long offset, long length) {
        if (meta.allHydrated()) {
            return true;
        }
        for (long r = geometry.regionOf(offset), last = geometry.regionOf(offset + Math.max(length, 1) - 1);
             r <= last; r++) {
            if (!meta.isHydrated(r)) {
                return false;
            }
        }
        return true;
    }

    void read(long offset, ByteBuffer dst) throws IOException {
        inFlight.incrementAndGet();
        try {
            long end = offset + dst.remaining();
            long pos = offset;
            while (pos < end) {
                long region = geometry.regionOf(pos);
                boolean hydrated = meta.isHydrated(region);
                if (!hydrated && settings.hydrateOnRead()) {
                    hydrate(region);
                    hydrated = true;
                }
                long runEnd = Math.min(end, geometry.end(region));
                while (runEnd < end && meta.isHydrated(geometry.regionOf(runEnd)) == hydrated
                        && (hydrated || !settings.hydrateOnRead())) {
                    runEnd = Math.min(end, geometry.end(geometry.regionOf(runEnd)));
                }
                int n = (int) (runEnd - pos);
                ByteBuffer part = dst.slice(dst.position(), n);
                if (hydrated) {
                    dest.read(pos, part);
                } else {
                    try {
                        source.read(pos, part);
                    } catch (IOException e) {
                        throw sourceFailure(e);
                    }
                }
                dst.position(dst.position() + n);
                pos = runEnd;
            }
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /**
     * Writes {@code src} at {@code offset}: each unhydrated region it touches is copied first,
     * unless the write covers it whole (then it is marked once the data is in). A FUA write to
     * regions all in the last durable commit is written with FUA and needs nothing more.
     *
     * @return whether the write needs a commit before it may be acknowledged (a FUA write that
     *     touched a region the last durable commit does not have)
     */
    boolean write(long offset, ByteBuffer src, boolean fua) throws IOException {
        inFlight.incrementAndGet();
        // whole regions this write replaces, with their claims (held until the data is written);
        // allocated only for writes that cover an unhydrated region whole
        List<RegionClaims.Claim> whole = List.of();
        boolean commitNeeded = false;
        try {
            long end = offset + src.remaining();
            for (long r = geometry.regionOf(offset), last = geometry.lastRegion(offset, src.remaining()); r <= last;
                 r++) {
                RegionClaims.Claim c = claim(r);
                if (c != null && geometry.covers(r, offset, end)) {
                    if (whole.isEmpty()) {
                        whole = new ArrayList<>();
                    }
                    whole.add(c);
                } else if (c != null) {
                    try {
                        copyClaimed(r);
                    } finally {
                        claims.release(c);
                    }
                }
                // asked after the region is hydrated: only a commit whose superblock is durable counts
                if (fua && !meta.isDurable(r)) {
                    commitNeeded = true;
                }
            }
            dest.write(offset, src, fua && !commitNeeded);
            for (RegionClaims.Claim c : whole) {
                meta.markHydrated(c.unit(), 1);
            }
        } finally {
            for (RegionClaims.Claim c : whole) {
                claims.release(c);
            }
            inFlight.decrementAndGet();
        }
        return commitNeeded;
    }

    void discard(long offset, long length) throws IOException {
        boolean passdown = settings.discardPassdown();
        eachRegionPiece(offset, length, (r, from, to, whole) -> {
            if (meta.isHydrated(r)) {
                if (passdown) {
                    dest.discard(from, to - from);
                }
            } else if (whole) {
                // nothing to copy: the region's old content is what is being thrown away
                coverWhole(r, () -> {
                    if (passdown) {
                        dest.discard(from, to - from);
                    }
                });
            } else if (passdown) {
                hydrate(r);
                dest.writeZeroes(from, to - from);
            }
        });
    }

    void writeZeroes(long offset, long length) throws IOException {
        eachRegionPiece(offset, length, (r, from, to, whole) -> {
            if (whole) {
                coverWhole(r, () -> dest.writeZeroes(from, to - from));
            } else {
                hydrate(r);
                dest.writeZeroes(from, to - from);
            }
        });
    }

    /** What {@link #eachRegionPiece} does with the part {@code [from, to)} of region {@code r}. */
    @FunctionalInterface
    private interface RegionPiece {
        void apply(long r, long from, long to, boolean whole) throws IOException;
    }

    /** A writing command other than WRITE: counts it as user I/O, and walks its regions. */
    private void eachRegionPiece(long offset, long length, RegionPiece piece) throws IOException {
        if (length == 0) {
            return;
        }
        inFlight.incrementAndGet();
        try {
            long end = offset + length;
            for (long r = geometry.regionOf(offset), last = geometry.lastRegion(offset, length); r <= last; r++) {
                long from = Math.max(offset, geometry.start(r));
                long to = Math.min(end, geometry.end(r));
                piece.apply(r, from, to, geometry.covers(r, from, to));
            }
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /** An action on the destination that may throw. */
    @FunctionalInterface
    private interface DestAction {
        void run() throws IOException;
    }

    /**
     * For an operation that replaces region {@code r} whole: runs it and marks the region
     * hydrated without copying it (the region is claimed meanwhile, so no copy of it runs at the
     * same time). A region that is hydrated by the time it is claimed just gets the operation.
     */
    private void coverWhole(long r, DestAction action) throws IOException {
        RegionClaims.Claim c = claim(r);
        if (c == null) {
            action.run();
            return;
        }
        try {
            action.run();
            meta.markHydrated(r, 1);
        } finally {
            claims.release(c);
        }
    }

    /** The allocation extent at {@code offset}: unhydrated runs are mapped (their data is in the source). */
    BlockDevice.Extent extentAt(long offset) throws IOException {
        long size = geometry.size();
        if (offset == size) {
            return new BlockDevice.Extent(offset, 0, true);
        }
        long region = geometry.regionOf(offset);
        boolean hydrated = meta.isHydrated(region);
        long runEnd = geometry.end(region);
        while (runEnd < size && meta.isHydrated(geometry.regionOf(runEnd)) == hydrated) {
            runEnd = geometry.end(geometry.regionOf(runEnd));
        }
        if (!hydrated) {
            return new BlockDevice.Extent(offset, runEnd - offset, true);
        }
        BlockDevice.Extent e = dest.extentAt(offset);
        return new BlockDevice.Extent(offset, Math.min(e.length(), runEnd - offset), e.allocated());
    }
}
