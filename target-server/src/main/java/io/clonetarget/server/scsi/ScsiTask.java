package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/**
 * One SCSI command as a logical unit sees it, independent of the transport.
 *
 * <p>The transport owns the buffers: the data-out buffer it received and any data-in buffer
 * handed out by {@link #allocateDataIn}, which it sends and then releases.
 */
public interface ScsiTask {
    Nexus nexus();

    /** The CDB, position 0, limit 16 or more; read-only, read with absolute gets (position stays 0). */
    ByteBuffer cdb();

    /** The data received from the initiator, position 0, limit = bytes received; empty if none. */
    ByteBuffer dataOut();

    /**
     * Bytes of data-out the initiator sent, which may be more than {@link #dataOut()} holds:
     * only what the CDB can use is kept. Commands that must refuse a data-out of the wrong size
     * compare with this.
     */
    default long dataOutReceived() {
        return dataOut().remaining();
    }

    /** How many data-in bytes the initiator expects (its buffer size). */
    int dataInLimit();

    /** A cleared direct buffer of {@code length} bytes for data-in, owned by the transport. */
    ByteBuffer allocateDataIn(int length);

    /**
     * The logical units the command's I_T nexus can address now (its LUN view): where a copy
     * manager may find the units a third-party copy names. Empty where there is no such view.
     */
    default java.util.Collection<LogicalUnit> peers() {
        return java.util.List.of();
    }

    /** Whether the command was aborted by task management; long operations may stop early. */
    boolean aborted();
}
