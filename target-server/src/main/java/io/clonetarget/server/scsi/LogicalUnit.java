package io.clonetarget.server.scsi;

/**
 * A SCSI logical unit. {@link #execute} never throws: every failure becomes a status with sense
 * data. Implementations are thread-safe; many commands run at once.
 */
public interface LogicalUnit extends AutoCloseable {
    ScsiResult execute(ScsiTask task);

    /**
     * Executes the command only if that cannot block on storage; otherwise returns null and
     * changes nothing (no unit attention is consumed, no data is written in a way that
     * {@link #execute} would not write again). Lets a transport answer cached reads and writes on
     * the thread that received them.
     */
    default ScsiResult tryExecute(ScsiTask task) {
        return null;
    }

    /**
     * How many data-out bytes a CDB asks for, for residual accounting before and regardless of
     * execution; 0 for commands without data-out or unknown opcodes.
     */
    long dataOutLength(java.nio.ByteBuffer cdb);

    /** After a LOGICAL UNIT RESET from {@code requester}: release SPC-2 reservations, raise UAs. */
    void reset(Nexus requester);

    /** The nexus is gone (logout, connection loss): drop its per-nexus state. */
    void nexusLost(Nexus nexus);

    /** Raises a unit attention for every nexus that has used this unit. */
    default void notifyAll(Asc condition) {
        notifyWhere(condition, nexus -> true);
    }

    /** Raises a unit attention for the nexuses that have used this unit and pass {@code which} (e.g. LUNs changed). */
    void notifyWhere(Asc condition, java.util.function.Predicate<Nexus> which);

    /** Raises a unit attention for one nexus, known to the unit or not (a LUN number that now means this unit). */
    default void notify(Nexus nexus, Asc condition) {
    }

    /** Whether an initiator holds a reservation on it (SPC-2 or persistent); removing it then needs force. */
    default boolean reserved() {
        return false;
    }

    /** Capacity in bytes. */
    long capacity();

    LunIdentity identity();

    @Override
    void close();
}
