package io.clonetarget.storage.snapshot;

import java.io.IOException;

/**
 * An rbd diff stream that is not well formed: {@link #problem()} says which rule it breaks,
 * {@link #streamOffset()} where (the byte of the stream at which the offending record or field
 * starts, counted from the first byte of the banner), and the message says both and what was
 * found.
 */
public final class RbdDiffException extends IOException {
    /** The rule a stream breaks. */
    public enum Problem {
        /** The stream does not start with {@code "rbd diff v1\n"}. */
        BAD_BANNER,
        /** A tag byte that is none of {@code f t s w z e}. */
        UNKNOWN_TAG,
        /** The stream ends inside a record (or inside the banner). */
        TRUNCATED,
        /** A snapshot name longer than {@link RbdDiffFormat#MAX_NAME_BYTES}. */
        NAME_TOO_LONG,
        /** A snapshot name that is not UTF-8. */
        BAD_NAME,
        /** An image size beyond 2^63 - 1. */
        BAD_SIZE,
        /** A second {@code f}, {@code t} or {@code s} record. */
        DUPLICATE_METADATA,
        /** An {@code f}, {@code t} or {@code s} record after the first data record. */
        METADATA_AFTER_DATA,
        /** A data record, or the end record, before the image size record. */
        MISSING_SIZE,
        /** A {@code w} or {@code z} record of length 0 (rbd merge-diff refuses them too). */
        EMPTY_RECORD,
        /** A record that reaches past the image size. */
        PAST_END,
        /** A record that starts before the previous one. */
        OUT_OF_ORDER,
        /** A record that starts inside the previous one. */
        OVERLAPPING,
        /** Bytes after the end record. */
        TRAILING_BYTES,
        /** The stream ends, between records, without the end record. */
        MISSING_END
    }

    private final Problem problem;
    private final long streamOffset;

    RbdDiffException(Problem problem, long streamOffset, String detail) {
        super("rbd diff stream, byte " + streamOffset + ": " + detail);
        this.problem = problem;
        this.streamOffset = streamOffset;
    }

    /** Which rule the stream breaks. */
    public Problem problem() {
        return problem;
    }

    /** The byte of the stream where the offending record or field starts. */
    public long streamOffset() {
        return streamOffset;
    }
}
