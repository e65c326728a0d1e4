package io.clonetarget.server.pdu;

import java.nio.ByteBuffer;

/**
 * A target PDU waiting to be sent: a header (BHS plus AHS, with room for a header digest), an
 * optional data segment (a slice of a pooled buffer, never copied), and what to do with the
 * status sequence number. The writer fills StatSN, ExpCmdSN, MaxCmdSN and the digests just
 * before the bytes leave, so that sequence numbers are in wire order.
 *
 * <p>{@link #onSent} runs once the bytes were handed to the socket, or when the connection
 * dies with the PDU still queued; it releases the buffers the PDU borrowed.
 */
public final class OutboundPdu {
    /** How the writer treats the StatSN field. */
    public enum StatSnUse {
        /** The field is reserved (Data-In without status). */
        NONE,
        /** Carries the next StatSN without consuming it (R2T, unsolicited NOP-In). */
        CURRENT,
        /** Consumes a StatSN (every response). */
        ADVANCE
    }

    private final ByteBuffer header;
    private final int headerLength;
    private final ByteBuffer data;
    private final StatSnUse statSnUse;
    private Runnable onSent;

    public OutboundPdu(ByteBuffer header, int headerLength, ByteBuffer data, StatSnUse statSnUse, Runnable onSent) {
        if (header.capacity() < headerLength + Digest.LENGTH) {
            throw new IllegalArgumentException("header buffer needs room for a digest");
        }
        this.header = header;
        this.headerLength = headerLength;
        this.data = data;
        this.statSnUse = statSnUse;
        this.onSent = onSent;
    }

    /** A fresh 48-byte header buffer with room for a digest. */
    public static ByteBuffer newHeader() {
        return ByteBuffer.allocate(Bhs.LENGTH + Digest.LENGTH);
    }

    /** A PDU with a 48-byte header and an optional data segment. */
    public static OutboundPdu of(ByteBuffer header, ByteBuffer data, StatSnUse statSnUse) {
        if (data != null) {
            Bhs.setDataSegmentLength(header, data.remaining());
        }
        return new OutboundPdu(header, Bhs.LENGTH, data, statSnUse, null);
    }

    public ByteBuffer header() {
        return header;
    }

    public int headerLength() {
        return headerLength;
    }

    /** The data segment, or null. */
    public ByteBuffer data() {
        return data;
    }

    public StatSnUse statSnUse() {
        return statSnUse;
    }

    /** Adds an action to run after the PDU was written (or dropped). */
    public OutboundPdu then(Runnable action) {
        Runnable previous = onSent;
        onSent = previous == null ? action : () -> {
            previous.run();
            action.run();
        };
        return this;
    }

    /** Runs and forgets the completion action. Called once by the writer. */
    public void completed() {
        Runnable r = onSent;
        onSent = null;
        if (r != null) {
            r.run();
        }
    }

    public Opcode opcode() {
        int code = Bhs.opcodeCode(header);
        for (Opcode op : Opcode.values()) {
            if (op.code() == code) {
                return op;
            }
        }
        throw new IllegalStateException("unknown opcode " + code);
    }
}
