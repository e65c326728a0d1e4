package io.clonetarget.server.it;

import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.TextSegment;
import io.clonetarget.server.pdu.TextSegment.Pair;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.io.DataInputStream;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A deliberately small iSCSI initiator for tests that must send what a real initiator never
 * would: it logs in (no authentication), then writes raw PDUs and reads what comes back.
 *
 * <p>Asynchronous Messages the target sends unasked are recorded in {@link #asyncMessages} as
 * {@link #receive} reads them, so methods that wait for something else skip past them without
 * losing them. One thread reads at a time; the records may be read from any thread.
 */
final class RawInitiator implements AutoCloseable {
    final Socket socket;
    final DataInputStream in;
    int cmdSn = 1;
    int expStatSn;
    int itt = 1;
    int maxRecv = 8192;
    boolean headerDigest;
    boolean dataDigest;
    private final io.clonetarget.server.pdu.Digest digest = new io.clonetarget.server.pdu.Digest();
    /** Every Asynchronous Message received, in arrival order. */
    final List<Pdu> asyncMessages = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** When set, the StatSN of every PDU that consumes one, in arrival order (off by default). */
    volatile List<Integer> statSnLog;

    /** A received PDU. */
    record Pdu(ByteBuffer bhs, byte[] data) {
        int opcode() {
            return Bhs.opcodeCode(bhs);
        }

        int itt() {
            return bhs.getInt(16);
        }
    }

    RawInitiator(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(5000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
    }

    static ByteBuffer header(int opcodeByte, int flags) {
        ByteBuffer h = ByteBuffer.allocate(48);
        h.put(0, (byte) opcodeByte).put(1, (byte) flags);
        return h;
    }

    void send(ByteBuffer header, byte[] data) throws IOException {
        Bhs.setDataSegmentLength(header, data.length);
        java.io.OutputStream out = socket.getOutputStream();
        out.write(header.array(), 0, 48);
        if (headerDigest) {
            out.write(digestBytes(digest.ofHeader(header, 48)));
        }
        out.write(data);
        out.write(new byte[Bhs.padding(data.length)]);
        if (dataDigest && data.length > 0) {
            out.write(digestBytes(digest.ofSegment(ByteBuffer.wrap(data))));
        }
        out.flush();
    }

    private static byte[] digestBytes(int value) {
        ByteBuffer b = ByteBuffer.allocate(4);
        io.clonetarget.server.pdu.Digest.put(b, 0, value);
        return b.array();
    }

    void sendRaw(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
    }

    Pdu receive() throws IOException {
        byte[] h = new byte[48];
        in.readFully(h);
        ByteBuffer bhs = ByteBuffer.wrap(h);
        if (headerDigest) {
            byte[] d = new byte[4];
            in.readFully(d);
            if (io.clonetarget.server.pdu.Digest.get(ByteBuffer.wrap(d), 0) != digest.ofHeader(bhs, 48)) {
                throw new IOException("bad header digest from the target");
            }
        }
        int dsl = Bhs.dataSegmentLength(bhs);
        byte[] data = new byte[dsl];
        in.readFully(data);
        in.skipNBytes(Bhs.padding(dsl));
        if (dataDigest && dsl > 0) {
            byte[] d = new byte[4];
            in.readFully(d);
            if (io.clonetarget.server.pdu.Digest.get(ByteBuffer.wrap(d), 0) != digest.ofSegment(ByteBuffer.wrap(data))) {
                throw new IOException("bad data digest from the target");
            }
        }
        Pdu pdu = new Pdu(bhs, data);
        if (consumesStatSn(pdu)) {
            expStatSn = bhs.getInt(24) + 1;
            List<Integer> log = statSnLog;
            if (log != null) {
                log.add(bhs.getInt(24));
            }
        }
        if (pdu.opcode() == 0x32) {
            asyncMessages.add(pdu);
        }
        return pdu;
    }

    /**
     * Whether a target PDU consumes a StatSN: responses, Data-In with status, Reject, a NOP-In
     * answering a NOP-Out, and Asynchronous Messages (not R2T, Data-In without status or the
     * target's own ping, which carry the next StatSN without using it).
     */
    static boolean consumesStatSn(Pdu p) {
        int op = p.opcode();
        return op == 0x21 || op == 0x22 || op == 0x23 || op == 0x24 || op == 0x26 || op == 0x3f || op == 0x32
                || (op == 0x25 && (Bhs.flags(p.bhs()) & 1) != 0) || (op == 0x20 && p.itt() != Bhs.RESERVED_TAG);
    }

    /** Receives PDUs until one with the given opcode arrives (answering target NOP-Ins). */
    Pdu receive(int opcode) throws IOException {
        while (true) {
            Pdu p = receive();
            if (p.opcode() == opcode) {
                return p;
            }
        }
    }

    /**
     * Sends a Logout Request (immediate; reason 0 closes the session, 1 the connection) and
     * receives until its Logout Response, which it returns.
     */
    Pdu logout(int reason) throws IOException {
        ByteBuffer h = header(0x06 | 0x40, 0x80 | reason);
        int myItt = itt++;
        h.putInt(16, myItt).putInt(24, cmdSn).putInt(28, expStatSn);
        send(h, new byte[0]);
        while (true) {
            Pdu p = receive();
            if (p.opcode() == 0x26 && p.itt() == myItt) {
                return p;
            }
        }
    }

    /** Whether the target closed the connection (EOF or reset) within the timeout. */
    boolean closedByTarget() throws IOException {
        try {
            while (true) {
                receive();
            }
        } catch (EOFException | java.net.SocketException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    long isid = 0x0002_3d00_0001L;
    String initiatorName = "iqn.2026-11.io.clonetarget:raw";

    /** Logs in to a normal session with the given operational keys; returns the final response keys. */
    List<Pair> login(String target, String... keys) throws IOException {
        ByteBuffer h = header(0x43, 0x80 | (1 << 2) | 3);
        h.putLong(8, isid << 16);
        h.putInt(16, itt++);
        h.putInt(24, cmdSn);
        List<Pair> pairs = new ArrayList<>(List.of(new Pair("InitiatorName", initiatorName),
                new Pair("TargetName", target), new Pair("SessionType", "Normal")));
        for (int i = 0; i < keys.length; i += 2) {
            pairs.add(new Pair(keys[i], keys[i + 1]));
        }
        send(h, TextSegment.encode(pairs));
        Pdu r = receive();
        if (r.opcode() != 0x23 || r.bhs().get(36) != 0) {
            throw new IOException("login failed: status " + r.bhs().get(36) + "/" + r.bhs().get(37));
        }
        List<Pair> reply;
        try {
            reply = TextSegment.parse(ByteBuffer.wrap(r.data()));
        } catch (TextSegment.TextFormatException e) {
            throw new IOException(e);
        }
        for (Pair p : reply) {
            if (p.key().equals("HeaderDigest")) {
                headerDigest = p.value().equals("CRC32C");
            }
            if (p.key().equals("DataDigest")) {
                dataDigest = p.value().equals("CRC32C");
            }
        }
        return reply;
    }

    /** A discovery session; returns nothing, the caller sends Text Requests. */
    void loginDiscovery(String... keys) throws IOException {
        ByteBuffer h = header(0x43, 0x80 | (1 << 2) | 3);
        h.putLong(8, isid << 16);
        h.putInt(16, itt++);
        h.putInt(24, cmdSn);
        List<Pair> pairs = new ArrayList<>(List.of(new Pair("InitiatorName", initiatorName),
                new Pair("SessionType", "Discovery")));
        for (int i = 0; i < keys.length; i += 2) {
            pairs.add(new Pair(keys[i], keys[i + 1]));
        }
        send(h, TextSegment.encode(pairs));
        Pdu r = receive();
        if (r.opcode() != 0x23 || r.bhs().get(36) != 0) {
            throw new IOException("discovery login failed");
        }
    }

    /** A SCSI Command PDU header (W, R flags as given). */
    ByteBuffer scsiCommand(int flags, int lun, int edtl, byte[] cdb) {
        ByteBuffer h = header(0x01, flags);
        h.putLong(8, ((long) lun) << 48);
        h.putInt(16, itt++);
        h.putInt(20, edtl);
        h.putInt(24, cmdSn++);
        h.putInt(28, expStatSn);
        h.put(32, cdb);
        return h;
    }

    /** The outcome of one SCSI command: status, Data-In collected, sense data (empty when none). */
    record Result(int status, byte[] data, byte[] sense) {
        int senseKey() {
            return sense.length > 2 ? sense[2] & 0x0f : -1;
        }

        int asc() {
            return sense.length > 12 ? sense[12] & 0xff : -1;
        }
    }

    /** Sends a SCSI command with its data as immediate data, and collects its Data-In and status. */
    Result command(int lun, byte[] cdb, byte[] dataOut, int readLength) throws IOException {
        int flags = 0x80 | (dataOut.length > 0 ? 0x20 : 0) | (readLength > 0 ? 0x40 : 0) | 0x01;
        ByteBuffer h = scsiCommand(flags, lun, dataOut.length > 0 ? dataOut.length : readLength, cdb);
        int myItt = h.getInt(16);
        send(h, dataOut);
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        while (true) {
            Pdu p = receive();
            if (p.opcode() == 0x20 || p.itt() != myItt) {
                continue; // a NOP-In the test does not need to answer within its timeout
            }
            if (p.opcode() == 0x25) {
                data.write(p.data());
                if ((Bhs.flags(p.bhs()) & 0x01) != 0) {
                    return new Result(p.bhs().get(3) & 0xff, data.toByteArray(), new byte[0]);
                }
            } else if (p.opcode() == 0x21) {
                byte[] sense = new byte[0];
                if (p.data().length >= 2) {
                    int n = ((p.data()[0] & 0xff) << 8) | (p.data()[1] & 0xff);
                    sense = java.util.Arrays.copyOfRange(p.data(), 2, 2 + n);
                }
                return new Result(p.bhs().get(3) & 0xff, data.toByteArray(), sense);
            } else {
                throw new IOException("unexpected PDU opcode " + p.opcode() + " for a SCSI command");
            }
        }
    }

    /** WRITE(10) of whole 512-byte blocks, with FUA when asked. */
    Result write10(int lun, long lba, byte[] data, boolean fua) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2a;
        cdb[1] = (byte) (fua ? 0x08 : 0);
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) (data.length / 512));
        return command(lun, cdb, data, 0);
    }

    /** READ(10) of {@code blocks} 512-byte blocks. */
    Result read10(int lun, long lba, int blocks) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x28;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return command(lun, cdb, new byte[0], blocks * 512);
    }

    /** SYNCHRONIZE CACHE(10) of the whole LUN. */
    Result synchronizeCache(int lun) throws IOException {
        byte[] cdb = new byte[16];
        cdb[0] = 0x35;
        return command(lun, cdb, new byte[0], 0);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
