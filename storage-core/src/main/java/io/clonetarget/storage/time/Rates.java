package io.clonetarget.storage.time;

import java.math.BigInteger;

/**
 * Exact rate arithmetic on {@code long}s: byte counts times nanoseconds overflow a long quickly
 * (1 GiB regions times a batch of 16 times 10^9 is past 2^63), so products are computed without
 * overflow and results that do not fit saturate instead of wrapping.
 */
public final class Rates {
    public static final long NANOS_PER_SECOND = 1_000_000_000L;

    private Rates() {
    }

    /**
     * {@code a * b / c} for non-negative {@code a}, {@code b} and positive {@code c}, rounded
     * down, exact; {@link Long#MAX_VALUE} when the result does not fit.
     */
    public static long mulDiv(long a, long b, long c) {
        if (a < 0 || b < 0 || c <= 0) {
            throw new IllegalArgumentException("mulDiv(" + a + ", " + b + ", " + c + ")");
        }
        long high = Math.multiplyHigh(a, b);
        long low = a * b;
        if (high == 0 && low >= 0) {
            return low / c;
        }
        BigInteger q = BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)).divide(BigInteger.valueOf(c));
        return q.bitLength() < 64 ? q.longValue() : Long.MAX_VALUE;
    }

    /** Nanoseconds that {@code bytes} take at {@code bytesPerSecond} (positive). */
    public static long nanosFor(long bytes, long bytesPerSecond) {
        return mulDiv(bytes, NANOS_PER_SECOND, bytesPerSecond);
    }

    /** Bytes per second of {@code bytes} moved in {@code nanos} (positive) nanoseconds. */
    public static long perSecond(long bytes, long nanos) {
        return mulDiv(bytes, NANOS_PER_SECOND, nanos);
    }
}
