package io.clonetarget.server.pdu;

/** iSCSI opcodes (RFC 7143 section 11.1.1). */
public enum Opcode {
    NOP_OUT(0x00),
    SCSI_COMMAND(0x01),
    TASK_MANAGEMENT_REQUEST(0x02),
    LOGIN_REQUEST(0x03),
    TEXT_REQUEST(0x04),
    DATA_OUT(0x05),
    LOGOUT_REQUEST(0x06),
    SNACK_REQUEST(0x10),
    NOP_IN(0x20),
    SCSI_RESPONSE(0x21),
    TASK_MANAGEMENT_RESPONSE(0x22),
    LOGIN_RESPONSE(0x23),
    TEXT_RESPONSE(0x24),
    DATA_IN(0x25),
    LOGOUT_RESPONSE(0x26),
    R2T(0x31),
    ASYNC_MESSAGE(0x32),
    REJECT(0x3f);

    private static final Opcode[] BY_CODE = new Opcode[64];

    static {
        for (Opcode op : values()) {
            BY_CODE[op.code] = op;
        }
    }

    private final int code;

    Opcode(int code) {
        this.code = code;
    }

    /** The 6-bit wire value. */
    public int code() {
        return code;
    }

    /** Whether an initiator may send this opcode. */
    public boolean fromInitiator() {
        return code < 0x20;
    }

    /**
     * The opcode for a wire value, or {@code null} when the value is not an opcode an initiator
     * may send (vendor-specific codes 0x1c-0x1e and the reserved ones included).
     */
    public static Opcode initiatorOpcode(int code) {
        Opcode op = BY_CODE[code & 0x3f];
        return op != null && op.fromInitiator() ? op : null;
    }
}
