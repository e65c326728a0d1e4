package io.clonetarget.storage.meta;

/**
 * The validations every metadata block passes when it is read, in the order they run; a
 * failure names the first one that failed.
 */
public enum BlockCheck {
    /** The first four bytes say which kind of block it is. */
    MAGIC,
    /** The block records its own index: a block written to or read from the wrong place fails. */
    LOCATION,
    /** The format version of the block. */
    VERSION,
    /** CRC32C of the whole block. */
    CHECKSUM,
    /**
     * The generation the block was written in equals what the reference to it says (or is not
     * newer than the superblock): a lost or stale write fails.
     */
    GENERATION,
    /** The payload's own fields are consistent (counts, levels, bits past the end). */
    CONTENT
}
