package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class OutboxTest {
    /** Collects written bytes. */
    static final class Sink implements GatheringByteChannel {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        @Override
        public synchronized long write(ByteBuffer[] srcs, int offset, int length) {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public synchronized int write(ByteBuffer src) {
            int n = src.remaining();
            byte[] b = new byte[n];
            src.get(b);
            out.writeBytes(b);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }

        synchronized byte[] bytes() {
            return out.toByteArray();
        }
    }

    @Test
    void stampsSequenceNumbersInWireOrderAndDigests() throws Exception {
        Sink sink = new Sink();
        Outbox.CommandWindow window = new Outbox.CommandWindow() {
            @Override
            public int expCmdSn() {
                return 10;
            }

            @Override
            public int maxCmdSn() {
                return 73;
            }
        };
        Outbox outbox = new Outbox(sink, "t", window, e -> { });
        outbox.initStatSn(100);
        outbox.setDigests(true, true);
        outbox.start(true);
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger released = new AtomicInteger();
        outbox.send(Pdus.r2t(0, 1, 5, 0, 0, 4096).then(released::incrementAndGet));
        outbox.send(Pdus.scsiResponse(1, 0, null, 1, 0).then(released::incrementAndGet));
        outbox.send(Pdus.dataIn(0, 2, 0, 0, ByteBuffer.wrap(new byte[]{1, 2, 3}), true, true, 0, 0)
                .then(() -> {
                    released.incrementAndGet();
                    done.countDown();
                }));
        assertTrue(done.await(5, TimeUnit.SECONDS));
        outbox.finish(1000);
        ByteBuffer wire = ByteBuffer.wrap(sink.bytes());
        assertEquals(3 * 52 + 4 + 4, wire.remaining(), "3 headers + digests, 3 data + 1 pad, data digest");
        assertEquals(100, wire.getInt(24), "R2T carries StatSN without consuming it");
        assertEquals(10, wire.getInt(28));
        assertEquals(73, wire.getInt(32));
        assertEquals(100, wire.getInt(52 + 24), "the response consumes 100");
        assertEquals(101, wire.getInt(104 + 24), "the Data-In with status consumes 101");
        Digest d = new Digest();
        assertEquals(d.ofHeader(wire.slice(0, 48), 48), Digest.get(wire, 48));
        assertEquals(3, released.get());
    }

    static final Outbox.CommandWindow WINDOW = new Outbox.CommandWindow() {
        @Override
        public int expCmdSn() {
            return 1;
        }

        @Override
        public int maxCmdSn() {
            return 64;
        }
    };

    /**
     * The final login response is written on the reader's thread before any writer exists, and
     * digests are switched on right after its last byte: every PDU after it carries the header
     * digest, whichever thread sends it and however soon (RFC 7143 section 13.1).
     */
    @Test
    void digestsSwitchRightAfterTheFinalLoginResponse() throws Exception {
        Sink sink = new Sink();
        Outbox outbox = new Outbox(sink, "t", WINDOW, e -> { });
        outbox.sendNow(Pdus.loginResponse(true, 1, 3, 0x400001370001L, 1, 7, 0, 0, new byte[0]));
        outbox.setDigests(true, false);
        outbox.start(true);
        outbox.sendDirect(java.util.List.of(Pdus.nopInPing(9))); // the reader answering at once, inline
        outbox.finish(1000);
        ByteBuffer wire = ByteBuffer.wrap(sink.bytes());
        assertEquals(48 + 48 + 4, wire.remaining(), "the login response without a digest, the next PDU with one");
        assertEquals(new Digest().ofHeader(wire.slice(48, 48), 48), Digest.get(wire, 96));
    }

    /**
     * What 0.1 did: queue the final login response with the switch as its completion action. The
     * writer runs completion actions after the bytes left, so an inline answer in between goes
     * out without the digest. Kept to show why the switch is not done that way.
     */
    @Test
    void switchingDigestsInACompletionActionLeavesAWindow() throws Exception {
        Sink sink = new Sink();
        Outbox outbox = new Outbox(sink, "t", WINDOW, e -> { });
        outbox.start(true);
        CountDownLatch sent = new CountDownLatch(1);
        CountDownLatch inlineDone = new CountDownLatch(1);
        outbox.send(Pdus.loginResponse(true, 1, 3, 0x400001370001L, 1, 7, 0, 0, new byte[0]).then(() -> {
            sent.countDown();
            try {
                inlineDone.await(5, TimeUnit.SECONDS); // the initiator is fast; the writer thread is not
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }).then(() -> outbox.setDigests(true, false)));
        assertTrue(sent.await(5, TimeUnit.SECONDS));
        outbox.sendDirect(java.util.List.of(Pdus.nopInPing(9)));
        inlineDone.countDown();
        outbox.finish(1000);
        assertEquals(48 + 48, sink.bytes().length, "the PDU after the login response went out without its digest");
    }

    @Test
    void pdusSentAfterDeathAreReleased() {
        Outbox outbox = new Outbox(new Sink(), "t", null, e -> { });
        outbox.abort();
        AtomicInteger released = new AtomicInteger();
        outbox.send(Pdus.nopInPing(1).then(released::incrementAndGet));
        assertEquals(1, released.get());
    }
}
