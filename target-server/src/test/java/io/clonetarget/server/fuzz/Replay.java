package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** Sends a recorded round again on a new connection (the shrinker's experiment). */
final class Replay {
    private static final int BARRIER_ITT = 0x7eadbeef;

    private Replay() {
    }

    /** Sends a recorded round again: the login, then every chunk, then an orderly close. */
    static void replay(FuzzRound.Endpoint endpoint, byte[] login, Peer.Negotiated digests, List<byte[]> chunks,
                       int pauseEvery) throws IOException {
        try (Peer peer = Peer.connect(endpoint.host(), endpoint.port(), 1 << 24, 5000)) {
            peer.send(login);
            try {
                peer.receive();
            } catch (IOException e) {
                // a mutated login: the target may close at once; send the rest anyway
            }
            peer.params = digests;
            CountDownLatch barrier = new CountDownLatch(1);
            peer.startDrain(r -> {
                if (r.opcode() == Wire.NOP_IN && r.itt() == BARRIER_ITT) {
                    barrier.countDown();
                }
            });
            int i = 0;
            for (byte[] c : chunks) {
                peer.send(c);
                if (pauseEvery > 0 && ++i % pauseEvery == 0) {
                    pause(1);
                }
            }
            // a ping behind everything: once it is answered the target has read all of it (slow work
            // such as allocating large buffers included); a stream it cannot frame any more ends in a
            // close or the timeout instead
            ByteBuffer h = Wire.header(0x40 | Wire.NOP_OUT, 0x80);
            h.putInt(16, BARRIER_ITT).putInt(20, Wire.RESERVED_TAG);
            try {
                peer.send(Wire.pdu(h.array(), new byte[0], digests != null && digests.headerDigest(), false));
            } catch (IOException e) {
                return;
            }
            long until = System.nanoTime() + 3_000_000_000L;
            while (barrier.getCount() > 0 && !peer.closedByTarget() && System.nanoTime() < until) {
                pause(5);
            }
            pause(50);
        }
    }

    private static void pause(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
