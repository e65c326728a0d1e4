package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.Interval;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.server.OpenVolume;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.TextSegment;
import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** iSCSI behaviour no stock client exercises on purpose, driven by the raw initiator. */
class ProtocolIT {
    static final byte[] READ_ONE = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    @TempDir
    Path dir;

    /** A device whose reads take {@code delayMillis} while it is set. */
    static final class SlowDevice implements BlockDevice {
        final BlockDevice inner;
        volatile long delayMillis;

        SlowDevice(BlockDevice inner) {
            this.inner = inner;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inner.read(offset, dst);
        }

        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return inner.logicalBlockSize(); }
        @Override public int physicalBlockSize() { return inner.physicalBlockSize(); }
        @Override public boolean isReadOnly() { return inner.isReadOnly(); }
        @Override public void write(long o, ByteBuffer s, boolean f) throws IOException { inner.write(o, s, f); }
        @Override public void flush() throws IOException { inner.flush(); }
        @Override public void discard(long o, long l) throws IOException { inner.discard(o, l); }
        @Override public void writeZeroes(long o, long l) throws IOException { inner.writeZeroes(o, l); }
        @Override public String describe() { return "slow " + inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    @Test
    void targetPingsIdleConnectionsAndClosesThoseThatDoNotAnswer() throws Exception {
        ServerConfig base = TestTarget.config(dir, TestTarget.oneFile(dir, 1 << 20), List.of(
                new io.clonetarget.config.LunConfig(0, "v0")));
        ServerConfig config = new ServerConfig(new ServerSection(List.of("127.0.0.1:0"), dir.toString(), 2,
                null, new Interval(java.time.Duration.ofSeconds(1)), new Interval(java.time.Duration.ofSeconds(2))),
                null, null, base.volumes(), base.targets());
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN);
            RawInitiator.Pdu ping = r.receive(0x20);
            assertEquals(Bhs.RESERVED_TAG, ping.itt(), "target-initiated");
            int ttt = ping.bhs().getInt(20);
            assertNotEquals(Bhs.RESERVED_TAG, ttt, "wants an answer: a real TTT");
            ByteBuffer answer = RawInitiator.header(0x40, 0x80);
            answer.putInt(16, Bhs.RESERVED_TAG).putInt(20, ttt).putInt(24, r.cmdSn);
            r.send(answer, new byte[0]);
            RawInitiator.Pdu second = r.receive(0x20);
            assertNotEquals(ttt, second.bhs().getInt(20), "a new ping after more idle time");
            long before = System.nanoTime();
            r.socket.setSoTimeout(10_000);
            assertTrue(r.closedByTarget(), "an unanswered ping closes the connection");
            assertTrue(System.nanoTime() - before < 8_000_000_000L);
        }
    }

    @Test
    void aSecondLoginWithTheSameIsidReinstatesTheSession() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1);
             RawInitiator first = new RawInitiator(t.port());
             RawInitiator second = new RawInitiator(t.port())) {
            first.login(TestTarget.IQN);
            second.login(TestTarget.IQN);
            assertTrue(first.closedByTarget(), "the old session is closed");
            second.send(second.scsiCommand(0xc0, 0, 512, READ_ONE), new byte[0]);
            assertEquals(0, second.receive(0x25).bhs().get(3));
            assertEquals(1, t.server.context().sessions().size());
        }
    }

    @Test
    void nopAndTaskManagementAreAnsweredWhileStorageIsSlow() throws Exception {
        SlowDevice[] slow = new SlowDevice[1];
        TestTarget.start(dir, 1 << 20, 1).close();
        ServerConfig config = TestTarget.config(dir, TestTarget.oneFile(dir, 1 << 20),
                List.of(new io.clonetarget.config.LunConfig(0, "v0")));
        try (TestTarget t = TestTarget.start(dir, config, v -> {
            OpenVolume plain = Volumes.open(v);
            slow[0] = new SlowDevice(plain.device());
            return new OpenVolume(v.name(), slow[0], plain.identity(), slow[0], slow[0].describe());
        }); RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN);
            slow[0].delayMillis = 3000;
            ByteBuffer read = r.scsiCommand(0xc0, 0, 512, READ_ONE);
            int readItt = read.getInt(16);
            int readCmdSn = read.getInt(24);
            r.send(read, new byte[0]);
            long start = System.nanoTime();
            ByteBuffer nop = RawInitiator.header(0x40, 0x80);
            nop.putInt(16, 4242).putInt(20, Bhs.RESERVED_TAG).putInt(24, r.cmdSn);
            r.send(nop, new byte[0]);
            RawInitiator.Pdu pong = r.receive();
            assertEquals(0x20, pong.opcode(), "the NOP-In comes first");
            assertEquals(4242, pong.itt());
            assertTrue(System.nanoTime() - start < 1_500_000_000L, "answered while the read waits for storage");

            ByteBuffer abort = RawInitiator.header(0x42, 0x80 | 1);
            abort.putInt(16, 4343).putInt(20, readItt).putInt(24, r.cmdSn).putInt(32, readCmdSn);
            r.send(abort, new byte[0]);
            RawInitiator.Pdu tmf = r.receive();
            assertEquals(0x22, tmf.opcode(), "no status for the aborted read before the TMF response");
            assertEquals(4343, tmf.itt());
            assertEquals(0, tmf.bhs().get(2), "FUNCTION COMPLETE");
            slow[0].delayMillis = 0;
            r.send(r.scsiCommand(0xc0, 0, 512, READ_ONE), new byte[0]);
            RawInitiator.Pdu next = r.receive();
            assertEquals(0x25, next.opcode(), "the aborted read never answers; the next one does");
        }
    }

    @Test
    void sendTargetsLongerThanASegmentComesInParts() throws Exception {
        List<TargetConfig> targets = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            targets.add(new TargetConfig(String.format("iqn.2026-11.io.clonetarget:a-rather-long-target-name-%02d", i),
                    null, null, null, List.of()));
        }
        ServerConfig config = new ServerConfig(new ServerSection(List.of("127.0.0.1:0"), dir.toString(), 2, null,
                null, null), null, null, List.of(), targets);
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open);
             RawInitiator r = new RawInitiator(t.port())) {
            r.loginDiscovery("MaxRecvDataSegmentLength", "512");
            ByteBuffer text = RawInitiator.header(0x04, 0x80);
            text.putInt(16, 77).putInt(20, Bhs.RESERVED_TAG).putInt(24, r.cmdSn++);
            r.send(text, "SendTargets=All\0".getBytes(StandardCharsets.UTF_8));
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            int parts = 0;
            while (true) {
                RawInitiator.Pdu p = r.receive(0x24);
                assertTrue(p.data().length <= 512);
                all.writeBytes(p.data());
                parts++;
                if (Bhs.finalBit(p.bhs())) {
                    break;
                }
                assertEquals(0x40, Bhs.flags(p.bhs()) & 0x40, "C bit on partial answers");
                ByteBuffer more = RawInitiator.header(0x04, 0x80);
                more.putInt(16, 77).putInt(20, p.bhs().getInt(20)).putInt(24, r.cmdSn++);
                r.send(more, new byte[0]);
            }
            assertTrue(parts > 5, "parts: " + parts);
            List<TextSegment.Pair> pairs = TextSegment.parse(ByteBuffer.wrap(all.toByteArray()));
            assertEquals(40, pairs.stream().filter(p -> p.key().equals("TargetName")).count());
            assertTrue(pairs.contains(new TextSegment.Pair("TargetAddress", t.portal() + ",1")), pairs.toString());
        }
    }

    @Test
    void headerAndDataDigestsProtectEveryPdu() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "HeaderDigest", "CRC32C", "DataDigest", "CRC32C",
                    "MaxRecvDataSegmentLength", "4096");
            assertTrue(r.headerDigest && r.dataDigest);
            byte[] block = new byte[8192];
            new Random(5).nextBytes(block);
            byte[] write = {0x2a, 0, 0, 0, 0, 4, 0, 0, 16, 0};
            r.send(r.scsiCommand(0xa0, 0, 8192, write), block);
            assertEquals(0, r.receive(0x21).bhs().get(3));
            byte[] read = {0x28, 0, 0, 0, 0, 4, 0, 0, 16, 0};
            r.send(r.scsiCommand(0xc0, 0, 8192, read), new byte[0]);
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            while (true) {
                RawInitiator.Pdu p = r.receive(0x25);
                got.writeBytes(p.data());
                if ((Bhs.flags(p.bhs()) & 1) != 0) {
                    break;
                }
            }
            assertArrayEquals(block, got.toByteArray(), "two 4 KiB Data-In PDUs, digests verified");

            r.dataDigest = false;
            ByteBuffer cmd = r.scsiCommand(0xa0, 0, 512, write);
            r.dataDigest = true;
            Bhs.setDataSegmentLength(cmd, 512);
            java.io.OutputStream out = r.socket.getOutputStream();
            out.write(cmd.array());
            ByteBuffer hd = ByteBuffer.allocate(4);
            io.clonetarget.server.pdu.Digest.put(hd, 0, new io.clonetarget.server.pdu.Digest().ofHeader(cmd, 48));
            out.write(hd.array());
            out.write(new byte[512]);
            out.write(new byte[]{1, 2, 3, 4});
            out.flush();
            RawInitiator.Pdu reject = null;
            RawInitiator.Pdu failed = null;
            while (reject == null || failed == null) {
                RawInitiator.Pdu p = r.receive();
                if (p.opcode() == 0x3f) {
                    reject = p;
                } else if (p.opcode() == 0x21) {
                    failed = p;
                }
            }
            assertEquals(0x02, reject.bhs().get(2), "data digest error");
            byte[] sense = Arrays.copyOfRange(failed.data(), 2, failed.data().length);
            assertEquals(0x47, sense[12], "PROTOCOL SERVICE CRC ERROR");
            r.send(r.scsiCommand(0xc0, 0, 512, READ_ONE), new byte[0]);
            assertEquals(0, r.receive(0x25).bhs().get(3), "the session goes on");
        }
    }

    @Test
    void manyOutstandingCommandsAtOnce() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 8 << 20, 1);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "262144");
            int n = 200;
            for (int i = 0; i < n; i++) {
                byte[] cdb = {0x28, 0, 0, 0, (byte) (i >> 8), (byte) i, 0, 0, 8, 0};
                r.send(r.scsiCommand(0xc0, 0, 4096, cdb), new byte[0]);
            }
            int answered = 0;
            int maxCmdSn = 0;
            while (answered < n) {
                RawInitiator.Pdu p = r.receive(0x25);
                if ((Bhs.flags(p.bhs()) & 1) != 0) {
                    assertEquals(0, p.bhs().get(3));
                    answered++;
                    maxCmdSn = p.bhs().getInt(32);
                }
            }
            assertTrue(maxCmdSn - r.cmdSn >= 127, "window of at least 128 after the burst: " + (maxCmdSn - r.cmdSn));
            assertFalse(r.closedByTarget());
        }
    }
}
