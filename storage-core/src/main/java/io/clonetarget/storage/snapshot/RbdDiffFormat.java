package io.clonetarget.storage.snapshot;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Ceph's "rbd diff v1" incremental stream, as {@code rbd export-diff} writes it and
 * {@code rbd import-diff} and {@code rbd merge-diff} read it (Ceph's {@code doc/dev/rbd-diff.rst}).
 * Integers are little-endian and unsigned; names are a 32-bit length and that many bytes.
 *
 * <pre>
 * stream = banner metadata* data* end
 * banner   "rbd diff v1\n"                          12 bytes
 * metadata 'f' le32 n, n bytes                      from snapshot, at most once
 *          't' le32 n, n bytes                      to snapshot, at most once
 *          's' le64 size                            image size at the to snapshot, once
 * data     'w' le64 offset, le64 length, length bytes
 *          'z' le64 offset, le64 length             reads as zeros
 * end      'e'                                      the last byte of the stream
 * </pre>
 *
 * <p>The metadata records come in any order but before every data record. Our streams also
 * keep the data records in ascending, non-overlapping order inside the image size and never
 * empty, which is what {@code rbd merge-diff} needs of its inputs (it refuses records out of
 * order or of length 0); a stream without {@code 's'} is refused here, where merge-diff would
 * take the size for 0.
 */
final class RbdDiffFormat {
    /** The first 12 bytes of every v1 stream. */
    static final byte[] BANNER = "rbd diff v1\n".getBytes(StandardCharsets.US_ASCII);

    /** The banner of the v2 format ({@code rbd export-diff --export-format 2}), not supported. */
    static final byte[] BANNER_V2 = "rbd diff v2\n".getBytes(StandardCharsets.US_ASCII);

    /** The longest snapshot name, in bytes: Ceph's readers refuse longer ones. */
    static final int MAX_NAME_BYTES = 4096;

    /** tag, le64 offset, le64 length. */
    static final int EXTENT_HEADER_BYTES = 17;

    private RbdDiffFormat() {
    }

    /** The snapshot name's UTF-8 bytes; a name that cannot be encoded or is too long is refused. */
    static byte[] encodeName(String role, String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException(role + " snapshot name is empty (null means none)");
        }
        ByteBuffer b;
        try {
            b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(name));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(role + " snapshot name is not valid Unicode: " + e.getMessage(), e);
        }
        if (b.remaining() > MAX_NAME_BYTES) {
            throw new IllegalArgumentException(role + " snapshot name is " + b.remaining()
                    + " bytes in UTF-8, more than " + MAX_NAME_BYTES);
        }
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /** The name as strict UTF-8, or null when it is not. */
    static String decodeName(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** A byte for a message: {@code 0x71 ('q')}. */
    static String describeByte(int b) {
        int v = b & 0xff;
        String hex = String.format("0x%02x", v);
        return v >= 0x20 && v < 0x7f ? hex + " ('" + (char) v + "')" : hex;
    }

    /** Up to 12 bytes for a message, printable ASCII as it is and the rest escaped. */
    static String describeBytes(byte[] b, int n) {
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < n; i++) {
            int v = b[i] & 0xff;
            if (v == '\n') {
                s.append("\\n");
            } else if (v >= 0x20 && v < 0x7f && v != '"' && v != '\\') {
                s.append((char) v);
            } else {
                s.append(String.format("\\x%02x", v));
            }
        }
        return s.append('"').toString();
    }
}
