package io.clonetarget.storage.clone;

import io.clonetarget.storage.device.MediumErrorException;

/**
 * The source is not the one the clone was made from any more (another size, ETag, modification
 * time or inode). Never retried: mixing data of two versions would corrupt the clone.
 */
public final class SourceChangedException extends MediumErrorException {
    public SourceChangedException(String message) {
        super(message, false);
    }
}
