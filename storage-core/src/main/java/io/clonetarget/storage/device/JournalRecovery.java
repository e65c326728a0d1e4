package io.clonetarget.storage.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads an atomic-write journal at open: picks the current header, collects the records of its
 * epoch in sequence order, and tells a torn last record (ignored) from damage in the middle
 * (refused, {@link JournalCorruptException}). Pure reading; {@link JournaledDevice} replays.
 */
final class JournalRecovery {
    /** A record to replay: its data is a slice of the journal image. */
    record Pending(long journalOffset, long seq, long offset, ByteBuffer data) {
    }

    /** What the journal holds: its header, the records to replay, and what was ignored. */
    record Found(JournalFormat.Header header, List<Pending> records, String ignored) {
    }

    private JournalRecovery() {
    }

    /**
     * Reads the journal on {@code store}.
     *
     * @param blockSize the served volume's logical block size
     * @param identity the served image's identity hash
     * @param volumeSize the served volume's size in bytes
     */
    static Found read(BlockDevice store, String name, int blockSize, long identity, long volumeSize)
            throws IOException {
        long capacity = store.size();
        if (capacity < JournalFormat.RECORDS + JournalFormat.RECORD_HEADER || capacity > Integer.MAX_VALUE) {
            throw new JournalCorruptException(name, 0, "size", capacity + " bytes is not a journal's size");
        }
        ByteBuffer image = ByteBuffer.allocateDirect((int) capacity);
        store.read(0, image);
        image.clear();
        String[] why0 = new String[1];
        String[] why1 = new String[1];
        JournalFormat.Header h0 = JournalFormat.decodeHeader(image, 0, why0);
        JournalFormat.Header h1 = JournalFormat.decodeHeader(image, JournalFormat.SLOT, why1);
        JournalFormat.Header h;
        if (h0 == null && h1 == null) {
            throw new JournalCorruptException(name, 0, "header", "slot 0 at offset 0: " + why0[0]
                    + "; slot 1 at offset " + JournalFormat.SLOT + ": " + why1[0]);
        } else if (h0 == null || h1 == null) {
            h = h0 == null ? h1 : h0;
        } else {
            h = h0.epoch() >= h1.epoch() ? h0 : h1;
        }
        if (h.slotOffset() != (h == h0 ? 0 : JournalFormat.SLOT)) {
            throw new JournalCorruptException(name, h == h0 ? 0 : JournalFormat.SLOT, "epoch",
                    "epoch " + h.epoch() + " belongs in the other slot");
        }
        if (h.capacity() != capacity) {
            throw new JournalCorruptException(name, h.slotOffset(), "capacity",
                    "the header says " + h.capacity() + " bytes, the file has " + capacity);
        }
        List<Pending> records = new ArrayList<>();
        long pos = JournalFormat.RECORDS;
        long seq = 0;
        String ignored = null;
        while (true) {
            String end = null;
            JournalFormat.RecordHeader r = JournalFormat.decodeRecordHeader(image, (int) Math.min(pos, capacity));
            if (pos + JournalFormat.RECORD_HEADER > capacity) {
                break;
            } else if (r == null) {
                end = "no intact record header";
            } else if (r.epoch() != h.epoch()) {
                end = "record of epoch " + r.epoch() + ", not " + h.epoch() + " (retired)";
            } else if (r.seq() != seq) {
                throw new JournalCorruptException(name, pos, "sequence", "record " + r.seq() + " where " + seq
                        + " belongs");
            } else if (r.length() <= 0 || r.length() % h.blockSize() != 0 || r.offset() < 0
                    || r.offset() % h.blockSize() != 0 || pos + r.span() > capacity) {
                throw new JournalCorruptException(name, pos, "record bounds", "offset " + r.offset() + " length "
                        + r.length() + " with blocks of " + h.blockSize() + " in a journal of " + capacity + " bytes");
            } else if (!JournalFormat.recordCrcHolds(image, (int) pos, r)) {
                end = "record CRC mismatch (seq " + seq + ", offset " + r.offset() + ", " + r.length() + " bytes)";
            }
            if (end != null) {
                checkNothingAfter(image, name, h.epoch(), pos, seq, end);
                if (end.startsWith("record CRC")) {
                    ignored = "torn last record at offset " + pos + ": " + end;
                }
                break;
            }
            records.add(new Pending(pos, seq, r.offset(),
                    image.slice((int) pos + JournalFormat.RECORD_HEADER, r.length())));
            pos += r.span();
            seq++;
        }
        if (!records.isEmpty()) {
            if (h.blockSize() != blockSize) {
                throw new JournalCorruptException(name, h.slotOffset(), "block size", "the journal holds "
                        + records.size() + " records for blocks of " + h.blockSize() + ", the volume has " + blockSize);
            }
            if (h.identity() != identity) {
                throw new JournalCorruptException(name, h.slotOffset(), "image identity", String.format(
                        "the journal holds %d records for image %016x, this image is %016x (replaced or copied?); "
                                + "if the image was replaced on purpose, move the journal aside", records.size(),
                        h.identity(), identity));
            }
            for (Pending p : records) {
                if (p.offset() + p.data().remaining() > volumeSize) {
                    throw new JournalCorruptException(name, p.journalOffset(), "record bounds", "offset "
                            + p.offset() + " length " + p.data().remaining() + " beyond the volume's "
                            + volumeSize + " bytes");
                }
            }
        }
        return new Found(h, List.copyOf(records), ignored);
    }

    /**
     * A record is appended only once every earlier one is durable, so an intact record of the
     * epoch after a broken one means the broken one was damaged after it was written, not torn.
     */
    private static void checkNothingAfter(ByteBuffer image, String name, long epoch, long pos, long seq, String end)
            throws JournalCorruptException {
        for (long q = pos + JournalFormat.SLOT; q + JournalFormat.RECORD_HEADER <= image.capacity();
             q += JournalFormat.SLOT) {
            JournalFormat.RecordHeader later = JournalFormat.decodeRecordHeader(image, (int) q);
            if (later != null && later.epoch() == epoch && later.seq() > seq) {
                throw new JournalCorruptException(name, pos, end.startsWith("record CRC") ? "record CRC" : "record header",
                        end + "; but record " + later.seq() + " at offset " + q + " is intact, so this is damage, "
                                + "not a torn last record: acknowledged atomic writes would be lost or torn by "
                                + "replaying only up to here");
            }
        }
    }
}
