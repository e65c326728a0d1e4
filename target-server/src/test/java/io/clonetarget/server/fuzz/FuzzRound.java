package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * One round of fuzzing: one connection, a login (sometimes mutated itself), a stream of valid and
 * mutated PDUs of every kind an initiator sends, and an ending (RST, FIN, half close, logout, or
 * idle first). Everything sent is recorded, so a round that breaks an invariant can be replayed
 * byte for byte and shrunk. Deterministic in its choices for a seed; the target transfer tags it
 * copies into solicited Data-Outs are the ones the target's R2Ts carry.
 */
final class FuzzRound {
    /** Where to connect. */
    record Endpoint(String host, int port, String iqn, int lun) {
    }

    /** What a round did. */
    record Outcome(int round, long seed, byte[] login, Peer.Negotiated negotiated, List<byte[]> chunks,
                   List<byte[]> pdus, List<String> mutations, String ending, boolean loggedIn, boolean closedByTarget,
                   int[] received,
                   List<String> targetErrors, int localPort) {
        int sentBytes() {
            int n = login.length;
            for (byte[] c : chunks) {
                n += c.length;
            }
            return n;
        }
    }

    private record R2t(int itt, int ttt, int r2tSn, int offset, int length) {
    }

    static final int BUDGET_MILLIS = 2500;
    private final Endpoint endpoint;
    private final LunLayout layout;
    private final int round;
    private final long seed;
    private final Random rnd;
    private final Mutator mutator;
    private final List<byte[]> chunks = new ArrayList<>();
    /** The same bytes, one entry per PDU (fragments and garbage in front joined): what the shrinker works on. */
    private final List<byte[]> pdus = new ArrayList<>();
    private final List<String> mutations = new ArrayList<>();
    private final ConcurrentLinkedQueue<R2t> r2ts = new ConcurrentLinkedQueue<>();
    private final Map<Integer, Boolean> open = new ConcurrentHashMap<>();
    private final AtomicIntegerArray received = new AtomicIntegerArray(64);
    private final long deadline;
    private Peer peer;
    private Peer.Negotiated p;
    private double intensity;
    private int cmdSn;
    private int itt;
    private int pduCount;

    FuzzRound(Endpoint endpoint, LunLayout layout, int round, long seed) {
        this.endpoint = endpoint;
        this.layout = layout;
        this.round = round;
        this.seed = seed;
        this.rnd = new Random(seed);
        this.mutator = new Mutator(rnd, layout);
        this.deadline = System.nanoTime() + BUDGET_MILLIS * 1_000_000L;
    }

    Outcome run() throws IOException {
        double[] intensities = {0.0, 0.005, 0.02, 0.05, 0.15, 0.4, 1.0};
        intensity = intensities[rnd.nextInt(intensities.length)];
        cmdSn = rnd.nextInt(8) == 0 ? -1 - rnd.nextInt(40) : rnd.nextInt(); // sometimes across the wrap
        itt = rnd.nextInt(1 << 30);
        int ourMrdsl = new int[]{512, 8192, 65536, 262144}[rnd.nextInt(4)];
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("ImmediateData", rnd.nextInt(4) == 0 ? "No" : "Yes");
        extra.put("InitialR2T", rnd.nextInt(3) == 0 ? "Yes" : "No");
        int maxBurst = pick(512, 4096, 65536, 262144, 16776192);
        int firstBurst = pick(512, 4096, 65536, 262144, 512 + rnd.nextInt(1 << 20));
        if (rnd.nextInt(10) != 0) {
            firstBurst = Math.min(firstBurst, maxBurst); // RFC 7143 13.14; now and then not
        }
        extra.put("FirstBurstLength", Integer.toString(firstBurst));
        extra.put("MaxBurstLength", Integer.toString(maxBurst));
        extra.put("MaxOutstandingR2T", Integer.toString(pick(1, 2, 16)));
        if (rnd.nextInt(5) == 0) {
            extra.put("HeaderDigest", "CRC32C");
        }
        if (rnd.nextInt(5) == 0) {
            extra.put("DataDigest", "CRC32C");
        }
        String initiator = "iqn.2026-11.io.clonetarget:fuzz";
        long isid = 0x0000_4000_0000L | ((seed ^ round) & 0xffff_ffL) << 8 | (round & 0xff);
        Map<String, String> keys = Peer.keys(initiator, endpoint.iqn(), ourMrdsl, extra);
        byte[] login = Peer.loginRequest(isid, itt++, cmdSn, keys);
        peer = Peer.connect(endpoint.host(), endpoint.port(), ourMrdsl, 5000);
        boolean loggedIn = false;
        try {
            if (rnd.nextInt(12) == 0) {
                login = mutateLogin(login);
                peer.send(login);
                peer.startDrain(this::onReceive);
                for (int i = rnd.nextInt(4); i > 0; i--) {
                    junk();
                }
            } else {
                p = peer.login(isid, itt - 1, cmdSn, keys);
                loggedIn = true;
                peer.startDrain(this::onReceive);
                int actions = 10 + rnd.nextInt(rnd.nextBoolean() ? 40 : 250);
                for (int i = 0; i < actions && System.nanoTime() < deadline && !peer.closedByTarget(); i++) {
                    action();
                }
            }
        } catch (Peer.LoginRefused e) {
            mutations.add(e.getMessage());
        } catch (IOException e) {
            mutations.add("send failed: " + e.getMessage());
        }
        String ending = end();
        int[] counts = new int[64];
        for (int i = 0; i < 64; i++) {
            counts[i] = received.get(i);
        }
        return new Outcome(round, seed, login, p, chunks, pdus, mutations, ending, loggedIn, peer.closedByTarget(),
                counts,
                List.copyOf(peer.targetErrors), peer.socket.getLocalPort());
    }

    private int pick(int... values) {
        return values[rnd.nextInt(values.length)];
    }

    private byte[] mutateLogin(byte[] login) {
        byte[] l = login.clone();
        switch (rnd.nextInt(4)) {
            case 0 -> l[rnd.nextInt(Wire.BHS)] ^= (byte) (1 << rnd.nextInt(8));
            case 1 -> Wire.setDataSegmentLength(l, rnd.nextInt(1 << 24));
            case 2 -> l[Wire.BHS + rnd.nextInt(l.length - Wire.BHS)] = (byte) rnd.nextInt(256);
            default -> l[0] = (byte) rnd.nextInt(256);
        }
        mutations.add("login mutated");
        return l;
    }

    private void onReceive(Peer.Received r) {
        received.incrementAndGet(r.opcode());
        switch (r.opcode()) {
            case Wire.R2T -> r2ts.add(new R2t(r.itt(), r.int32(20), r.int32(36), r.int32(40), r.int32(44)));
            case Wire.SCSI_RESPONSE -> open.remove(r.itt());
            case Wire.DATA_IN -> {
                if ((r.header()[1] & 1) != 0) {
                    open.remove(r.itt());
                }
            }
            default -> {
            }
        }
    }

    // ---- actions --------------------------------------------------------------------------------

    private void action() throws IOException {
        int w = rnd.nextInt(100);
        if (w < 16) {
            read();
        } else if (w < 40) {
            write();
        } else if (w < 48) {
            nop();
        } else if (w < 52) {
            text();
        } else if (w < 58) {
            tmf(rnd.nextInt(3) == 0 ? randomOpenItt() : itt - 1 - rnd.nextInt(4), rnd.nextInt(10));
        } else if (w < 70) {
            otherCommand();
        } else if (w < 76) {
            announceLarge();
        } else if (w < 80) {
            junk();
        } else if (w < 82) {
            logout();
        } else if (w < 85) {
            sleep(rnd.nextInt(30));
        } else {
            strayDataOut();
        }
    }

    private byte[] command(int flags, boolean immediate, long edtl, byte[] cdb) {
        ByteBuffer h = Wire.header((immediate ? 0x40 : 0) | Wire.SCSI_COMMAND, flags);
        h.putLong(8, (long) endpoint.lun() << 48);
        h.putInt(16, itt++);
        h.putInt(20, (int) edtl);
        h.putInt(24, immediate ? cmdSn : cmdSn++);
        h.putInt(28, peer.expStatSn);
        h.put(32, cdb);
        return h.array();
    }

    static byte[] rw10(int op, long lba, int blocks) {
        byte[] cdb = new byte[16];
        cdb[0] = (byte) op;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return cdb;
    }

    private void read() throws IOException {
        int blocks = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 256);
        long lba = rnd.nextInt(10) == 0 ? layout.lunBlocks() - rnd.nextInt(16)
                : (long) (rnd.nextDouble() * layout.lunBlocks());
        byte[] cdb = rw10(0x28, lba, blocks);
        if (rnd.nextInt(4) == 0) {
            cdb = new byte[16];
            cdb[0] = (byte) 0x88;
            ByteBuffer.wrap(cdb).putLong(2, lba).putInt(10, blocks);
        }
        byte[] h = command(0xc0, rnd.nextInt(4) == 0, (long) blocks * layout.blockSize(), cdb);
        open.put(ByteBuffer.wrap(h).getInt(16), true);
        emit(h, new byte[0]);
    }

    private void write() throws IOException {
        int blocks = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(2048) : 1 + rnd.nextInt(16);
        long lba = layout.fuzzLba() + (long) (rnd.nextDouble() * (layout.fuzzBlocks() - blocks));
        int len = blocks * layout.blockSize();
        byte[] data = new byte[len];
        rnd.nextBytes(data);
        int firstBurst = Math.min(len, Math.min(p.firstBurst(), p.maxBurst()));
        int imm = p.immediateData() ? Math.min(firstBurst, p.targetMrdsl()) : 0;
        if (imm > 0 && rnd.nextInt(4) == 0) {
            imm = rnd.nextInt(imm + 1);
        }
        boolean unsolicited = !p.initialR2T() && imm < firstBurst && rnd.nextInt(5) != 0;
        byte[] h = command(0x20 | (unsolicited ? 0 : 0x80), rnd.nextInt(5) == 0, len, rw10(0x2a, lba, blocks));
        int myItt = ByteBuffer.wrap(h).getInt(16);
        open.put(myItt, true);
        emit(h, java.util.Arrays.copyOf(data, imm));
        int offset = imm;
        boolean raceAbort = rnd.nextInt(8) == 0;
        if (unsolicited) {
            int dataSn = 0;
            while (offset < firstBurst) {
                int n = Math.min(firstBurst - offset, p.targetMrdsl());
                dataOut(myItt, Wire.RESERVED_TAG, dataSn++, offset, data, n, offset + n == firstBurst);
                offset += n;
                if (raceAbort && rnd.nextBoolean()) {
                    tmf(myItt, 0);
                    raceAbort = false;
                }
            }
        }
        while (offset < len && System.nanoTime() < deadline) {
            R2t r2t = awaitR2t(myItt, 300);
            if (r2t == null) {
                return;
            }
            int done = 0;
            int dataSn = 0;
            while (done < r2t.length() && r2t.offset() + done < len) {
                int n = Math.min(Math.min(r2t.length() - done, p.targetMrdsl()), len - r2t.offset() - done);
                dataOut(myItt, r2t.ttt(), dataSn++, r2t.offset() + done, data, n, done + n == r2t.length());
                done += n;
                if (raceAbort && rnd.nextInt(3) == 0) {
                    tmf(myItt, rnd.nextInt(3) == 0 ? 4 : 0);
                    raceAbort = false;
                }
            }
            offset = Math.max(offset, r2t.offset() + done);
        }
    }

    private R2t awaitR2t(int forItt, int millis) {
        long until = System.nanoTime() + millis * 1_000_000L;
        while (System.nanoTime() < until && !peer.closedByTarget()) {
            for (Iterator<R2t> i = r2ts.iterator(); i.hasNext(); ) {
                R2t r = i.next();
                if (r.itt() == forItt) {
                    i.remove();
                    return r;
                }
            }
            sleep(1);
        }
        return null;
    }

    /** A Data-Out of {@code n} bytes of the task's {@code data} from buffer offset {@code offset}. */
    private void dataOut(int forItt, int ttt, int dataSn, int offset, byte[] data, int n, boolean fin)
            throws IOException {
        dataOut(forItt, ttt, dataSn, offset, java.util.Arrays.copyOfRange(data, offset, offset + n), fin);
    }

    private void dataOut(int forItt, int ttt, int dataSn, int offset, byte[] segment, boolean fin) throws IOException {
        ByteBuffer h = Wire.header(Wire.DATA_OUT, fin ? 0x80 : 0);
        h.putLong(8, (long) endpoint.lun() << 48);
        h.putInt(16, forItt).putInt(20, ttt).putInt(28, peer.expStatSn).putInt(36, dataSn).putInt(40, offset);
        emit(h.array(), segment);
    }

    /** A Data-Out for an R2T of another task, a finished task, or nothing at all. */
    private void strayDataOut() throws IOException {
        R2t r = r2ts.poll();
        int forItt = r != null ? r.itt() : rnd.nextBoolean() ? itt - 1 : rnd.nextInt();
        int ttt = r != null ? r.ttt() : rnd.nextBoolean() ? Wire.RESERVED_TAG : rnd.nextInt();
        byte[] data = new byte[rnd.nextInt(Math.min(p.targetMrdsl(), 8192) + 1)];
        rnd.nextBytes(data);
        dataOut(forItt, ttt, rnd.nextInt(3), r != null ? r.offset() : rnd.nextInt(1 << 20), data, rnd.nextBoolean());
    }

    private void nop() throws IOException {
        boolean ping = rnd.nextInt(6) != 0;
        ByteBuffer h = Wire.header(0x40 | Wire.NOP_OUT, 0x80);
        h.putLong(8, (long) endpoint.lun() << 48);
        h.putInt(16, ping ? itt++ : Wire.RESERVED_TAG);
        h.putInt(20, ping ? Wire.RESERVED_TAG : rnd.nextInt());
        h.putInt(24, cmdSn).putInt(28, peer.expStatSn);
        int max = Math.min(p.targetMrdsl(), rnd.nextInt(8) == 0 ? p.targetMrdsl() : 1024);
        byte[] data = new byte[ping ? rnd.nextInt(max + 1) : 0];
        rnd.nextBytes(data);
        emit(h.array(), data);
    }

    private void text() throws IOException {
        boolean cont = rnd.nextInt(6) == 0;
        ByteBuffer h = Wire.header(Wire.TEXT_REQUEST, cont ? 0x40 : 0x80);
        h.putInt(16, itt++);
        h.putInt(20, rnd.nextInt(5) == 0 ? rnd.nextInt() : Wire.RESERVED_TAG);
        h.putInt(24, cmdSn++).putInt(28, peer.expStatSn);
        Map<String, String> kv = new LinkedHashMap<>();
        switch (rnd.nextInt(4)) {
            case 0 -> kv.put("SendTargets", "All");
            case 1 -> kv.put("SendTargets", endpoint.iqn());
            case 2 -> kv.put("MaxRecvDataSegmentLength", Integer.toString(rnd.nextInt()));
            default -> kv.put("X-fuzz-" + rnd.nextInt(1000), "v".repeat(rnd.nextInt(300)));
        }
        emit(h.array(), Wire.text(kv));
    }

    /** Task management: 1 ABORT TASK, 2 ABORT TASK SET, 4 CLEAR TASK SET, 5 LUN RESET, 6/7 target resets... */
    private void tmf(int referenced, int choice) throws IOException {
        int function = switch (choice) {
            case 0, 1, 2, 3 -> 1;
            case 4 -> 2;
            case 5 -> 4;
            case 6 -> 5;
            case 7 -> rnd.nextInt(4) == 0 ? 7 : 6;
            case 8 -> rnd.nextBoolean() ? 3 : 8; // CLEAR ACA, TASK REASSIGN
            default -> rnd.nextInt(128);
        };
        ByteBuffer h = Wire.header(0x40 | Wire.TMF_REQUEST, 0x80 | function);
        h.putLong(8, (long) endpoint.lun() << 48);
        h.putInt(16, itt++).putInt(20, function == 1 ? referenced : Wire.RESERVED_TAG);
        h.putInt(24, cmdSn).putInt(28, peer.expStatSn).putInt(32, cmdSn - 1 - rnd.nextInt(4));
        emit(h.array(), new byte[0]);
    }

    private int randomOpenItt() {
        for (Integer i : open.keySet()) {
            if (rnd.nextInt(3) == 0) {
                return i;
            }
        }
        return rnd.nextInt();
    }

    private void otherCommand() throws IOException {
        Cdbs.Command c = Cdbs.other(rnd, layout, p);
        byte[] h = command(c.flags(), rnd.nextInt(4) == 0, c.edtl(), c.cdb());
        open.put(ByteBuffer.wrap(h).getInt(16), true);
        emit(h, c.data());
    }

    /** Commands that announce large transfers and send no data (one, or a burst). */
    private void announceLarge() throws IOException {
        int n = rnd.nextInt(3) == 0 ? 8 + rnd.nextInt(56) : 1;
        for (int i = 0; i < n; i++) {
            long edtl = pick((16 << 20) + 512, (32 << 20) + 512, 48 << 20, 64 << 20, (64 << 20) + 1, 0x7fffffff, -1,
                    (16 << 20) + 1, 1 << 20);
            boolean write = rnd.nextInt(3) != 0;
            byte[] cdb = rw10(write ? 0x2a : 0x28, layout.fuzzLba() + rnd.nextInt(1024), 1 + rnd.nextInt(8));
            emit(command(write ? 0xa0 : 0xc0, rnd.nextInt(3) == 0, edtl, cdb), new byte[0]);
        }
    }

    /** Bytes that are no PDU, or a header of random bytes. */
    private void junk() throws IOException {
        byte[] b = new byte[rnd.nextBoolean() ? Wire.BHS : 1 + rnd.nextInt(300)];
        rnd.nextBytes(b);
        Mutator.sanitize(b, layout, rnd);
        mutations.add("junk " + b.length + " bytes");
        pdus.add(b);
        send(b);
    }

    private void logout() throws IOException {
        ByteBuffer h = Wire.header((rnd.nextBoolean() ? 0x40 : 0) | Wire.LOGOUT_REQUEST,
                0x80 | (rnd.nextInt(5) == 0 ? rnd.nextInt(128) : rnd.nextInt(3)));
        boolean immediate = (h.get(0) & 0x40) != 0;
        h.putInt(16, itt++).putShort(20, (short) 0);
        h.putInt(24, immediate ? cmdSn : cmdSn++).putInt(28, peer.expStatSn);
        emit(h.array(), new byte[0]);
    }

    private void emit(byte[] header, byte[] data) throws IOException {
        boolean mutate = rnd.nextDouble() < intensity;
        emit(header, data, mutate);
        int op = Wire.opcode(header);
        boolean ordered = (header[0] & 0x40) == 0
                && (op == Wire.SCSI_COMMAND || op == Wire.TEXT_REQUEST || op == Wire.LOGOUT_REQUEST);
        if (mutate && ordered && rnd.nextInt(5) != 0) {
            // the target may have dropped the mutated command, leaving a hole in CmdSN that would
            // hold every later command: fill it with a NOP-Out (ignored as a duplicate if not)
            ByteBuffer h = Wire.header(Wire.NOP_OUT, 0x80);
            h.putLong(8, (long) endpoint.lun() << 48);
            h.putInt(16, itt++).putInt(20, Wire.RESERVED_TAG).putInt(24, ByteBuffer.wrap(header).getInt(24))
                    .putInt(28, peer.expStatSn);
            emit(h.array(), new byte[0], false);
        }
    }

    private void emit(byte[] header, byte[] data, boolean mutate) throws IOException {
        List<byte[]> parts = mutator.frame(header, data, p != null && p.headerDigest(), p != null && p.dataDigest(),
                mutate);
        if (!mutator.applied.isEmpty()) {
            mutations.add("pdu " + pduCount + " op " + Integer.toHexString(Wire.opcode(header)) + ": "
                    + String.join(", ", mutator.applied));
        }
        pduCount++;
        java.io.ByteArrayOutputStream joined = new java.io.ByteArrayOutputStream();
        for (byte[] part : parts) {
            joined.writeBytes(part);
        }
        pdus.add(joined.toByteArray());
        for (byte[] part : parts) {
            send(part);
            if (parts.size() > 1 && rnd.nextInt(4) == 0) {
                sleep(1);
            }
        }
    }

    private void send(byte[] b) throws IOException {
        chunks.add(b);
        peer.send(b);
    }

    private static void sleep(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Ends the round's connection one of five ways; returns which. */
    private String end() {
        int how = rnd.nextInt(5);
        try {
            switch (how) {
                case 0 -> {
                    peer.close(true);
                    return "reset";
                }
                case 1 -> {
                    if (p != null && !peer.closedByTarget()) {
                        logout();
                        sleep(50);
                    }
                    peer.close(false);
                    return "logout";
                }
                case 2 -> {
                    peer.socket.shutdownOutput();
                    sleep(100);
                    peer.close(false);
                    return "half close";
                }
                case 3 -> {
                    sleep(rnd.nextInt(300));
                    peer.close(false);
                    return "idle, then close";
                }
                default -> {
                    peer.close(false);
                    return "close";
                }
            }
        } catch (IOException e) {
            peer.close(true);
            return "close (" + e.getMessage() + ")";
        }
    }
}
