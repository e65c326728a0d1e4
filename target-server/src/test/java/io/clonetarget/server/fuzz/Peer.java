package io.clonetarget.server.fuzz;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * One TCP connection of the fuzzer's initiator: login without authentication, raw sends, and
 * receives that check the target's own framing (a target must only ever send target opcodes, no
 * data segment above the MaxRecvDataSegmentLength we declared, and correct digests).
 */
final class Peer implements AutoCloseable {
    /** The operational parameters in force after login. */
    record Negotiated(boolean immediateData, boolean initialR2T, int firstBurst, int maxBurst, int targetMrdsl,
                      int maxOutstandingR2T, boolean headerDigest, boolean dataDigest) {
    }

    /** A PDU from the target. */
    record Received(byte[] header, byte[] data) {
        int opcode() {
            return Wire.opcode(header);
        }

        int itt() {
            return ByteBuffer.wrap(header).getInt(16);
        }

        int int32(int offset) {
            return ByteBuffer.wrap(header).getInt(offset);
        }
    }

    /** The target refused the login. */
    static final class LoginRefused extends IOException {
        final int statusClass;
        final int detail;

        LoginRefused(int statusClass, int detail) {
            super("login refused: status " + statusClass + "/" + detail);
            this.statusClass = statusClass;
            this.detail = detail;
        }
    }

    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    final int ourMrdsl;
    Negotiated params;
    volatile int expStatSn;
    volatile int maxCmdSn;
    /** Framing errors in what the target sent: each one is a defect of the target. */
    final List<String> targetErrors = new CopyOnWriteArrayList<>();
    private volatile boolean closedByTarget;
    private volatile boolean closing;
    private Thread drain;

    private Peer(Socket socket, int ourMrdsl) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 65536));
        this.out = socket.getOutputStream();
        this.ourMrdsl = ourMrdsl;
    }

    static Peer connect(String host, int port, int ourMrdsl, int timeoutMillis) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(host, port), timeoutMillis);
            s.setSoTimeout(timeoutMillis);
            s.setTcpNoDelay(true);
            return new Peer(s, ourMrdsl);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** The login request PDU (operational stage straight to full feature phase). */
    static byte[] loginRequest(long isid, int itt, int cmdSn, Map<String, String> keys) {
        ByteBuffer h = Wire.header(0x43, 0x80 | (1 << 2) | 3);
        h.putLong(8, isid << 16);
        h.putInt(16, itt);
        h.putInt(24, cmdSn);
        return Wire.pdu(h.array(), Wire.text(keys), false, false);
    }

    /** Standard keys for a normal session; {@code extra} adds or overrides. */
    static Map<String, String> keys(String initiator, String target, int ourMrdsl, Map<String, String> extra) {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("InitiatorName", initiator);
        k.put("TargetName", target);
        k.put("SessionType", "Normal");
        k.put("HeaderDigest", "None");
        k.put("DataDigest", "None");
        k.put("MaxRecvDataSegmentLength", Integer.toString(ourMrdsl));
        k.putAll(extra);
        return k;
    }

    /** Logs in with {@code keys}; the session starts at {@code cmdSn}. */
    Negotiated login(long isid, int itt, int cmdSn, Map<String, String> keys) throws IOException {
        send(loginRequest(isid, itt, cmdSn, keys));
        Received r = receive(false, false);
        if (r.opcode() != Wire.LOGIN_RESPONSE) {
            throw new IOException("expected a Login Response, got opcode " + Integer.toHexString(r.opcode()));
        }
        int statusClass = r.header()[36] & 0xff;
        if (statusClass != 0) {
            throw new LoginRefused(statusClass, r.header()[37] & 0xff);
        }
        if ((r.header()[1] & 0x80) == 0 || (r.header()[1] & 3) != 3) {
            throw new IOException("the target did not go to full feature phase in one step");
        }
        expStatSn = r.int32(24) + 1;
        maxCmdSn = r.int32(32);
        Map<String, String> a = Wire.parseText(r.data());
        params = new Negotiated(bool(a, "ImmediateData", true), bool(a, "InitialR2T", true),
                num(a, "FirstBurstLength", 65536), num(a, "MaxBurstLength", 262144),
                num(a, "MaxRecvDataSegmentLength", 8192), num(a, "MaxOutstandingR2T", 1),
                "CRC32C".equals(a.get("HeaderDigest")), "CRC32C".equals(a.get("DataDigest")));
        return params;
    }

    private static boolean bool(Map<String, String> a, String key, boolean dflt) {
        String v = a.get(key);
        return v == null ? dflt : v.equals("Yes");
    }

    private static int num(Map<String, String> a, String key, int dflt) {
        try {
            return a.containsKey(key) ? Integer.parseInt(a.get(key)) : dflt;
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads one PDU in full feature phase (digests as negotiated). */
    Received receive() throws IOException {
        return receive(params != null && params.headerDigest(), params != null && params.dataDigest());
    }

    private Received receive(boolean hd, boolean dd) throws IOException {
        byte[] h = new byte[Wire.BHS];
        in.readFully(h);
        int code = Wire.opcode(h);
        int ahs = (h[4] & 0xff) * 4;
        int dsl = Wire.dataSegmentLength(h);
        String at = " (header " + Wire.hex(h).replace('\n', ' ') + ")";
        if (!Wire.targetOpcode(code)) {
            targetError("the target sent initiator or unknown opcode " + Integer.toHexString(code) + at);
        }
        if (ahs != 0) {
            targetError("the target sent an AHS of " + ahs + " bytes" + at);
        }
        if (dsl > ourMrdsl && code != Wire.LOGIN_RESPONSE) {
            targetError("the target sent a data segment of " + dsl + " bytes, above our MaxRecvDataSegmentLength "
                    + ourMrdsl + at);
        }
        byte[] withAhs = h;
        if (ahs > 0) {
            withAhs = new byte[Wire.BHS + ahs];
            System.arraycopy(h, 0, withAhs, 0, Wire.BHS);
            in.readFully(withAhs, Wire.BHS, ahs);
        }
        if (hd) {
            byte[] d = new byte[4];
            in.readFully(d);
            if (Wire.getDigest(d, 0) != Wire.crc32c(withAhs, 0, withAhs.length)) {
                targetError("wrong header digest from the target" + at);
            }
        }
        byte[] data = new byte[dsl];
        in.readFully(data);
        in.skipNBytes(Wire.padding(dsl));
        if (dd && dsl > 0) {
            byte[] d = new byte[4];
            in.readFully(d);
            if (Wire.getDigest(d, 0) != Wire.crc32c(data, 0, dsl)) {
                targetError("wrong data digest from the target" + at);
            }
        }
        Received r = new Received(h, data);
        boolean advances = switch (code) {
            case Wire.SCSI_RESPONSE, Wire.TMF_RESPONSE, Wire.LOGIN_RESPONSE, Wire.TEXT_RESPONSE, Wire.LOGOUT_RESPONSE,
                 Wire.REJECT, Wire.ASYNC -> true;
            case Wire.DATA_IN -> (h[1] & 1) != 0;
            case Wire.NOP_IN -> r.itt() != Wire.RESERVED_TAG;
            default -> false;
        };
        if (advances) {
            expStatSn = r.int32(24) + 1;
        }
        maxCmdSn = r.int32(32); // every target PDU carries MaxCmdSN at byte 32
        return r;
    }

    private void targetError(String what) {
        if (targetErrors.size() < 20) {
            targetErrors.add(what);
        }
    }

    /** Reads everything the target sends on a thread of its own, handing each PDU to {@code sink}. */
    void startDrain(Consumer<Received> sink) {
        drain = Thread.ofPlatform().daemon().name("fuzz-drain").start(() -> {
            try {
                socket.setSoTimeout(0);
                while (true) {
                    sink.accept(receive());
                }
            } catch (EOFException | SocketException e) {
                if (!closing) {
                    closedByTarget = true;
                }
            } catch (IOException e) {
                if (!closing) {
                    closedByTarget = true;
                }
            }
        });
    }

    /** Whether the target closed the connection (seen by the drain thread). */
    boolean closedByTarget() {
        return closedByTarget;
    }

    /**
     * Reads until the target closes the connection or {@code millis} pass without it; returns
     * whether it closed. For a peer without a drain thread.
     */
    boolean awaitClose(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            while (true) {
                receive();
            }
        } catch (EOFException | SocketException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    /** Abrupt close (RST when data is still unread), or an orderly one. */
    void close(boolean abort) {
        closing = true;
        try {
            if (abort) {
                socket.setSoLinger(true, 0);
            }
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        if (drain != null) {
            try {
                drain.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        close(false);
    }
}
