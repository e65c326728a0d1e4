package io.clonetarget.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Whether CRC32C digests may, must or must not be used. */
public enum DigestPolicy {
    /** Never: only None is accepted. */
    OFF,
    /** The initiator chooses (the default). */
    ALLOWED,
    /** Sessions without CRC32C are refused at login. */
    REQUIRED;

    @JsonCreator
    public static DigestPolicy parse(String text) {
        for (DigestPolicy p : values()) {
            if (p.name().equalsIgnoreCase(text)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown digest policy \"" + text + "\" (off, allowed, required)");
    }

    @JsonValue
    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
