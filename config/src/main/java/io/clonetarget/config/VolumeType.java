package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a volume is made of. */
public enum VolumeType {
    /** A regular file or block device, used as it is. */
    FILE,
    /** A clone: a read-only source hydrated into a destination file, with metadata. */
    CLONE;

    @JsonCreator
    public static VolumeType parse(String text) {
        for (VolumeType t : values()) {
            if (t.name().equalsIgnoreCase(text)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown volume type \"" + text + "\" (file, clone)");
    }

    @JsonValue
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
