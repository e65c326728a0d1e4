package io.clonetarget.storage.meta;

import java.io.IOException;

/** Metadata that fails validation: the message names the block and the check that failed. */
public class MetadataException extends IOException {
    public MetadataException(String message) {
        super(message);
    }
}
