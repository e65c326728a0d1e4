package io.clonetarget.server.session;

import io.clonetarget.server.log.LogContext;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.Opcode;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduException;
import io.clonetarget.server.pdu.PduReader;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.pdu.RejectReason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The full feature phase of a connection: the PDUs that arrive after login, by opcode. SCSI
 * commands and Data-Out go to {@link ScsiFlow}, task management to {@link TaskManagement}, text
 * to {@link TextExchange}; NOP-Outs and Logout are answered here, each in CmdSN order through
 * the session's window. Runs on the connection's reader thread.
 */
final class FullFeaturePhase {
    private static final Logger LOG = LoggerFactory.getLogger(FullFeaturePhase.class);
    private final Connection connection;
    private final Session session;
    private final ServerContext context;
    private final PduReader reader;
    private final Outbox outbox;
    private final CommandSequencer window;
    private final ScsiFlow scsi;
    private final TaskManagement taskManagement;
    private final TextExchange text;
    private final int connectionCid;

    FullFeaturePhase(Connection connection, Session session, ServerContext context, PduReader reader, Outbox outbox,
                     ScsiFlow scsi, TaskManagement taskManagement, TextExchange text, int connectionCid) {
        this.connection = connection;
        this.session = session;
        this.context = context;
        this.reader = reader;
        this.outbox = outbox;
        this.window = session.sequencer();
        this.scsi = scsi;
        this.taskManagement = taskManagement;
        this.text = text;
        this.connectionCid = connectionCid;
    }

    /** Handles the PDU whose header was just read. */
    void dispatch(ByteBuffer bhs) throws IOException, PduException {
        Opcode op = Opcode.initiatorOpcode(Bhs.opcodeCode(bhs));
        if (op == null) {
            throw new PduException(RejectReason.COMMAND_NOT_SUPPORTED, false,
                    String.format("unsupported opcode %02xh", Bhs.opcodeCode(bhs)));
        }
        switch (op) {
            case NOP_OUT -> nopOut(bhs);
            case SCSI_COMMAND -> scsi.command(bhs);
            case DATA_OUT -> scsi.dataOut(bhs);
            case TASK_MANAGEMENT_REQUEST -> taskManagement(bhs);
            case TEXT_REQUEST -> textRequest(bhs);
            case LOGOUT_REQUEST -> logout(bhs);
            case LOGIN_REQUEST -> throw new PduException(RejectReason.PROTOCOL_ERROR, true,
                    "Login Request in full feature phase");
            case SNACK_REQUEST -> throw new PduException(RejectReason.SNACK_REJECT, false,
                    "SNACK at ErrorRecoveryLevel 0");
            default -> throw new PduException(RejectReason.COMMAND_NOT_SUPPORTED, false, "opcode " + op);
        }
    }

    private static ByteBuffer copy(ByteBuffer bhs) {
        ByteBuffer c = ByteBuffer.allocate(Bhs.LENGTH);
        c.put(bhs.duplicate().position(0).limit(Bhs.LENGTH)).flip();
        return c;
    }

    private void nopOut(ByteBuffer bhs) throws IOException, PduException {
        int itt = Bhs.itt(bhs);
        int ttt = bhs.getInt(Bhs.OFF_TTT);
        int cmdSn = bhs.getInt(Bhs.OFF_CMDSN);
        boolean immediate = Bhs.immediate(bhs);
        long lun = Bhs.lun(bhs);
        ByteBuffer data = reader.readDataToHeap();
        connection.pingAnswered(ttt);
        if (itt == Bhs.RESERVED_TAG) {
            return;
        }
        int max = session.parameters().initiatorMaxRecvDataSegmentLength();
        if (data.remaining() > max) {
            data.limit(max);
        }
        if (window.accepts(cmdSn, immediate)) {
            window.submit(cmdSn, immediate, () -> outbox.send(Pdus.nopInReply(lun, itt, data)));
        }
    }

    private void taskManagement(ByteBuffer bhs) throws IOException, PduException {
        if (session.discovery()) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, false, "task management on a discovery session");
        }
        reader.skipData();
        int cmdSn = bhs.getInt(Bhs.OFF_CMDSN);
        boolean immediate = Bhs.immediate(bhs);
        ByteBuffer header = copy(bhs);
        if (window.accepts(cmdSn, immediate)) {
            window.submit(cmdSn, immediate, () -> taskManagement.request(header));
        }
    }

    private void textRequest(ByteBuffer bhs) throws IOException, PduException {
        int cmdSn = bhs.getInt(Bhs.OFF_CMDSN);
        boolean immediate = Bhs.immediate(bhs);
        ByteBuffer data = reader.readDataToHeap();
        ByteBuffer header = copy(bhs);
        if (window.accepts(cmdSn, immediate)) {
            window.submit(cmdSn, immediate, () -> text.request(header, data));
        }
    }

    private void logout(ByteBuffer bhs) throws IOException, PduException {
        int reason = Bhs.flags(bhs) & 0x7f;
        int itt = Bhs.itt(bhs);
        int cid = bhs.getShort(20) & 0xffff;
        int cmdSn = bhs.getInt(Bhs.OFF_CMDSN);
        boolean immediate = Bhs.immediate(bhs);
        reader.skipData();
        if (reason > 2) {
            throw new PduException(RejectReason.INVALID_PDU_FIELD, false, "logout reason code " + reason);
        }
        if (!window.accepts(cmdSn, immediate)) {
            return;
        }
        window.submit(cmdSn, immediate, () -> {
            if (reason == 2) {
                outbox.send(Pdus.logoutResponse(itt, 2));
                return;
            }
            if (reason == 1 && cid != connectionCid) {
                outbox.send(Pdus.logoutResponse(itt, 1));
                return;
            }
            connection.loggingOut();
            String sessionContext = session.logContext();
            context.background().execute(() -> {
                LogContext.connection(connection.id(), sessionContext);
                List<CompletableFuture<Void>> running = new ArrayList<>();
                for (IscsiTask t : session.tasks.values()) {
                    if (t.state.get() == IscsiTask.State.RECEIVING) {
                        Session.abort(t);
                    }
                    running.add(t.finished);
                }
                try {
                    CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    LOG.warn("logout: tasks did not finish: {}", e.toString());
                }
                // the I_T nexus is gone once the initiator reads the response: its reservations and
                // other per-nexus state go first, so a command it sends next on another session cannot
                // meet them (closing the connection releases them again, harmlessly)
                if (session.target() != null) {
                    for (io.clonetarget.server.scsi.LogicalUnit unit : session.target().units()) {
                        unit.nexusLost(session.nexus());
                    }
                    session.nexusReleased = true;
                }
                outbox.send(Pdus.logoutResponse(itt, 0).then(() -> connection.close("logout")));
            });
        });
    }
}
