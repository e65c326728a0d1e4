package io.clonetarget.server.fuzz;

/**
 * How the fuzzed LUN is divided: the fuzzer may write only {@code [fuzzLba, fuzzLba +
 * fuzzBlocks)}, the checker writes and reads back {@code [checkerLba, checkerLba +
 * checkerBlocks)}, and every other byte of the LUN is protected: it must never change. Reads may
 * go anywhere, beyond the end included.
 *
 * <p>The fuzz region is the start of the LUN on purpose: a header born of garbage carries mostly
 * zero bytes, so a write it might smuggle through lands at small LBAs, which are the fuzzer's.
 */
public record LunLayout(long lunBlocks, int blockSize, long fuzzLba, long fuzzBlocks, long checkerLba,
                        long checkerBlocks) {
    public LunLayout {
        if (fuzzLba < 0 || fuzzLba + fuzzBlocks > checkerLba || checkerLba + checkerBlocks > lunBlocks) {
            throw new IllegalArgumentException("regions out of order: " + fuzzLba + "+" + fuzzBlocks + ", "
                    + checkerLba + "+" + checkerBlocks + " of " + lunBlocks);
        }
    }

    /** The default for a LUN of {@code bytes}: half for the fuzzer, 1 MiB for the checker, the rest protected. */
    public static LunLayout of(long bytes, int blockSize) {
        long blocks = bytes / blockSize;
        long fuzz = blocks / 2;
        long checker = (1L << 20) / blockSize;
        return new LunLayout(blocks, blockSize, 0, fuzz, fuzz, checker);
    }

    /** Whether a write of {@code blocks} at {@code lba} stays inside the fuzz region. */
    boolean fuzzWritable(long lba, long blocks) {
        return lba >= fuzzLba && blocks >= 0 && blocks <= fuzzBlocks && lba - fuzzLba <= fuzzBlocks - blocks;
    }

    /** The protected bytes: everything before the fuzz region and after the checker region. */
    long protectedStart() {
        return (checkerLba + checkerBlocks) * blockSize;
    }

    long protectedBytesBefore() {
        return fuzzLba * blockSize;
    }

    long lunBytes() {
        return lunBlocks * blockSize;
    }
}
