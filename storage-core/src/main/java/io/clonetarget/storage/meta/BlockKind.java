package io.clonetarget.storage.meta;

/** The kinds of metadata block, each with the magic number that opens it on disk. */
public enum BlockKind {
    /** The commit point: a table of typed roots ({@link Superblock}). */
    SUPERBLOCK(0x43545342, "superblock"),
    /** 32,512 bits of a {@link PersistentBitset} ("CTBS"). */
    BITSET(0x43544253, "bitset block"),
    /** An inner node of a {@link BlockArray} ("CTIX"): references to the level below. */
    INDEX(0x43544958, "index block"),
    /** What a clone is: geometry and source identity, written once ("CTCI"). */
    CLONE_INFO(0x43544349, "clone info block"),
    /** What a volume's snapshot store is: geometry, capacities, next snapshot id ("CTSI"). */
    SNAPSHOT_INFO(0x43545349, "snapshot info block"),
    /** 31 snapshot table entries ("CTST"). */
    SNAPSHOT_TABLE(0x43545354, "snapshot table block"),
    /** 169 exceptions: which difference-storage slot holds which chunk for which snapshots ("CTSX"). */
    EXCEPTIONS(0x43545358, "exception block");

    private final int magic;
    private final String label;

    BlockKind(int magic, String label) {
        this.magic = magic;
        this.label = label;
    }

    public int magic() {
        return magic;
    }

    /** How messages name a block of this kind. */
    public String label() {
        return label;
    }
}
