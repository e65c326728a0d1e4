package io.clonetarget.storage.meta;

/**
 * A reference from one metadata block (or the superblock) to another: where it is, and the
 * generation it must carry. Checking the generation as well as the block's own location and
 * checksum catches a write the device lost or misplaced: the old, valid-looking block left at
 * that location has an older generation.
 */
public record BlockRef(long location, long generation) {
    /** Encoded size: location and generation, 8 bytes each. */
    static final int BYTES = 16;

    public BlockRef {
        if (location < 0 || generation < 0) {
            throw new IllegalArgumentException("bad block reference " + location + "@" + generation);
        }
    }

    @Override
    public String toString() {
        return "block " + location + " (generation " + generation + ")";
    }
}
