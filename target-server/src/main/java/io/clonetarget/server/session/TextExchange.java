package io.clonetarget.server.session;

import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduException;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.pdu.RejectReason;
import io.clonetarget.server.pdu.TextSegment;
import io.clonetarget.server.pdu.TextSegment.Pair;
import io.clonetarget.server.target.TargetNode;
import java.io.ByteArrayOutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Text requests in full feature phase (RFC 7143 sections 6.7 and 11.10): SendTargets discovery,
 * requests spread over several PDUs (C bit) and answers longer than the initiator's
 * MaxRecvDataSegmentLength, sent in parts the initiator asks for with the target transfer tag.
 * Operational keys cannot be renegotiated here and are answered with Reject. Reader thread only.
 */
final class TextExchange {
    private static final int TEXT_TTT_BASE = 0x40000000;
    private final Session session;
    private final Outbox outbox;
    private final InetSocketAddress local;
    private final ServerContext context;
    private final ByteArrayOutputStream request = new ByteArrayOutputStream();
    private byte[] answer;
    private int answerOffset;
    private int answerTtt = Bhs.RESERVED_TAG;
    private int nextTtt = TEXT_TTT_BASE;

    TextExchange(Session session, Outbox outbox, InetSocketAddress local, ServerContext context) {
        this.session = session;
        this.outbox = outbox;
        this.local = local;
        this.context = context;
    }

    /** Handles a Text Request whose turn in CmdSN order has come; {@code data} is its segment. */
    void request(ByteBuffer bhs, ByteBuffer data) throws PduException {
        boolean fin = Bhs.finalBit(bhs);
        boolean cont = (Bhs.flags(bhs) & 0x40) != 0;
        int itt = Bhs.itt(bhs);
        int ttt = bhs.getInt(Bhs.OFF_TTT);
        long lun = Bhs.lun(bhs);
        if (ttt != Bhs.RESERVED_TAG) {
            if (answer == null || ttt != answerTtt) {
                throw new PduException(RejectReason.INVALID_PDU_FIELD, false,
                        "Text Request with unknown target transfer tag " + Integer.toHexString(ttt));
            }
            sendPart(itt, lun);
            return;
        }
        answer = null;
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        request.writeBytes(bytes);
        if (cont || !fin) {
            if (request.size() > 64 * 1024) {
                request.reset();
                throw new PduException(RejectReason.PROTOCOL_ERROR, true, "text request longer than 64 KiB");
            }
            outbox.send(Pdus.textResponse(false, false, lun, itt, newTtt(), new byte[0]));
            return;
        }
        List<Pair> pairs;
        try {
            pairs = TextSegment.parse(ByteBuffer.wrap(request.toByteArray()));
        } catch (TextSegment.TextFormatException e) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, false, "malformed text request: " + e.getMessage());
        } finally {
            request.reset();
        }
        answer = TextSegment.encode(answer(pairs));
        answerOffset = 0;
        answerTtt = newTtt();
        sendPart(itt, lun);
    }

    private int newTtt() {
        int t = nextTtt++;
        if (nextTtt == Integer.MAX_VALUE) {
            nextTtt = TEXT_TTT_BASE;
        }
        return t;
    }

    private void sendPart(int itt, long lun) {
        int max = session.parameters().initiatorMaxRecvDataSegmentLength();
        int n = Math.min(max, answer.length - answerOffset);
        byte[] part = new byte[n];
        System.arraycopy(answer, answerOffset, part, 0, n);
        answerOffset += n;
        boolean done = answerOffset >= answer.length;
        outbox.send(Pdus.textResponse(done, !done, lun, itt, done ? Bhs.RESERVED_TAG : answerTtt, part));
        if (done) {
            answer = null;
            answerTtt = Bhs.RESERVED_TAG;
        }
    }

    private List<Pair> answer(List<Pair> pairs) {
        List<Pair> out = new ArrayList<>();
        for (Pair p : pairs) {
            switch (p.key()) {
                case "SendTargets" -> sendTargets(p.value(), out);
                default -> out.add(new Pair(p.key(), io.clonetarget.server.login.Negotiation.isSecurityKey(p.key())
                        || isKnownKey(p.key()) ? "Reject" : "NotUnderstood"));
            }
        }
        return out;
    }

    private static boolean isKnownKey(String key) {
        return io.clonetarget.server.login.Negotiation.isKnownKey(key);
    }

    private void sendTargets(String value, List<Pair> out) {
        List<TargetNode> targets = new ArrayList<>();
        if (session.discovery()) {
            for (TargetNode t : context.targets()) {
                if ((value.equals("All") || value.equals(t.name())) && visible(t)) {
                    targets.add(t);
                }
            }
        } else if (value.isEmpty() || value.equals(session.target().name())) {
            targets.add(session.target());
        }
        for (TargetNode t : targets) {
            out.add(new Pair("TargetName", t.name()));
            for (String address : addresses()) {
                out.add(new Pair("TargetAddress", address + "," + context.portalGroupTag()));
            }
        }
    }

    /**
     * Whether a discovery session may see a target: only one it could log in to. The initiator
     * name must be admitted, and a target that requires CHAP is shown only to a discovery
     * session that proved a CHAP identity itself (without discovery CHAP, anyone could list it).
     */
    private boolean visible(TargetNode t) {
        java.net.InetSocketAddress from = session.remote();
        return t.admits(session.initiatorName(), from == null ? null : from.getAddress()) && (t.chap() == null || session.authenticatedAs() != null);
    }

    /** Portal addresses to advertise: wildcard portals show the address this connection used. */
    private List<String> addresses() {
        List<String> list = new ArrayList<>();
        for (InetSocketAddress portal : context.portals()) {
            InetAddress address = portal.getAddress().isAnyLocalAddress() ? local.getAddress() : portal.getAddress();
            if (address instanceof Inet6Address v6 && (v6.isLinkLocalAddress() || v6.getScopeId() != 0)) {
                continue;
            }
            String host = address instanceof Inet6Address ? "[" + address.getHostAddress() + "]" : address.getHostAddress();
            String entry = host + ":" + portal.getPort();
            if (!list.contains(entry)) {
                list.add(entry);
            }
        }
        return list;
    }
}
