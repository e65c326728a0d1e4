package io.clonetarget.storage.meta;

import java.io.IOException;

/**
 * Metadata that fails validation, or cannot be changed: the message names the block and the
 * check that failed ({@link #check()}, null when the problem is not one block's).
 */
public class MetadataException extends IOException {
    private final BlockCheck check;
    private final String detail;

    public MetadataException(String message) {
        this(message, null);
    }

    public MetadataException(String message, BlockCheck check) {
        super(message);
        this.check = check;
        this.detail = message;
    }

    /** A failure of the block at {@code where}: the message is {@code where: detail}. */
    public MetadataException(String where, String detail, BlockCheck check) {
        super(where + ": " + detail);
        this.check = check;
        this.detail = detail;
    }

    /** What is wrong, without where. */
    public String detail() {
        return detail;
    }

    /** The block check that failed, or null. */
    public BlockCheck check() {
        return check;
    }
}
