package io.clonetarget.storage.clone;

/**
 * What a clone can still do after a failure (dm-clone's modes).
 */
sealed interface CloneMode {
    /** Normal operation. */
    record ReadWrite() implements CloneMode {
    }

    /**
     * A metadata write failed: reads go on, writes get DATA PROTECT, the last commit stands.
     */
    record ReadOnly(String reason) implements CloneMode {
    }

    /**
     * A destination flush failed: what it should have made durable may be gone, so nothing the
     * clone would answer can be trusted; every I/O fails until a restart.
     */
    record Failed(String reason) implements CloneMode {
    }

    CloneMode READ_WRITE = new ReadWrite();

    /** The name shown in status: {@code rw}, {@code read-only} or {@code failed}. */
    default String label() {
        return switch (this) {
            case ReadWrite r -> "rw";
            case ReadOnly r -> "read-only";
            case Failed f -> "failed";
        };
    }
}
