package io.clonetarget.storage.snapshot;

import java.io.IOException;
import java.nio.file.Path;

/** A file whose SHA-256 is not the one its sidecar records. */
public final class ChecksumMismatchException extends IOException {
    private final Path file;
    private final String expected;
    private final String actual;

    ChecksumMismatchException(Path file, Path sidecar, String expected, String actual) {
        super(file + ": SHA-256 is " + actual + " but " + sidecar + " records " + expected);
        this.file = file;
        this.expected = expected;
        this.actual = actual;
    }

    /** The file that was checked. */
    public Path file() {
        return file;
    }

    /** The digest the sidecar records, lowercase hex. */
    public String expected() {
        return expected;
    }

    /** The digest of the file as it is, lowercase hex. */
    public String actual() {
        return actual;
    }
}
