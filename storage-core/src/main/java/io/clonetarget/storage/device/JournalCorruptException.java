package io.clonetarget.storage.device;

import java.io.IOException;

/**
 * An atomic-write journal that cannot be trusted: which file, at which byte offset, and which
 * check failed. The volume is not served until an operator decides (see docs/formats/atomic-journal.md).
 */
public final class JournalCorruptException extends IOException {
    private final String file;
    private final long offset;
    private final String check;

    public JournalCorruptException(String file, long offset, String check, String detail) {
        super("atomic journal " + file + " at offset " + offset + ": " + check + (detail.isEmpty() ? "" : ": " + detail));
        this.file = file;
        this.offset = offset;
        this.check = check;
    }

    /** The journal (its path, or the description of the device it is on). */
    public String file() {
        return file;
    }

    /** Byte offset in the journal of the header slot or record that failed. */
    public long offset() {
        return offset;
    }

    /** The check that failed ("header CRC", "record CRC", "block size", ...). */
    public String check() {
        return check;
    }
}
