package io.clonetarget.storage.snapshot;

/** The record tags of an rbd diff v1 stream, each with its byte on the wire. */
enum RbdDiffTag {
    FROM_SNAP('f'),
    TO_SNAP('t'),
    SIZE('s'),
    WRITE('w'),
    ZERO('z'),
    END('e');

    private final byte wire;

    RbdDiffTag(char wire) {
        this.wire = (byte) wire;
    }

    byte wire() {
        return wire;
    }

    /** The tag whose byte is {@code b}; an unknown byte is an {@code UNKNOWN_TAG} at {@code at}. */
    static RbdDiffTag fromWire(int b, long at) throws RbdDiffException {
        for (RbdDiffTag t : values()) {
            if (t.wire == (byte) b) {
                return t;
            }
        }
        throw new RbdDiffException(RbdDiffException.Problem.UNKNOWN_TAG, at,
                "unknown record tag " + RbdDiffFormat.describeByte(b));
    }

    /** The tag as it is written, in quotes: {@code 'w'}. */
    @Override
    public String toString() {
        return "'" + (char) wire + "'";
    }
}
