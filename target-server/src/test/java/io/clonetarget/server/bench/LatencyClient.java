package io.clonetarget.server.bench;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.HdrHistogram.Histogram;

/**
 * A minimal iSCSI initiator that measures the latency of every command (bench/latency.sh).
 *
 * <p>It logs in without authentication (ImmediateData=Yes, InitialR2T=No, MaxRecvDataSegmentLength
 * 256 KiB, bursts of 256 KiB, so a 4 KiB write is one PDU with immediate data), clears unit
 * attentions, reads the capacity, and keeps {@code --qd} READ(10) or WRITE(10) commands of
 * {@code --bs} bytes at random aligned LBAs outstanding for {@code --secs} seconds after a warm-up
 * of {@code --warmup} seconds. Each command's latency runs from just before its SCSI Command PDU
 * is written to the socket to the moment its status has been read (the Data-In with the S bit, or
 * the SCSI Response), and goes into an HdrHistogram in nanoseconds (3 significant digits, so
 * microseconds are exact up to 1 ms). One thread sends and receives: at QD1 nothing but the round
 * trip is measured. Prints one readable line and one JSON line.
 *
 * <p>{@code LatencyClient --port=N --target=IQN [--host=127.0.0.1] [--lun=0] [--rw=randread|randwrite]
 * [--qd=1] [--bs=4096] [--secs=60] [--warmup=5] [--label=NAME] [--hist=FILE] [--span-mib=N] [--iops=N]}:
 * {@code --span-mib} keeps the LBAs in the LUN's first N MiB, {@code --iops} paces the commands
 * (bench/soak.sh uses both; latency.sh neither).
 */
public final class LatencyClient {
    private static final int BHS = 48;
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final long lun;
    private int cmdSn = 1;
    private int expStatSn;
    private int maxCmdSn = 1;
    private int itt = 1;
    private int targetMrdsl = 8192;
    private boolean immediateData = true;
    private int firstBurst = 65536;
    private byte[] scratch = new byte[1 << 18];
    /** Everything is sent from here and received headers land in {@link #rx}: no allocation per command. */
    private final byte[] txBuf = new byte[BHS + (1 << 24) + 4];
    private final ByteBuffer tx = ByteBuffer.wrap(txBuf);
    private final byte[] rx = new byte[BHS];
    private final ByteBuffer rxb = ByteBuffer.wrap(rx);
    /** Only LBAs in the first this many bytes (0: the whole LUN). */
    private long spanBytes;
    /** At most this many commands a second (0: as fast as the target answers). */
    private int iopsCap;
    private int lastStatus;
    private int lastSenseKey;

    private LatencyClient(String host, int port, int lun) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 10_000);
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(30_000);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 18));
        out = socket.getOutputStream();
        this.lun = lun < 256 ? (long) lun << 48 : (0x4000L | lun) << 48;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            a.put(arg.replaceFirst("^--", "").replaceAll("=.*", ""), eq < 0 ? "true" : arg.substring(eq + 1));
        }
        String rw = a.getOrDefault("rw", "randread");
        int qd = Integer.parseInt(a.getOrDefault("qd", "1"));
        int bs = Integer.parseInt(a.getOrDefault("bs", "4096"));
        double secs = Double.parseDouble(a.getOrDefault("secs", "60"));
        double warmup = Double.parseDouble(a.getOrDefault("warmup", "5"));
        LatencyClient c = new LatencyClient(a.getOrDefault("host", "127.0.0.1"), Integer.parseInt(a.get("port")),
                Integer.parseInt(a.getOrDefault("lun", "0")));
        c.login(a.get("target"));
        long[] capacity = c.prepare();
        Histogram h = new Histogram(1, 60_000_000_000L, 3);
        c.spanBytes = Long.parseLong(a.getOrDefault("span-mib", "0")) << 20;
        c.iopsCap = Integer.parseInt(a.getOrDefault("iops", "0"));
        long[] counts = c.run(rw.endsWith("write"), qd, bs, capacity, warmup, secs, h);
        c.logout();
        String label = a.getOrDefault("label", "");
        double iops = counts[0] / secs;
        System.out.printf(Locale.ROOT, "%s%s qd=%d bs=%d: %.0f IOPS, p50 %.1f us, p99 %.1f us, p99.9 %.1f us,"
                        + " p99.99 %.1f us, max %.1f us (%d commands, %d errors)%n", label.isEmpty() ? "" : label + " ",
                rw, qd, bs, iops, us(h, 50), us(h, 99), us(h, 99.9), us(h, 99.99), h.getMaxValue() / 1000.0,
                counts[0], counts[1]);
        System.out.printf(Locale.ROOT, "{\"label\":\"%s\",\"rw\":\"%s\",\"qd\":%d,\"bs\":%d,\"secs\":%.1f,\"ios\":%d,"
                        + "\"iops\":%.0f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
                        + "\"p9999_us\":%.1f,\"max_us\":%.1f,\"errors\":%d}%n", label, rw, qd, bs, secs, counts[0],
                iops,
                h.getMean() / 1000.0, us(h, 50), us(h, 99), us(h, 99.9), us(h, 99.99), h.getMaxValue() / 1000.0,
                counts[1]);
        if (a.containsKey("hist")) {
            try (PrintStream p = new PrintStream(a.get("hist"), StandardCharsets.UTF_8)) {
                h.outputPercentileDistribution(p, 1000.0);
            }
        }
        System.exit(counts[1] == 0 && counts[0] > 0 ? 0 : 1);
    }

    private static double us(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1000.0;
    }

    // ---- session ----------------------------------------------------------------------------

    private void login(String target) throws IOException {
        Map<String, String> k = new LinkedHashMap<>();
        k.put("InitiatorName", "iqn.2026-11.io.clonetarget:latency");
        k.put("TargetName", target);
        k.put("SessionType", "Normal");
        k.put("HeaderDigest", "None");
        k.put("DataDigest", "None");
        k.put("ImmediateData", "Yes");
        k.put("InitialR2T", "No");
        k.put("MaxRecvDataSegmentLength", "262144");
        k.put("MaxBurstLength", "262144");
        k.put("FirstBurstLength", "262144");
        k.put("MaxOutstandingR2T", "1");
        k.put("ErrorRecoveryLevel", "0");
        k.put("DefaultTime2Wait", "0");
        k.put("DefaultTime2Retain", "0");
        StringBuilder sb = new StringBuilder();
        k.forEach((key, v) -> sb.append(key).append('=').append(v).append('\0'));
        byte[] text = sb.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer h = begin(0x43, 0x80 | (1 << 2) | 3);
        // an ISID of our own per process: two clients with one ISID would reinstate each other's session
        h.putLong(8, (0x0002_3d00_0000L | (ProcessHandle.current().pid() & 0xff_ffff)) << 16);
        h.putInt(16, itt++).putInt(24, cmdSn);
        send(text, text.length);
        byte[] r = readHeader();
        int dsl = dsl(r);
        byte[] data = new byte[dsl];
        in.readFully(data);
        in.skipNBytes(pad(dsl));
        if ((r[0] & 0x3f) != 0x23 || r[36] != 0) {
            throw new IOException("login failed: opcode " + (r[0] & 0x3f) + " status " + r[36] + "/" + r[37]);
        }
        if ((r[1] & 0x83) != 0x83) {
            throw new IOException("the target did not go to full feature phase in one step");
        }
        update(r);
        for (String entry : new String(data, StandardCharsets.UTF_8).split("\0")) {
            int eq = entry.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String key = entry.substring(0, eq);
            String v = entry.substring(eq + 1);
            switch (key) {
                case "MaxRecvDataSegmentLength" -> targetMrdsl = Integer.parseInt(v);
                case "ImmediateData" -> immediateData = v.equals("Yes");
                case "FirstBurstLength" -> firstBurst = Integer.parseInt(v);
                default -> {
                }
            }
        }
    }

    /** Clears unit attentions, then returns {blocks, block length}. */
    private long[] prepare() throws IOException {
        for (int i = 0; i < 5; i++) {
            if (simple(new byte[16], 0) == 0) {
                break;
            }
        }
        byte[] cdb = new byte[16];
        cdb[0] = 0x25;
        if (simple(cdb, 8) != 0) {
            throw new IOException("READ CAPACITY failed: sense key " + lastSenseKey);
        }
        ByteBuffer b = ByteBuffer.wrap(scratch);
        return new long[]{Integer.toUnsignedLong(b.getInt(0)) + 1, b.getInt(4)};
    }

    /** One command with data-in into the scratch buffer; returns its status. */
    private int simple(byte[] cdb, int readLength) throws IOException {
        int my = itt++;
        command(my, readLength > 0 ? 0xc0 : 0x80, readLength, cdb);
        send(null, 0);
        while (true) {
            int done = receive(null, my);
            if (done == my) {
                return lastStatus;
            }
        }
    }

    /** Clears the send header and sets opcode and flags. */
    private ByteBuffer begin(int opcode, int flags) {
        for (int i = 0; i < BHS; i += 8) {
            tx.putLong(i, 0);
        }
        return tx.put(0, (byte) opcode).put(1, (byte) flags);
    }

    private void command(int tag, int flags, int edtl, byte[] cdb) {
        begin(0x01, flags).putLong(8, lun).putInt(16, tag).putInt(20, edtl).putInt(24, cmdSn++).putInt(28, expStatSn);
        tx.put(32, cdb);
    }

    private void logout() throws IOException {
        begin(0x46, 0x80).putInt(16, itt++).putInt(24, cmdSn).putInt(28, expStatSn);
        send(null, 0);
        try {
            for (int i = 0; i < 1000; i++) {
                byte[] r = readHeader();
                in.skipNBytes(dsl(r) + pad(dsl(r)));
                if ((r[0] & 0x3f) == 0x26) {
                    break;
                }
            }
        } catch (IOException e) {
            // closed: as good as a response
        }
        socket.close();
    }

    // ---- the measured loop ------------------------------------------------------------------

    /** Returns {commands measured, errors}. */
    private long[] run(boolean write, int qd, int bs, long[] capacity, double warmup, double secs, Histogram hist)
            throws IOException {
        int perIo = (int) (bs / capacity[1]);
        long slots = capacity[0] / perIo;
        if (spanBytes > 0) {
            slots = Math.max(1, Math.min(slots, spanBytes / bs));
        }
        long issued = 0;
        byte[] payload = new byte[bs];
        new SplittableRandom(7).nextBytes(payload);
        if (write && (!immediateData || firstBurst < bs || targetMrdsl < bs)) {
            System.err.println("note: the target did not agree to " + bs + "-byte immediate writes; R2Ts follow");
        }
        int imm = write && immediateData ? Math.min(bs, Math.min(firstBurst, targetMrdsl)) : 0;
        long[] sent = new long[65536];
        SplittableRandom rnd = new SplittableRandom(42);
        long start = System.nanoTime();
        long measureFrom = start + (long) (warmup * 1e9);
        long until = measureFrom + (long) (secs * 1e9);
        int outstanding = 0;
        long measured = 0;
        long errors = 0;
        byte[] cdb = new byte[16];
        cdb[0] = (byte) (write ? 0x2a : 0x28);
        boolean stopping = false;
        while (true) {
            while (!stopping && outstanding < qd && cmdSn - maxCmdSn <= 0) {
                if (iopsCap > 0) {
                    long due = start + issued * 1_000_000_000L / iopsCap;
                    long wait = due - System.nanoTime();
                    if (wait > 0 && outstanding > 0) {
                        break; // collect a completion first; pace again after it
                    }
                    if (wait > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                    issued++;
                }
                long lba = rnd.nextLong(slots) * perIo;
                ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) perIo);
                int tag = itt++;
                if (itt == -1) {
                    itt = 1;
                }
                // F bit always: no unsolicited Data-Out; what immediate data does not carry comes on R2Ts
                command(tag, write ? 0xa0 : 0xc0, bs, cdb);
                sent[tag & 0xffff] = System.nanoTime();
                send(write ? payload : null, imm);
                outstanding++;
            }
            if (outstanding == 0) {
                break;
            }
            int done = receive(write ? payload : null, -1);
            if (done != -1) {
                long now = System.nanoTime();
                long t0 = sent[done & 0xffff];
                outstanding--;
                if (lastStatus != 0) {
                    errors++;
                } else if (t0 >= measureFrom && t0 < until) {
                    hist.recordValue(Math.max(1, now - t0));
                    measured++;
                }
                stopping = now >= until;
            }
        }
        return new long[]{measured, errors};
    }

    /**
     * Reads one PDU; answers R2Ts (from {@code payload}) and NOP-In pings. Returns the ITT of a
     * command whose status arrived, else -1 ({@link #lastStatus} holds the status).
     */
    private int receive(byte[] payload, int expect) throws IOException {
        byte[] r = readHeader();
        int dsl = dsl(r);
        if (dsl > scratch.length) {
            scratch = new byte[dsl];
        }
        in.readFully(scratch, 0, dsl);
        in.skipNBytes(pad(dsl));
        update(r);
        ByteBuffer b = rxb;
        int tag = b.getInt(16);
        switch (r[0] & 0x3f) {
            case 0x25 -> { // Data-In
                if ((r[1] & 1) != 0) {
                    lastStatus = r[3] & 0xff;
                    return tag;
                }
            }
            case 0x21 -> { // SCSI Response
                lastStatus = r[2] != 0 ? 0x100 | r[2] : r[3] & 0xff;
                lastSenseKey = dsl > 4 ? scratch[4] & 0x0f : -1;
                return tag;
            }
            case 0x31 -> { // R2T
                int ttt = b.getInt(20);
                int offset = b.getInt(40);
                int length = b.getInt(44);
                int dataSn = 0;
                for (int doneBytes = 0; doneBytes < length; ) {
                    int n = Math.min(length - doneBytes, targetMrdsl);
                    begin(0x05, doneBytes + n == length ? 0x80 : 0).putLong(8, lun).putInt(16, tag).putInt(20, ttt)
                            .putInt(28, expStatSn).putInt(36, dataSn++).putInt(40, offset + doneBytes);
                    System.arraycopy(payload, offset + doneBytes, txBuf, BHS, n);
                    send(null, n);
                    doneBytes += n;
                }
            }
            case 0x20 -> { // NOP-In: answer a ping
                if (b.getInt(20) != -1) {
                    long l = b.getLong(8);
                    int ttt = b.getInt(20);
                    begin(0x40, 0x80).putLong(8, l).putInt(16, -1).putInt(20, ttt).putInt(24, cmdSn)
                            .putInt(28, expStatSn);
                    send(null, 0);
                }
            }
            case 0x3f -> throw new IOException("the target rejected a PDU: reason " + (r[2] & 0xff));
            case 0x32 -> {
                if (r[36] == 1) {
                    throw new IOException("the target asks us to log out");
                }
            }
            default -> {
            }
        }
        return -1;
    }

    private void update(byte[] r) {
        ByteBuffer b = r == rx ? rxb : ByteBuffer.wrap(r);
        int op = r[0] & 0x3f;
        boolean status = op == 0x21 || op == 0x22 || op == 0x23 || op == 0x24 || op == 0x26 || op == 0x3f
                || op == 0x32 || (op == 0x25 && (r[1] & 1) != 0) || (op == 0x20 && b.getInt(16) != -1);
        if (status) {
            expStatSn = b.getInt(24) + 1;
        }
        int max = b.getInt(32);
        if (max - maxCmdSn > 0) {
            maxCmdSn = max;
        }
    }

    private byte[] readHeader() throws IOException {
        byte[] r = rx;
        in.readFully(r);
        int ahs = (r[4] & 0xff) * 4;
        if (ahs > 0) {
            in.skipNBytes(ahs);
        }
        return r;
    }

    /** Sends the header in {@link #tx} with {@code length} bytes of data (from {@code data}, or already in place). */
    private void send(byte[] data, int length) throws IOException {
        tx.put(5, (byte) (length >>> 16)).put(6, (byte) (length >>> 8)).put(7, (byte) length);
        if (data != null && length > 0) {
            System.arraycopy(data, 0, txBuf, BHS, length);
        }
        int total = BHS + length + pad(length);
        for (int i = BHS + length; i < total; i++) {
            txBuf[i] = 0;
        }
        out.write(txBuf, 0, total);
    }

    private static int dsl(byte[] h) {
        return ((h[5] & 0xff) << 16) | ((h[6] & 0xff) << 8) | (h[7] & 0xff);
    }

    private static int pad(int n) {
        return (4 - (n & 3)) & 3;
    }
}
