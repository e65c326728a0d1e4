package io.clonetarget.server.pdu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Senders on other threads while the writer is being started (a login completing while the
 * timer pings or an administrator sends an asynchronous message): every PDU goes out once, none
 * throws, and StatSN is stamped in wire order without gaps. Before the writer was set under the
 * write lock, a sender could find no writer, then find one inside {@link Outbox#sendNow} and fail.
 */
class OutboxStartRaceTest {
    static final int SENDERS = 4;
    static final int EACH = 25;

    @Test
    void sendsRacingTheWritersStartAllGoOutOnceInStatSnOrder() throws Exception {
        long seed = Long.getLong("clonetarget.outboxSeed", 20261215L);
        Random random = new Random(seed);
        for (int round = 0; round < 200; round++) {
            OutboxTest.Sink sink = new OutboxTest.Sink();
            Outbox outbox = new Outbox(sink, "race", OutboxTest.WINDOW, e -> { });
            outbox.initStatSn(500);
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch sent = new CountDownLatch(SENDERS * EACH);
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            List<Thread> senders = new ArrayList<>();
            for (int s = 0; s < SENDERS; s++) {
                int sender = s;
                senders.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        for (int i = 0; i < EACH; i++) {
                            outbox.send(Pdus.scsiResponse(sender * 1000 + i, 0, null, 0, 0).then(sent::countDown));
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            go.countDown();
            for (int spin = random.nextInt(2000); spin > 0; spin--) {
                Thread.onSpinWait();
            }
            outbox.start(true);
            for (Thread t : senders) {
                t.join();
            }
            assertTrue(failures.isEmpty(), "round " + round + " (seed " + seed + "): " + failures);
            assertTrue(sent.await(5, TimeUnit.SECONDS), "round " + round + ": every PDU completed");
            outbox.finish(1000);
            ByteBuffer wire = ByteBuffer.wrap(sink.bytes());
            assertEquals(SENDERS * EACH * 48, wire.remaining(), "round " + round + ": each PDU once");
            Set<Integer> itts = new HashSet<>();
            for (int n = 0; n < SENDERS * EACH; n++) {
                assertEquals(500 + n, wire.getInt(n * 48 + 24), "round " + round + ": StatSN in wire order");
                assertTrue(itts.add(wire.getInt(n * 48 + 16)), "round " + round + ": no PDU twice");
            }
        }
    }
}
