package io.clonetarget.server.scsi;

/**
 * A command ends with a status other than GOOD. Thrown anywhere inside command execution; the
 * logical unit turns it into the response in one place.
 */
public final class ScsiException extends Exception {
    private final ScsiStatus status;
    private final SenseData sense;

    private ScsiException(ScsiStatus status, SenseData sense) {
        super(sense != null ? sense.toString() : status.toString(), null, false, false);
        this.status = status;
        this.sense = sense;
    }

    /** CHECK CONDITION with the given sense. */
    public static ScsiException check(SenseData sense) {
        return new ScsiException(ScsiStatus.CHECK_CONDITION, sense);
    }

    public static ScsiException check(Asc asc) {
        return check(SenseData.of(asc));
    }

    /** ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at byte (and bit, or -1) of the CDB. */
    public static ScsiException invalidCdbField(int byteOffset, int bit) {
        return check(SenseData.fieldPointer(Asc.INVALID_FIELD_IN_CDB, true, byteOffset, bit));
    }

    /** ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing into the data-out buffer. */
    public static ScsiException invalidParameterField(int byteOffset, int bit) {
        return check(SenseData.fieldPointer(Asc.INVALID_FIELD_IN_PARAMETER_LIST, false, byteOffset, bit));
    }

    public static ScsiException invalidOpcode() {
        return check(SenseData.fieldPointer(Asc.INVALID_COMMAND_OPERATION_CODE, true, 0, -1));
    }

    public static ScsiException lbaOutOfRange() {
        return check(Asc.LBA_OUT_OF_RANGE);
    }

    /** A status without sense data (RESERVATION CONFLICT, BUSY, TASK SET FULL). */
    public static ScsiException status(ScsiStatus status) {
        return new ScsiException(status, null);
    }

    public ScsiStatus status() {
        return status;
    }

    /** The sense data, or null. */
    public SenseData sense() {
        return sense;
    }
}
