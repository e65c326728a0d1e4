package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.OpenVolume;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Windows timeout path, replayed (docs/design.md, "What the Windows initiator does"): a disk
 * command outlives its 60 s TimeOutValue because storage is slow; Windows sends ABORT TASK or
 * LOGICAL UNIT RESET, and about 20 s later logs in again with the same ISID and TSIH 0 while
 * storage is still slow. The waits here are immediate, each bounded.
 *
 * <p>What the target guarantees, and these tests check: a command that has not reached storage
 * is aborted at once and never lands; one inside storage cannot be called back, so its abort is
 * answered when storage returns it (it has then landed whole, and nothing changes after the
 * answer); a reinstating login completes at once, and the new session's commands run only after
 * the old session's writes left storage, so none of them lands over a newer one.
 */
class WindowsTimeoutIT {
    static final long WINDOWS_ISID = 0x4000_0137_0001L;
    static final String WINDOWS_NAME = "iqn.1991-05.com.microsoft:host1.example.com";
    static final int BLOCKS = 8;
    @TempDir
    Path dir;

    /**
     * A device whose first {@code stuck} writes at offset 0 wait for {@link #release} (or take
     * {@code delayMillis}); every other call goes straight through.
     */
    static final class SlowRegionDevice implements BlockDevice {
        final BlockDevice inner;
        final Semaphore entered = new Semaphore(0);
        final CountDownLatch gate = new CountDownLatch(1);
        final AtomicInteger stuck = new AtomicInteger();
        volatile long delayMillis = -1; // -1: wait for the gate
        final AtomicInteger landed = new AtomicInteger();

        SlowRegionDevice(BlockDevice inner) {
            this.inner = inner;
        }

        void release() {
            gate.countDown();
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            if (offset == 0 && stuck.getAndDecrement() > 0) {
                entered.release();
                try {
                    if (delayMillis < 0) {
                        assertTrue(gate.await(30, TimeUnit.SECONDS), "the test released the device");
                    } else {
                        Thread.sleep(delayMillis);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
                inner.write(offset, src, fua);
                landed.incrementAndGet();
                return;
            }
            inner.write(offset, src, fua);
        }

        @Override public boolean tryWrite(long offset, ByteBuffer src) { return false; }
        @Override public boolean tryRead(long offset, ByteBuffer dst) { return false; }
        @Override public void read(long offset, ByteBuffer dst) throws IOException { inner.read(offset, dst); }
        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return inner.logicalBlockSize(); }
        @Override public int physicalBlockSize() { return inner.physicalBlockSize(); }
        @Override public boolean isReadOnly() { return inner.isReadOnly(); }
        @Override public void flush() throws IOException { inner.flush(); }
        @Override public void discard(long o, long l) throws IOException { inner.discard(o, l); }
        @Override public void writeZeroes(long o, long l) throws IOException { inner.writeZeroes(o, l); }
        @Override public String describe() { return "slow region of " + inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    private TestTarget start(SlowRegionDevice[] slot) throws IOException {
        return start(slot, null);
    }

    /** With {@code taskWait} as {@code [server] task-wait} (null: the default). */
    private TestTarget start(SlowRegionDevice[] slot, io.clonetarget.config.Interval taskWait) throws IOException {
        ServerConfig config = TestTarget.config(dir, TestTarget.oneFile(dir, 16L << 20), List.of(new LunConfig(0, "v0")));
        if (taskWait != null) {
            io.clonetarget.config.ServerSection s = config.server();
            config = config.withServer(new io.clonetarget.config.ServerSection(s.listen(), s.stateDir(), s.ioThreads(),
                    s.loginTimeout(), s.nopInterval(), s.nopTimeout(), s.limits(), s.spaceWarning(), taskWait));
        }
        return TestTarget.start(dir, config, v -> {
            OpenVolume plain = Volumes.open(v);
            slot[0] = new SlowRegionDevice(plain.device());
            return new OpenVolume(v.name(), slot[0], plain.identity(), slot[0], slot[0].describe());
        });
    }

    static byte[] pattern(int value) {
        byte[] b = new byte[BLOCKS * 512];
        Arrays.fill(b, (byte) value);
        return b;
    }

    static byte[] write10Cdb(long lba, int blocks) {
        byte[] cdb = new byte[16];
        cdb[0] = 0x2a;
        ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
        return cdb;
    }

    /** Sends a WRITE(10) with all its data immediate, without waiting; returns its ITT and CmdSN. */
    static int[] sendWrite(RawInitiator r, long lba, byte[] data) throws IOException {
        ByteBuffer h = r.scsiCommand(0x80 | 0x20 | 0x01, 0, data.length, write10Cdb(lba, data.length / 512));
        r.send(h, data);
        return new int[] {h.getInt(16), h.getInt(24)};
    }

    /** Sends a task management request (immediate) without waiting; returns its ITT. */
    static int sendTmf(RawInitiator r, int function, int referencedItt, int referencedCmdSn) throws IOException {
        ByteBuffer h = RawInitiator.header(0x02 | 0x40, 0x80 | function);
        int itt = r.itt++;
        h.putInt(16, itt).putInt(20, function == 1 ? referencedItt : Bhs.RESERVED_TAG).putInt(24, r.cmdSn)
                .putInt(28, r.expStatSn).putInt(32, referencedCmdSn);
        r.send(h, new byte[0]);
        return itt;
    }

    /** Receives until the PDU of {@code itt} with {@code opcode}, within {@code millis}; fails otherwise. */
    static RawInitiator.Pdu await(RawInitiator r, int opcode, int itt, long millis, String what) throws IOException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            assertTrue(left > 0, what + " within " + millis + " ms");
            r.socket.setSoTimeout((int) left);
            RawInitiator.Pdu p;
            try {
                p = r.receive();
            } catch (java.net.SocketTimeoutException e) {
                throw new AssertionError(what + ": nothing within " + millis + " ms");
            }
            if (p.opcode() == opcode && p.itt() == itt) {
                return p;
            }
            assertTrue(p.itt() != itt || p.opcode() == 0x20, what + ": unexpected opcode " + p.opcode());
        }
    }

    /** A READ(10) that answers the unit attentions it meets first; returns the data and the attentions. */
    static byte[] readPast(RawInitiator r, long lba, List<String> attentions) throws IOException {
        for (int attempt = 0; attempt < 4; attempt++) {
            RawInitiator.Result res = r.read10(0, lba, BLOCKS);
            if (res.status() == 0) {
                return res.data();
            }
            assertEquals(2, res.status(), "GOOD or CHECK CONDITION");
            assertEquals(6, res.senseKey(), "only UNIT ATTENTION");
            attentions.add(String.format("%02x/%02x", res.asc(), res.sense()[13] & 0xff));
        }
        throw new AssertionError("unit attentions did not clear: " + attentions);
    }

    static RawInitiator windows(TestTarget t) throws IOException {
        RawInitiator r = new RawInitiator(t.port());
        r.isid = WINDOWS_ISID;
        r.initiatorName = WINDOWS_NAME;
        return r;
    }

    /**
     * A LUN RESET that storage cannot complete (a write stays inside it) is never answered: after
     * {@code [server] task-wait} the connection is closed instead, for FUNCTION COMPLETE would
     * promise that the write can no longer land. (It was answered after 60 s, whatever was set.)
     */
    @Test
    void aResetStorageCannotCompleteClosesTheConnectionInsteadOfAnswering() throws Exception {
        SlowRegionDevice[] slow = new SlowRegionDevice[1];
        try (TestTarget t = start(slow, io.clonetarget.config.Interval.ofSeconds(2)); RawInitiator win = windows(t)) {
            win.login(TestTarget.IQN);
            readPast(win, 64, new java.util.ArrayList<>());
            slow[0].stuck.set(1);
            sendWrite(win, 0, pattern(0x77));
            assertTrue(slow[0].entered.tryAcquire(5, TimeUnit.SECONDS), "the write reached storage");
            long start = System.nanoTime();
            int reset = sendTmf(win, 5, 0, 0);
            win.socket.setSoTimeout(15_000);
            boolean closed = false;
            try {
                while (true) {
                    RawInitiator.Pdu p = win.receive();
                    assertTrue(!(p.opcode() == 0x22 && p.itt() == reset), "no answer to the LUN RESET");
                }
            } catch (java.io.EOFException | java.net.SocketException e) {
                closed = true;
            }
            long took = (System.nanoTime() - start) / 1_000_000;
            assertTrue(closed, "the target closed the connection");
            assertTrue(took >= 1500 && took < 12_000, "after the 2 s task wait: " + took + " ms");
            slow[0].release();
        }
    }

    @Test
    void reinstatementWhileAWriteIsStuckCompletesAtOnceAndTheStuckWriteDoesNotLandOverTheNewOne() throws Exception {
        SlowRegionDevice[] slow = new SlowRegionDevice[1];
        try (TestTarget t = start(slow); RawInitiator old = windows(t)) {
            old.login(TestTarget.IQN);
            slow[0].stuck.set(1);
            sendWrite(old, 0, pattern(0x11));
            assertTrue(slow[0].entered.tryAcquire(5, TimeUnit.SECONDS), "the write reached storage");
            // Windows: LUN RESET after the disk timeout; unanswered while the write is in storage
            sendTmf(old, 5, 0, 0);
            // ...then, about 20 s later, the same ISID with TSIH 0
            long start = System.nanoTime();
            try (RawInitiator again = windows(t)) {
                again.login(TestTarget.IQN);
                assertTrue(System.nanoTime() - start < 5_000_000_000L, "the reinstating login completes at once");
                old.socket.setSoTimeout(5000);
                assertTrue(old.closedByTarget(), "the old connection is closed");
                byte[] newer = pattern(0x33);
                int[] w = sendWrite(again, 0, newer);
                // a NOP-Out is answered while the new session's write waits for the old one
                ByteBuffer nop = RawInitiator.header(0x40, 0x80);
                nop.putInt(16, 0x0777).putInt(20, Bhs.RESERVED_TAG).putInt(24, again.cmdSn).putInt(28, again.expStatSn);
                again.send(nop, new byte[0]);
                await(again, 0x20, 0x0777, 2000, "NOP-In while storage is stuck");
                slow[0].release();
                RawInitiator.Pdu status = await(again, 0x21, w[0], 10_000, "the new session's write");
                assertEquals(0, status.bhs().get(3), "GOOD");
                assertEquals(1, slow[0].landed.get(), "the old write came out of storage");
                byte[] now = readPast(again, 0, new java.util.ArrayList<>());
                assertArrayEquals(newer, now, "the old session's write landed over the new session's");
            }
        }
    }

    @Test
    void abortsAndResetWhileStorageIsSlowAreAnsweredBoundedAndNothingLandsAfterTheAnswer() throws Exception {
        SlowRegionDevice[] slow = new SlowRegionDevice[1];
        try (TestTarget t = start(slow); RawInitiator win = windows(t); RawInitiator other = new RawInitiator(t.port())) {
            win.login(TestTarget.IQN);
            other.isid = 0x0002_3d00_0099L;
            other.initiatorName = "iqn.2026-11.io.clonetarget:other-node";
            other.login(TestTarget.IQN);
            readPast(other, 128, new java.util.ArrayList<>()); // the power-on attention, out of the way

            // 1. a write still waiting for its data (InitialR2T=Yes: nothing unsolicited) is aborted at once
            byte[] unsent = pattern(0x22);
            ByteBuffer cmd = win.scsiCommand(0x80 | 0x20 | 0x01, 0, unsent.length, write10Cdb(64, BLOCKS));
            win.send(cmd, new byte[0]);
            RawInitiator.Pdu r2t = await(win, 0x31, cmd.getInt(16), 2000, "R2T");
            long start = System.nanoTime();
            int abort = sendTmf(win, 1, cmd.getInt(16), cmd.getInt(24));
            assertEquals(0, await(win, 0x22, abort, 2000, "ABORT TASK of a receiving write").bhs().get(2) & 0xff,
                    "FUNCTION COMPLETE");
            // its data, sent late, is dropped
            ByteBuffer d = RawInitiator.header(0x05, 0x80);
            d.putInt(16, cmd.getInt(16)).putInt(20, r2t.bhs().getInt(20)).putInt(28, win.expStatSn);
            win.send(d, unsent);

            // 2. a write in slow storage (2 s): its abort is answered when storage returns it, not before
            slow[0].delayMillis = 2000;
            slow[0].stuck.set(1);
            byte[] inStorage = pattern(0x44);
            int[] w = sendWrite(win, 0, inStorage);
            assertTrue(slow[0].entered.tryAcquire(5, TimeUnit.SECONDS), "the write reached storage");
            abort = sendTmf(win, 1, w[0], w[1]);
            RawInitiator.Pdu answer = await(win, 0x22, abort, 5000, "ABORT TASK of a write in storage");
            assertEquals(0, answer.bhs().get(2) & 0xff, "FUNCTION COMPLETE");
            assertEquals(1, slow[0].landed.get(), "answered only after storage returned the write");

            // 3. LOGICAL UNIT RESET with another write in storage: answered within the storage's time
            slow[0].stuck.set(1);
            sendWrite(win, 0, pattern(0x55));
            assertTrue(slow[0].entered.tryAcquire(5, TimeUnit.SECONDS), "the second write reached storage");
            int reset = sendTmf(win, 5, 0, 0);
            assertEquals(0, await(win, 0x22, reset, 5000, "LOGICAL UNIT RESET").bhs().get(2) & 0xff,
                    "FUNCTION COMPLETE");
            assertEquals(2, slow[0].landed.get(), "answered only after storage returned the write");
            long took = (System.nanoTime() - start) / 1_000_000;
            assertTrue(took < 9000, "both answers bounded by storage's own delay: " + took + " ms");

            // what is on disk now stays: read now, and again after everything settled
            List<String> winAttentions = new java.util.ArrayList<>();
            byte[] at0 = readPast(win, 0, winAttentions);
            byte[] at64 = readPast(win, 64, winAttentions);
            assertArrayEquals(new byte[unsent.length], at64, "the write aborted before its data never lands");
            List<String> attentions = new java.util.ArrayList<>();
            assertArrayEquals(at0, readPast(other, 0, attentions));
            assertEquals(List.of("29/03"), attentions, "the other nexus sees BUS DEVICE RESET FUNCTION OCCURRED");
            assertTrue(Arrays.equals(at0, inStorage) || Arrays.equals(at0, pattern(0x55)),
                    "landed whole: one of the two writes");
            assertArrayEquals(at0, readPast(win, 0, winAttentions), "nothing landed after the answers");
            assertArrayEquals(at64, readPast(other, 64, attentions));
        }
    }
}
