package io.clonetarget.storage.device;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The on-disk layout of the atomic-write journal (docs/formats/atomic-journal.md). Big-endian.
 *
 * <pre>
 * journal file (capacity bytes, sparse)
 *   0     header slot 0 (512)   epoch even
 *   512   header slot 1 (512)   epoch odd
 *   1024  unused up to RECORDS
 *   4096  record 0, record 1, ... each at a 512-byte boundary, in sequence order
 *
 * header slot                            record
 *   0  8 magic "CTATJNL1"                  0  8 magic "CTATREC1"
 *   8  4 version (1)                       8  8 epoch (the header's, else stale)
 *  12  4 logical block size of the volume 16  8 sequence (0, 1, ... within the epoch)
 *  16  8 epoch                            24  8 offset on the volume (bytes)
 *  24  8 image identity (hash)            32  4 length (bytes, multiple of the block size)
 *  32  8 capacity (file size)             36  4 CRC32C of bytes 0..36 (header CRC)
 *  40  4 CRC32C of bytes 0..40            40  4 CRC32C of bytes 0..36 and the data (record CRC)
 *                                        512  data (length bytes), then zero padding to 512
 * </pre>
 */
final class JournalFormat {
    static final int SLOT = 512;
    static final long RECORDS = 4096;
    static final int RECORD_HEADER = 512;
    static final int VERSION = 1;
    static final byte[] HEADER_MAGIC = "CTATJNL1".getBytes(StandardCharsets.US_ASCII);
    static final byte[] RECORD_MAGIC = "CTATREC1".getBytes(StandardCharsets.US_ASCII);

    private JournalFormat() {
    }

    /** One header slot's contents. */
    record Header(int blockSize, long epoch, long identity, long capacity) {
        /** The offset of the slot this header is written to: epochs alternate between the two. */
        long slotOffset() {
            return (epoch & 1) * SLOT;
        }
    }

    /** A record's fixed part. */
    record RecordHeader(long epoch, long seq, long offset, int length) {
        /** Bytes the record takes in the journal, padding included. */
        long span() {
            return RECORD_HEADER + roundUp(length);
        }
    }

    static long roundUp(long n) {
        return (n + SLOT - 1) / SLOT * SLOT;
    }

    static ByteBuffer encode(Header h) {
        ByteBuffer b = ByteBuffer.allocateDirect(SLOT);
        b.put(0, HEADER_MAGIC).putInt(8, VERSION).putInt(12, h.blockSize()).putLong(16, h.epoch())
                .putLong(24, h.identity()).putLong(32, h.capacity());
        b.putInt(40, crc(b, 0, 40));
        return b;
    }

    /**
     * Decodes the slot at {@code b[at, at + SLOT)}.
     *
     * @return the header, or null with the reason in {@code why[0]}
     */
    static Header decodeHeader(ByteBuffer b, int at, String[] why) {
        if (!ByteBuffer.wrap(HEADER_MAGIC).equals(b.slice(at, 8))) {
            why[0] = "bad magic";
            return null;
        }
        if (crc(b, at, 40) != b.getInt(at + 40)) {
            why[0] = "header CRC mismatch";
            return null;
        }
        int version = b.getInt(at + 8);
        if (version != VERSION) {
            why[0] = "version " + version + " (this server reads " + VERSION + ")";
            return null;
        }
        return new Header(b.getInt(at + 12), b.getLong(at + 16), b.getLong(at + 24), b.getLong(at + 32));
    }

    /** Fills {@code b} from 0 with the record header then the data; returns the bytes to write (padded). */
    static int encodeRecord(ByteBuffer b, RecordHeader r, ByteBuffer data) {
        int span = Math.toIntExact(r.span());
        b.clear();
        b.put(0, RECORD_MAGIC).putLong(8, r.epoch()).putLong(16, r.seq()).putLong(24, r.offset()).putInt(32, r.length());
        for (int i = 40; i < RECORD_HEADER; i++) {
            b.put(i, (byte) 0);
        }
        b.putInt(36, crc(b, 0, 36));
        b.put(RECORD_HEADER, data.duplicate(), 0, r.length());
        for (int i = RECORD_HEADER + r.length(); i < span; i++) {
            b.put(i, (byte) 0);
        }
        CRC32C c = new CRC32C();
        c.update(b.slice(0, 36));
        c.update(b.slice(RECORD_HEADER, r.length()));
        b.putInt(40, (int) c.getValue());
        return span;
    }

    /** The record header at {@code b[at..]} if its magic and header CRC hold, else null. */
    static RecordHeader decodeRecordHeader(ByteBuffer b, int at) {
        if (at + RECORD_HEADER > b.limit() || !ByteBuffer.wrap(RECORD_MAGIC).equals(b.slice(at, 8))
                || crc(b, at, 36) != b.getInt(at + 36)) {
            return null;
        }
        return new RecordHeader(b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24), b.getInt(at + 32));
    }

    /** Whether the record CRC at {@code b[at..]} covers its header and data (the data is inside {@code b}). */
    static boolean recordCrcHolds(ByteBuffer b, int at, RecordHeader r) {
        CRC32C c = new CRC32C();
        c.update(b.slice(at, 36));
        c.update(b.slice(at + RECORD_HEADER, r.length()));
        return (int) c.getValue() == b.getInt(at + 40);
    }

    static int crc(ByteBuffer b, int at, int length) {
        CRC32C c = new CRC32C();
        c.update(b.slice(at, length));
        return (int) c.getValue();
    }
}
