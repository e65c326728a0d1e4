package io.clonetarget.storage.clone;

/**
 * How a clone of {@code size} bytes divides into regions of {@code regionSize} bytes (a power of
 * two): region {@code r} is {@code [r * regionSize, min(size, (r + 1) * regionSize))}, the last
 * one possibly short. Offsets are inside {@code [0, size]}, so every product here is at most
 * {@code size + regionSize} and fits a long.
 */
record RegionGeometry(long size, long regionSize, int shift, long regions) {
    RegionGeometry {
        if (Long.bitCount(regionSize) != 1 || size <= 0) {
            throw new IllegalArgumentException("geometry " + size + "/" + regionSize);
        }
    }

    static RegionGeometry of(long size, long regionSize) {
        long regions = size / regionSize + (size % regionSize == 0 ? 0 : 1);
        return new RegionGeometry(size, regionSize, Long.numberOfTrailingZeros(regionSize), regions);
    }

    long regionOf(long offset) {
        return offset >>> shift;
    }

    long start(long region) {
        return region << shift;
    }

    long end(long region) {
        return Math.min(size, start(region) + regionSize);
    }

    /** Bytes of regions {@code [first, first + count)}. */
    long bytes(long first, long count) {
        return end(first + count - 1) - start(first);
    }

    /** The last region an I/O of {@code length > 0} bytes at {@code offset} touches. */
    long lastRegion(long offset, long length) {
        return regionOf(offset + length - 1);
    }

    /** Whether {@code [from, to)} covers region {@code r} whole. */
    boolean covers(long r, long from, long to) {
        return from <= start(r) && to >= end(r);
    }
}
