package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.Interval;
import io.clonetarget.config.LimitsSection;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.session.ServerContext;
import io.clonetarget.storage.testing.Await;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one initiator can make the target spend is bounded, and the target lives through it:
 * idle connections, a reader that never reads, commands that announce more data than they send,
 * immediate commands beyond the window, odd transfer sizes. Each case also checks that another,
 * well-behaved session keeps working.
 */
class ResourceLimitsIT {
    @TempDir
    Path dir;

    TestTarget start(LimitsSection limits, Interval nopInterval, Interval nopTimeout) throws IOException {
        ServerConfig config = new ServerConfig(new ServerSection(List.of("127.0.0.1:0"), dir.toString(), 8, null,
                nopInterval, nopTimeout, limits), null, null, TestTarget.oneFile(dir, 64L << 20),
                List.of(new TargetConfig(TestTarget.IQN, null, null, null, List.of(new LunConfig(0, "v0")))));
        return TestTarget.start(dir, config, Volumes::open);
    }

    static void wellBehaved(TestTarget t) throws IOException {
        try (RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
            byte[] block = new byte[512];
            Arrays.fill(block, (byte) 0x5c);
            assertEquals(0, r.write10(0, 100, block, false).status(), "a well-behaved session writes");
            RawInitiator.Result read = r.read10(0, 100, 1);
            assertEquals(0, read.status());
            assertTrue(Arrays.equals(block, read.data()), "and reads back");
        }
    }

    static int platformThreads() {
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }

    static long directBytes() {
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                return b.getMemoryUsed();
            }
        }
        return -1;
    }

    @Test
    void threeThousandIdleConnectionsCostNoThreadsAndLockNoOneOut() throws Exception {
        try (TestTarget t = start(null, null, null)) {
            wellBehaved(t);
            int before = platformThreads();
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 3000; i++) {
                    Socket s = new Socket();
                    s.connect(new InetSocketAddress("127.0.0.1", t.port()), 5000);
                    idle.add(s);
                    if (i == 1500) {
                        wellBehaved(t); // during the flood
                    }
                }
                ServerContext.ConnectionCounts counts = t.server.context().connectionCounts();
                assertTrue(counts.open() <= 1024, "connections stay under the limit: " + counts);
                assertTrue(counts.pending() <= 256, "pending logins stay under the limit: " + counts);
                assertTrue(counts.evicted() > 0, "the longest-waiting ones were closed for newcomers: " + counts);
                int during = platformThreads();
                assertTrue(during - before < 32, "platform threads: " + before + " before, " + during
                        + " with 3000 idle connections");
                wellBehaved(t); // still at the limit
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            wellBehaved(t); // after
            Await.until(Duration.ofSeconds(30), () -> "idle connections gone: " + t.server.context().connectionCounts(),
                    () -> t.server.context().connectionCounts().open() == 0);
        }
    }

    @Test
    void aReaderThatNeverReadsIsClosedAndItsMemoryReturns() throws Exception {
        LimitsSection limits = new LimitsSection(null, null, null, Interval.ofSeconds(3), null, null);
        try (TestTarget t = start(limits, Interval.ofSeconds(0), null)) {
            long heapBefore = usedHeap();
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
                r.socket.setReceiveBufferSize(4096);
                byte[] ping = new byte[256 * 1024];
                long deadline = System.nanoTime() + 30_000_000_000L;
                boolean closed = false;
                int sent = 0;
                // NOP-Outs that each ask for a 256 KiB echo, never reading one
                while (System.nanoTime() < deadline) {
                    ByteBuffer h = RawInitiator.header(0x00 | 0x40, 0x80);
                    h.putInt(16, r.itt++);
                    h.putInt(20, 0xffffffff);
                    h.putInt(24, r.cmdSn);
                    h.put(0, (byte) 0x40); // immediate NOP-Out
                    try {
                        r.send(h, ping);
                        sent++;
                    } catch (IOException e) {
                        closed = true;
                        break;
                    }
                }
                assertTrue(closed, "the target closed the connection of a reader that never reads (" + sent
                        + " pings of 256 KiB sent)");
                assertTrue(sent < 2000, "it stopped taking pings long before they could fill memory: " + sent);
            }
            Await.until(Duration.ofSeconds(10), () -> "the session ended", () -> t.server.context().connections()
                    .isEmpty());
            System.gc();
            long heapAfter = usedHeap();
            assertTrue(heapAfter - heapBefore < (64L << 20), "memory returned: heap " + (heapBefore >> 20) + " MiB before, "
                    + (heapAfter >> 20) + " MiB after");
            wellBehaved(t);
        }
    }

    static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        System.gc();
        return rt.totalMemory() - rt.freeMemory();
    }

    @Test
    void commandsAnnouncingDataTheyNeverSendHoldNoMemoryAndOthersGoOn() throws Exception {
        try (TestTarget t = start(null, null, null)) {
            long directBefore = directBytes();
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
                // 256 WRITE(10)s of 8 MiB (the most a command may move), each announcing 64 MiB, with no data
                for (int i = 0; i < 256; i++) {
                    byte[] cdb = new byte[16];
                    cdb[0] = 0x2a;
                    ByteBuffer.wrap(cdb).putInt(2, 0).putShort(7, (short) 16384);
                    r.send(r.scsiCommand(0x80 | 0x20 | 0x01, 0, 64 << 20, cdb), new byte[0]);
                }
                long direct = directBytes() - directBefore;
                assertTrue(direct < (160L << 20), "direct buffers grew by " + (direct >> 20) + " MiB (the old code: 16 GiB"
                        + " asked for)");
                int taskSetFull = 0;
                int r2ts = 0;
                long end = System.nanoTime() + 20_000_000_000L;
                r.socket.setSoTimeout(2000);
                while (System.nanoTime() < end) {
                    RawInitiator.Pdu p;
                    try {
                        p = r.receive();
                    } catch (java.net.SocketTimeoutException e) {
                        break;
                    }
                    if (p.opcode() == 0x21 && (p.bhs().get(3) & 0xff) == 0x28) {
                        taskSetFull++;
                    } else if (p.opcode() == 0x31) {
                        r2ts++;
                    }
                }
                assertTrue(taskSetFull >= 200, "commands beyond the data budget get TASK SET FULL: " + taskSetFull);
                assertTrue(r2ts <= 32, "R2Ts only for the commands that fit the budget: " + r2ts);
                wellBehaved(t); // another session keeps working meanwhile
            }
            Await.until(Duration.ofSeconds(10), () -> "budget given back: " + t.server.context().dataBudget().used(),
                    () -> t.server.context().dataBudget().used() == 0);
        }
    }

    @Test
    void immediateCommandsBeyondTheWindowGetTaskSetFull() throws Exception {
        try (TestTarget t = start(null, null, null)) {
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
                // 256 one-block writes whose data never comes fill the command window of 256
                for (int i = 0; i < 256; i++) {
                    byte[] cdb = new byte[16];
                    cdb[0] = 0x2a;
                    ByteBuffer.wrap(cdb).putInt(2, i).putShort(7, (short) 1);
                    r.send(r.scsiCommand(0x80 | 0x20 | 0x01, 0, 512, cdb), new byte[0]);
                }
                int sentImmediate = 100;
                for (int i = 0; i < sentImmediate; i++) {
                    ByteBuffer h = r.scsiCommand(0x80 | 0x01, 0, 0, new byte[16]); // TEST UNIT READY
                    h.put(0, (byte) (0x01 | 0x40));
                    h.putInt(24, r.cmdSn);
                    r.send(h, new byte[0]);
                }
                int full = 0;
                r.socket.setSoTimeout(3000);
                try {
                    while (full < sentImmediate) {
                        RawInitiator.Pdu p = r.receive();
                        if (p.opcode() == 0x21) {
                            assertEquals(0x28, p.bhs().get(3) & 0xff, "an immediate command beyond the window");
                            full++;
                        }
                    }
                } catch (java.net.SocketTimeoutException e) {
                    // counted below
                }
                assertEquals(sentImmediate, full, "every immediate command beyond the window is answered TASK SET FULL");
                wellBehaved(t);
            }
        }
    }

    @Test
    void aWriteOfAnOddSizeAboveEveryPoolClassIsRefusedAndTheConnectionGoesOn() throws Exception {
        try (TestTarget t = start(null, null, null)) {
            try (RawInitiator r = new RawInitiator(t.port())) {
                r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144", "MaxBurstLength", "16776192");
                int bytes = (32 << 20) + 512;
                byte[] cdb = new byte[16];
                cdb[0] = (byte) 0x8a;
                ByteBuffer.wrap(cdb).putLong(2, 0).putInt(10, bytes / 512);
                ByteBuffer h = r.scsiCommand(0x80 | 0x20 | 0x01, 0, bytes, cdb);
                int itt = h.getInt(16);
                r.send(h, new byte[0]);
                byte[] chunk = new byte[262144];
                RawInitiator.Pdu status = null;
                // answer every R2T with Data-Out, as an initiator would, until the status comes
                while (status == null) {
                    RawInitiator.Pdu p = r.receive();
                    if (p.opcode() == 0x31 && p.itt() == itt) {
                        int ttt = p.bhs().getInt(20);
                        int offset = p.bhs().getInt(40);
                        int length = p.bhs().getInt(44);
                        int dataSn = 0;
                        for (int done = 0; done < length; done += chunk.length) {
                            int n = Math.min(chunk.length, length - done);
                            ByteBuffer d = RawInitiator.header(0x05, done + n == length ? 0x80 : 0);
                            d.putLong(8, 0).putInt(16, itt).putInt(20, ttt).putInt(28, r.expStatSn)
                                    .putInt(36, dataSn++).putInt(40, offset + done);
                            r.send(d, Arrays.copyOf(chunk, n));
                        }
                    } else if (p.opcode() == 0x21 && p.itt() == itt) {
                        status = p;
                    }
                }
                assertEquals(2, status.bhs().get(3), "CHECK CONDITION: more than a command may move");
                byte[] block = new byte[512];
                assertEquals(0, r.write10(0, 8, block, false).status(), "the connection goes on");
            }
        }
    }

    @Test
    void aSlowSenderHoldsOnlyItsOwnConnection() throws Exception {
        try (TestTarget t = start(null, Interval.ofSeconds(2), Interval.ofSeconds(2))) {
            try (RawInitiator slow = new RawInitiator(t.port())) {
                slow.login(TestTarget.IQN);
                slow.socket.setSoTimeout(30_000);
                ByteBuffer h = slow.scsiCommand(0x80 | 0x40 | 0x01, 0, 512, new byte[]{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                        0, 0, 0, 0, 0, 0});
                Thread dribble = Thread.ofVirtual().start(() -> {
                    try {
                        for (int i = 0; i < 48; i++) {
                            slow.sendRaw(new byte[]{h.get(i)});
                            Thread.sleep(1000); // one byte a second: the point of the test
                        }
                    } catch (Exception e) {
                        // closed by the target, as it should be
                    }
                });
                long start = System.nanoTime();
                for (int i = 0; i < 5; i++) {
                    wellBehaved(t);
                }
                assertTrue(System.nanoTime() - start < 10_000_000_000L, "others are not held up by the slow one");
                assertTrue(slow.closedByTarget(), "the slow sender is closed when it cannot answer a NOP-In in time");
                dribble.interrupt();
            }
        }
    }
}
