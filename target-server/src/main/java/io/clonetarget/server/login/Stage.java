package io.clonetarget.server.login;

/** Login stages as coded in the CSG and NSG fields. */
public enum Stage {
    SECURITY(0),
    OPERATIONAL(1),
    FULL_FEATURE(3);

    private final int code;

    Stage(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The stage for a 2-bit field, or null for the reserved value 2. */
    public static Stage of(int code) {
        return switch (code) {
            case 0 -> SECURITY;
            case 1 -> OPERATIONAL;
            case 3 -> FULL_FEATURE;
            default -> null;
        };
    }
}
