package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.session.Session;
import io.clonetarget.server.target.LunAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Asynchronous Messages (RFC 7143 section 11.9) on a live session, sent from threads that are not
 * the session's while the raw initiator keeps reads in flight: a SCSI event (AsyncEvent 0, what
 * makes iscsid rescan when a LUN is mapped) arrives with its LUN and sense and takes its StatSN
 * in sequence with the responses around it; a logout request (AsyncEvent 1) is answered with a
 * Logout, or, ignored, ends with the connection closed at its deadline.
 */
class AsyncMessageIT {
    static final byte[] LUNS_CHANGED = SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed();
    @TempDir
    Path dir;

    /** The one session of the raw initiator's ISID. */
    static Session sessionOf(TestTarget t, RawInitiator r) {
        for (Session s : t.server.context().sessions().all()) {
            if (s.isid() == r.isid) {
                return s;
            }
        }
        throw new AssertionError("no session for isid " + Long.toHexString(r.isid));
    }

    /** Waits (parking briefly between looks) until the condition holds or the timeout passes. */
    static boolean await(BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            LockSupport.parkNanos(10_000_000L);
        }
        return true;
    }

    /**
     * Keeps {@code depth} READ(10)s of 4 KiB outstanding on the calling thread while {@code more}
     * holds, then collects what is still outstanding. Every read must end GOOD; anything else
     * (a Reject, a SCSI Response, an unknown PDU) is recorded in {@link #errors}. Asynchronous
     * Messages are recorded by the initiator as they are read.
     */
    static final class Reads {
        final RawInitiator r;
        final AtomicInteger completed = new AtomicInteger();
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final CountDownLatch warm;

        Reads(RawInitiator r, int warmAfter) {
            this.r = r;
            this.warm = new CountDownLatch(warmAfter);
        }

        void run(int depth, BooleanSupplier more, Duration timeout) throws IOException {
            long deadline = System.nanoTime() + timeout.toNanos();
            Set<Integer> outstanding = new HashSet<>();
            int next = 0;
            while (true) {
                while (outstanding.size() < depth && more.getAsBoolean()) {
                    if (System.nanoTime() - deadline > 0) {
                        errors.add("still running after " + timeout);
                        return;
                    }
                    int lba = (next++ * 8) % 2000;
                    byte[] cdb = {0x28, 0, 0, 0, (byte) (lba >> 8), (byte) lba, 0, 0, 8, 0};
                    ByteBuffer cmd = r.scsiCommand(0xc0, 0, 4096, cdb);
                    outstanding.add(cmd.getInt(16));
                    r.send(cmd, new byte[0]);
                }
                if (outstanding.isEmpty()) {
                    return;
                }
                RawInitiator.Pdu p = r.receive();
                switch (p.opcode()) {
                    case 0x25 -> {
                        if ((Bhs.flags(p.bhs()) & 0x01) != 0) {
                            if (p.bhs().get(3) != 0) {
                                errors.add("read ended with status " + p.bhs().get(3));
                            }
                            if (!outstanding.remove(p.itt())) {
                                errors.add("status for a read not outstanding: itt " + p.itt());
                            }
                            completed.incrementAndGet();
                            warm.countDown();
                        }
                    }
                    case 0x21 -> {
                        errors.add("SCSI Response status " + p.bhs().get(3) + " for itt " + p.itt());
                        outstanding.remove(p.itt());
                    }
                    case 0x32, 0x20 -> {
                        // an event (recorded by the initiator) or a ping the test outlives
                    }
                    default -> errors.add("unexpected opcode " + Integer.toHexString(p.opcode()));
                }
            }
        }
    }

    /** StatSNs in arrival order are consecutive: no gap, no repeat. */
    static void assertConsecutive(List<Integer> statSns) {
        for (int i = 1; i < statSns.size(); i++) {
            if (statSns.get(i) != statSns.get(i - 1) + 1) {
                fail("StatSN " + statSns.get(i) + " after " + statSns.get(i - 1) + " (PDU " + i + " of "
                        + statSns.size() + ")");
            }
        }
    }

    /** The sense data an event carries, after checking its SenseLength prefix. */
    static byte[] eventSense(RawInitiator.Pdu event) {
        byte[] d = event.data();
        int length = ((d[0] & 0xff) << 8) | (d[1] & 0xff);
        assertEquals(d.length, 2 + length, "the data segment is SenseLength and the sense data");
        return Arrays.copyOfRange(d, 2, d.length);
    }

    @Test
    void scsiEventArrivesWithItsLunAndSenseInStatSnOrderWhileReadsRun() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 2);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "65536");
            Session session = sessionOf(t, r);
            List<Integer> statSns = new ArrayList<>();
            r.statSnLog = statSns;
            Reads reads = new Reads(r, 20);
            AtomicInteger completedAtEvent = new AtomicInteger(Integer.MAX_VALUE / 2);
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            Thread client = Thread.ofPlatform().name("raw-initiator").start(() -> {
                try {
                    reads.run(8, () -> r.asyncMessages.isEmpty() || reads.completed.get() < completedAtEvent.get() + 40,
                            Duration.ofSeconds(30));
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            assertTrue(reads.warm.await(10, TimeUnit.SECONDS), "reads are running");
            int done = reads.completed.get();
            completedAtEvent.set(done);
            long lunField = LunAddress.encode(1);
            assertTrue(session.sendScsiEvent(lunField, LUNS_CHANGED), "queued on a logged-in session");
            client.join(30_000);
            assertFalse(client.isAlive());
            assertTrue(failures.isEmpty(), failures.toString());
            assertTrue(reads.errors.isEmpty(), reads.errors.toString());

            assertEquals(1, r.asyncMessages.size(), "the event arrived once");
            RawInitiator.Pdu event = r.asyncMessages.getFirst();
            ByteBuffer h = event.bhs();
            assertEquals(0x32, h.get(0) & 0xff, "Asynchronous Message, I bit clear");
            assertEquals(0x80, Bhs.flags(h), "F");
            assertEquals(lunField, Bhs.lun(h), "the LUN the event is about");
            assertEquals(Bhs.RESERVED_TAG, event.itt());
            assertEquals(0, h.get(36), "AsyncEvent 0: SCSI event");
            assertEquals(0, h.getInt(36) & 0x00ff_ffff, "AsyncVCode and Parameter1 clear");
            assertEquals(0, h.getInt(40), "Parameter2 and Parameter3 clear");
            int expCmdSn = h.getInt(28);
            int maxCmdSn = h.getInt(32);
            assertTrue(expCmdSn >= 1 + done && expCmdSn <= r.cmdSn, "ExpCmdSN " + expCmdSn
                    + " is the window's when it was sent (" + done + " reads done before, " + (r.cmdSn - 1)
                    + " sent in all)");
            assertTrue(maxCmdSn - expCmdSn >= 0, "MaxCmdSN " + maxCmdSn + " keeps the window open");
            assertArrayEquals(LUNS_CHANGED, eventSense(event));
            assertEquals(0x3f, LUNS_CHANGED[12] & 0xff);
            assertEquals(0x0e, LUNS_CHANGED[13] & 0xff);

            assertConsecutive(statSns);
            int at = statSns.indexOf(h.getInt(24));
            assertTrue(at > 0 && at < statSns.size() - 1, "responses before and after the event: at " + at
                    + " of " + statSns.size());
            assertTrue(reads.completed.get() >= done + 40, "reads went on after the event");
            assertEquals(0, r.read10(0, 0, 1).status(), "and the session still works");
        }
    }

    @Test
    void requestedLogoutIsAnsweredWithALogoutAndTheConnectionCloses() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN);
            assertEquals(0, r.read10(0, 0, 1).status());
            Session session = sessionOf(t, r);
            int before = r.expStatSn;
            assertTrue(session.requestLogout("maintenance", Duration.ofSeconds(5)));
            assertFalse(session.requestLogout("again", Duration.ofSeconds(1)), "one request at a time");
            RawInitiator.Pdu request = r.receive(0x32);
            ByteBuffer h = request.bhs();
            assertEquals(0x80, Bhs.flags(h), "F");
            assertEquals(Bhs.RESERVED_TAG, request.itt());
            assertEquals(1, h.get(36), "AsyncEvent 1: the target requests logout");
            assertEquals(0, h.getLong(8), "LUN reserved");
            assertEquals(0, h.getShort(38), "Parameter1 reserved");
            assertEquals(0, h.getShort(40), "Parameter2 reserved");
            assertEquals(5, h.getShort(42) & 0xffff, "Parameter3: seconds to log out within");
            assertEquals(0, request.data().length);
            assertEquals(before, h.getInt(24), "the next StatSN after the read's status");
            assertEquals(0, r.read10(0, 8, 1).status(), "commands still run until the logout");

            RawInitiator.Pdu response = r.logout(0);
            assertEquals(0, response.bhs().get(2), "Logout Response: connection or session closed successfully");
            assertTrue(r.closedByTarget(), "the connection closes after the Logout Response");
            assertEquals(1, r.asyncMessages.size(), "no message after the request");
            assertTrue(await(() -> t.server.context().sessions().size() == 0, Duration.ofSeconds(5)),
                    "the session ended");
            assertFalse(session.requestLogout("after", Duration.ofSeconds(1)), "nothing to ask any more");
            assertFalse(session.sendScsiEvent(0, LUNS_CHANGED));
        }
    }

    @Test
    void ignoredLogoutRequestClosesTheConnectionAtItsDeadline() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN);
            // a command answered: the target's side of the login is done too (until then the
            // session is registered but not yet in full feature phase, and nothing is sent)
            assertEquals(0, r.read10(0, 0, 1).status());
            Session session = sessionOf(t, r);
            long asked = System.nanoTime();
            assertTrue(session.requestLogout("ignored on purpose", Duration.ofMillis(1000)));
            RawInitiator.Pdu request = r.receive(0x32);
            assertEquals(1, request.bhs().get(36));
            assertEquals(1, request.bhs().getShort(42) & 0xffff, "Parameter3: 1 s");
            assertEquals(0, r.read10(0, 0, 1).status(), "served until the deadline");
            r.socket.setSoTimeout(10_000);
            assertTrue(r.closedByTarget(), "closed once the deadline passed");
            long elapsed = System.nanoTime() - asked;
            assertTrue(elapsed >= 1_000_000_000L, "not before the deadline: " + elapsed / 1_000_000 + " ms");
            assertTrue(elapsed < 8_000_000_000L, "soon after it: " + elapsed / 1_000_000 + " ms");
            assertTrue(await(() -> t.server.context().sessions().size() == 0, Duration.ofSeconds(5)),
                    "the session ended");
        }
    }

    @Test
    void eventsFromSeveralThreadsAtOnceEachArriveOnceWithoutStatSnGaps() throws Exception {
        long seed = Long.getLong("clonetarget.asyncSeed", 20261216L);
        Random random = new Random(seed);
        int senders = 5;
        int each = 20;
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1);
             RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "MaxRecvDataSegmentLength", "65536");
            Session session = sessionOf(t, r);
            List<Integer> statSns = new ArrayList<>();
            r.statSnLog = statSns;
            Reads reads = new Reads(r, 10);
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            Thread client = Thread.ofPlatform().name("raw-initiator").start(() -> {
                try {
                    reads.run(8, () -> r.asyncMessages.size() < senders * each, Duration.ofSeconds(60));
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            assertTrue(reads.warm.await(10, TimeUnit.SECONDS), "reads are running");
            CountDownLatch go = new CountDownLatch(1);
            AtomicInteger refused = new AtomicInteger();
            List<Thread> admins = new ArrayList<>();
            for (int s = 0; s < senders; s++) {
                long threadSeed = random.nextLong();
                int sender = s;
                admins.add(Thread.ofPlatform().name("admin-" + s).start(() -> {
                    Random jitter = new Random(threadSeed);
                    try {
                        go.await();
                        for (int i = 0; i < each; i++) {
                            // the INFORMATION field tells the events apart
                            byte[] sense = SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED)
                                    .withInformation(sender * 1000L + i).fixed();
                            if (!session.sendScsiEvent(LunAddress.encode(sender), sense)) {
                                refused.incrementAndGet();
                            }
                            for (int spin = jitter.nextInt(20_000); spin > 0; spin--) {
                                Thread.onSpinWait();
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            go.countDown();
            for (Thread a : admins) {
                a.join(30_000);
            }
            client.join(60_000);
            assertFalse(client.isAlive());
            assertTrue(failures.isEmpty(), "seed " + seed + ": " + failures);
            assertEquals(0, refused.get(), "every event queued");
            assertTrue(reads.errors.isEmpty(), "seed " + seed + ": " + reads.errors);

            assertEquals(senders * each, r.asyncMessages.size(), "seed " + seed + ": each event once");
            Set<Long> seen = new HashSet<>();
            for (RawInitiator.Pdu event : r.asyncMessages) {
                byte[] sense = eventSense(event);
                long info = ByteBuffer.wrap(sense).getInt(3) & 0xffff_ffffL;
                assertTrue(seen.add(info), "seed " + seed + ": event " + info + " twice");
                assertEquals(LunAddress.encode((int) (info / 1000)), Bhs.lun(event.bhs()), "its sender's LUN");
                assertEquals(0x3f, sense[12] & 0xff);
                assertEquals(0x0e, sense[13] & 0xff);
            }
            assertConsecutive(statSns);
            assertTrue(reads.completed.get() > 10, "reads ran alongside: " + reads.completed.get());
            assertEquals(0, r.read10(0, 0, 1).status(), "the session goes on");
        }
    }
}
