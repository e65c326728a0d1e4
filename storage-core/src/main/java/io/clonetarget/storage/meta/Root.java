package io.clonetarget.storage.meta;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * One entry of the superblock's table of typed roots: what a structure needs to be found again,
 * i.e. up to three block references and a count, interpreted by the structure's type.
 *
 * <pre>
 * offset size  field (64 bytes)
 *      0    2  type ({@link Type})
 *      2    2  format of that structure (1)
 *      4    2  references in use (0 to 3)
 *      6    2  reserved, zero
 *      8    8  count (per type)
 *     16   48  three block references: location and generation, 8 bytes each
 * </pre>
 */
public record Root(Type type, long count, List<BlockRef> refs) {
    static final int BYTES = 64;
    static final int MAX_REFS = 3;
    static final int FORMAT = 1;

    /** Structures that hang off the superblock. */
    public enum Type {
        /**
         * A clone: refs = [clone info block, root of the hydrated-region bitset]; count = the
         * bitset's leaf blocks.
         */
        CLONE(1),
        /**
         * A volume's snapshots: refs = [snapshot info block, root of the snapshot table, root of
         * the exception table]; count = the exception table's leaf blocks.
         */
        SNAPSHOTS(2);

        private final int code;

        Type(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        /** The type with this wire code; an unknown one is metadata from a newer version. */
        static Type valueOf(int code) throws MetadataException {
            for (Type t : values()) {
                if (t.code == code) {
                    return t;
                }
            }
            throw new MetadataException("unknown root type " + code + " (written by a newer version?)",
                    BlockCheck.CONTENT);
        }
    }

    public Root {
        refs = List.copyOf(refs);
        if (refs.size() > MAX_REFS || count < 0) {
            throw new IllegalArgumentException("root of " + refs.size() + " references, count " + count);
        }
    }

    void encode(ByteBuffer b, int offset) {
        b.putShort(offset, (short) type.code());
        b.putShort(offset + 2, (short) FORMAT);
        b.putShort(offset + 4, (short) refs.size());
        b.putShort(offset + 6, (short) 0);
        b.putLong(offset + 8, count);
        for (int i = 0; i < refs.size(); i++) {
            b.putLong(offset + 16 + i * BlockRef.BYTES, refs.get(i).location());
            b.putLong(offset + 24 + i * BlockRef.BYTES, refs.get(i).generation());
        }
    }

    static Root decode(ByteBuffer b, int offset) throws MetadataException {
        Type type = Type.valueOf(b.getShort(offset) & 0xffff);
        int format = b.getShort(offset + 2) & 0xffff;
        int n = b.getShort(offset + 4) & 0xffff;
        if (format != FORMAT) {
            throw new MetadataException(type + " root of format " + format, BlockCheck.CONTENT);
        }
        if (n > MAX_REFS) {
            throw new MetadataException(type + " root with " + n + " references", BlockCheck.CONTENT);
        }
        long count = b.getLong(offset + 8);
        if (count < 0) {
            throw new MetadataException(type + " root with count " + count, BlockCheck.CONTENT);
        }
        BlockRef[] refs = new BlockRef[n];
        for (int i = 0; i < n; i++) {
            long location = b.getLong(offset + 16 + i * BlockRef.BYTES);
            long generation = b.getLong(offset + 24 + i * BlockRef.BYTES);
            if (location < 2 || generation < 1) {
                throw new MetadataException(type + " root: reference " + location + "@" + generation,
                        BlockCheck.CONTENT);
            }
            refs[i] = new BlockRef(location, generation);
        }
        return new Root(type, count, List.of(refs));
    }
}
