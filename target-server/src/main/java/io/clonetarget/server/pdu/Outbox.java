package io.clonetarget.server.pdu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sending half of a connection: one writer thread drains a queue of {@link OutboundPdu}s and
 * sends each batch with a single gathering write.
 *
 * <p>Any thread may {@link #send}; command threads never block on a slow initiator. The
 * connection's reader may instead {@link #sendDirect}: when nothing is queued it writes on its own
 * thread, saving two thread switches on the latency-bound path (a reader blocked on a full socket
 * only delays its own connection). StatSN, ExpCmdSN and MaxCmdSN are stamped and digests computed
 * under the write lock right before the bytes leave, so numbers are in wire order.
 *
 * <p>Before {@link #start} (during login) there is no writer thread: every PDU is written on the
 * calling thread (the connection's reader, the only sender then), so a connection that never
 * logs in costs no thread here. Whether the writer runs is decided under the write lock, so a PDU
 * another thread sends while the writer is being started (a timer's NOP-In, an asynchronous
 * message) is written on that thread before the writer's first batch, or queued.
 *
 * <p>Bounded: the bytes queued are counted ({@link #queuedBytes}), the reader stops producing
 * while they pass a mark ({@link #awaitBelow}), and the connection closes an initiator that
 * takes nothing for too long ({@link #stalledNanos}). Data-in buffers are already bounded by the
 * data budget; the mark bounds what the reader itself produces (NOP-In echoes, R2Ts, rejects).
 */
public final class Outbox {
    private static final Logger LOG = LoggerFactory.getLogger(Outbox.class);
    private static final int MAX_BATCH = 64;
    private static final OutboundPdu STOP = new OutboundPdu(OutboundPdu.newHeader(), Bhs.LENGTH, null,
            OutboundPdu.StatSnUse.NONE, null);

    /** Where ExpCmdSN and MaxCmdSN come from at the moment a PDU is sent. */
    public interface CommandWindow {
        int expCmdSn();

        int maxCmdSn();
    }

    private final GatheringByteChannel channel;
    private final String name;
    private final LinkedBlockingQueue<OutboundPdu> queue = new LinkedBlockingQueue<>();
    private final AtomicLong queued = new AtomicLong();
    private volatile long lastProgress = System.nanoTime();
    private final Digest digest = new Digest();
    private final Consumer<IOException> onFailure;
    private volatile CommandWindow window;
    private volatile boolean headerDigest;
    private volatile boolean dataDigest;
    private volatile boolean dead;
    private final ReentrantLock writing = new ReentrantLock();
    private int statSn;
    /** Set under the write lock, so a sender sees either no writer (and writes itself) or one. */
    private volatile Thread thread;

    public Outbox(GatheringByteChannel channel, String name, CommandWindow window, Consumer<IOException> onFailure) {
        this.channel = channel;
        this.name = name;
        this.window = window;
        this.onFailure = onFailure;
    }

    /**
     * Starts the writer thread: a platform thread for a normal session (the latency-bound path),
     * a virtual one for a discovery session.
     */
    public void start(boolean platform) {
        Thread.Builder builder = platform ? Thread.ofPlatform().daemon() : Thread.ofVirtual();
        writing.lock();
        try {
            thread = builder.name("iscsi-tx-" + name).start(this::run);
        } finally {
            writing.unlock();
        }
    }

    /** Bytes queued and not yet written. */
    public long queuedBytes() {
        return queued.get();
    }

    /**
     * Nanoseconds since the writer last made progress while something is queued (0 when nothing
     * waits): how long the initiator has not been taking what is sent.
     */
    public long stalledNanos(long now) {
        return queued.get() > 0 ? Math.max(0, now - lastProgress) : 0;
    }

    /**
     * Waits until fewer than {@code bytes} are queued, for at most {@code timeoutNanos}.
     *
     * @return false when the queue did not drain in time (the initiator does not read)
     */
    public boolean awaitBelow(long bytes, long timeoutNanos) throws InterruptedException {
        if (queued.get() < bytes) {
            return true;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (queued) {
            while (queued.get() >= bytes && !dead) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(queued, Math.min(left, 50_000_000L));
            }
        }
        return true;
    }

    private static long size(OutboundPdu pdu) {
        ByteBuffer d = pdu.data();
        return pdu.headerLength() + (d == null ? 0 : d.remaining());
    }

    private void written(long bytes) {
        lastProgress = System.nanoTime();
        if (queued.addAndGet(-bytes) < (1L << 20)) {
            synchronized (queued) {
                queued.notifyAll();
            }
        }
    }

    /** Sets the first StatSN; only before the first response is queued. */
    public void initStatSn(int first) {
        this.statSn = first;
    }

    /** Switches the source of ExpCmdSN/MaxCmdSN (from the login window to the session's). */
    public void setWindow(CommandWindow window) {
        this.window = window;
    }

    /** Digests to use from the next PDU taken from the queue on. */
    public void setDigests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    /**
     * Queues a PDU (before {@link #start}: writes it on this thread). After the connection died
     * the PDU is completed (released) at once. Any thread, at any time: a PDU sent while the
     * writer is being started is either written here before the writer's first batch or queued.
     */
    public void send(OutboundPdu pdu) {
        if (dead) {
            pdu.completed();
            return;
        }
        if (thread == null && writeBeforeStart(pdu)) {
            return;
        }
        queued.addAndGet(size(pdu));
        queue.add(pdu);
        if (dead && queue.remove(pdu)) {
            queued.addAndGet(-size(pdu));
            pdu.completed();
        }
    }

    /**
     * Writes one PDU on this thread, before the writer is started (login): the final login
     * response goes this way, so that digests can be switched on right after its last byte,
     * exactly at the boundary RFC 7143 section 13.1 gives, before any other PDU can be sent.
     */
    public void sendNow(OutboundPdu pdu) {
        if (thread != null || !writeBeforeStart(pdu)) {
            throw new IllegalStateException("the writer runs; use send");
        }
    }

    /**
     * Writes one PDU on this thread if the writer has not been started, deciding that under the
     * write lock ({@link #start} sets the writer under it too).
     *
     * @return false, with the PDU untouched, when the writer runs
     */
    private boolean writeBeforeStart(OutboundPdu pdu) {
        boolean taken = false;
        writing.lock();
        try {
            if (thread != null) {
                return false;
            }
            taken = true;
            if (!dead) {
                ByteBuffer[] iov = new ByteBuffer[3];
                writeFully(iov, prepare(pdu, iov, 0));
                lastProgress = System.nanoTime();
            }
        } catch (IOException e) {
            dead = true;
            onFailure.accept(e);
        } finally {
            writing.unlock();
            if (taken) {
                pdu.completed();
            }
        }
        return true;
    }

    /**
     * Writes the PDUs on the calling thread if nothing is queued and no write is in progress,
     * else queues them (in order). For the connection's reader thread only.
     */
    public void sendDirect(List<OutboundPdu> pdus) {
        if (thread == null) {
            for (OutboundPdu pdu : pdus) {
                sendNow(pdu);
            }
            return;
        }
        if (!dead && queue.isEmpty() && writing.tryLock()) {
            boolean failed = false;
            try {
                if (queue.isEmpty() && !dead) {
                    ByteBuffer[] iov = new ByteBuffer[pdus.size() * 3];
                    int n = 0;
                    for (OutboundPdu pdu : pdus) {
                        n = prepare(pdu, iov, n);
                    }
                    writeFully(iov, n);
                    lastProgress = System.nanoTime();
                    for (OutboundPdu pdu : pdus) {
                        pdu.completed();
                    }
                    return;
                }
            } catch (IOException e) {
                failed = true;
                dead = true;
                for (OutboundPdu pdu : pdus) {
                    pdu.completed();
                }
                drainAndComplete();
                onFailure.accept(e);
                return;
            } finally {
                writing.unlock();
                if (failed) {
                    LOG.debug("direct write failed");
                }
            }
        }
        for (OutboundPdu pdu : pdus) {
            send(pdu);
        }
    }

    /** Lets the queued PDUs go out, then stops the writer (the caller closes the socket). */
    public void finish(long timeoutMillis) {
        queue.add(STOP);
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(timeoutMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        abort();
    }

    /** Drops everything queued and stops the writer. */
    public void abort() {
        dead = true;
        queue.add(STOP);
        drainAndComplete();
    }

    public boolean isDead() {
        return dead;
    }

    private void drainAndComplete() {
        List<OutboundPdu> left = new ArrayList<>();
        queue.drainTo(left);
        for (OutboundPdu p : left) {
            if (p != STOP) {
                queued.addAndGet(-size(p));
                p.completed();
            }
        }
        synchronized (queued) {
            queued.notifyAll();
        }
    }

    private void run() {
        io.clonetarget.server.log.LogContext.connection(name, null);
        List<OutboundPdu> batch = new ArrayList<>(MAX_BATCH);
        ByteBuffer[] iov = new ByteBuffer[MAX_BATCH * 3];
        try {
            while (!dead) {
                OutboundPdu first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                boolean stop = false;
                writing.lock();
                try {
                    int n = 0;
                    for (OutboundPdu pdu : batch) {
                        if (pdu == STOP) {
                            stop = true;
                            break;
                        }
                        n = prepare(pdu, iov, n);
                    }
                    writeFully(iov, n);
                } finally {
                    writing.unlock();
                }
                long bytes = 0;
                for (OutboundPdu pdu : batch) {
                    if (pdu != STOP) {
                        bytes += size(pdu);
                        pdu.completed();
                    }
                }
                written(bytes);
                batch.clear();
                if (stop) {
                    break;
                }
            }
        } catch (IOException e) {
            dead = true;
            LOG.debug("write failed: {}", e.toString());
            complete(batch);
            drainAndComplete();
            onFailure.accept(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) { // an Error too: the connection is closed, the server goes on
            dead = true;
            LOG.error("writer failed", e);
            complete(batch);
            drainAndComplete();
            onFailure.accept(new IOException(e));
        }
    }

    private void complete(List<OutboundPdu> batch) {
        for (OutboundPdu pdu : batch) {
            if (pdu != STOP) {
                queued.addAndGet(-size(pdu));
                pdu.completed();
            }
        }
    }

    private int prepare(OutboundPdu pdu, ByteBuffer[] iov, int n) {
        ByteBuffer h = pdu.header();
        CommandWindow w = window;
        switch (pdu.statSnUse()) {
            case ADVANCE -> h.putInt(Bhs.OFF_STATSN, statSn++);
            case CURRENT -> h.putInt(Bhs.OFF_STATSN, statSn);
            case NONE -> { }
        }
        h.putInt(Bhs.OFF_EXPCMDSN, w.expCmdSn());
        h.putInt(Bhs.OFF_MAXCMDSN, w.maxCmdSn());
        int hl = pdu.headerLength();
        if (headerDigest) {
            Digest.put(h, hl, digest.ofHeader(h, hl));
            hl += Digest.LENGTH;
        }
        iov[n++] = h.duplicate().position(0).limit(hl);
        ByteBuffer data = pdu.data();
        if (data != null && data.hasRemaining()) {
            iov[n++] = data.duplicate();
            int pad = Bhs.padding(data.remaining());
            boolean dd = dataDigest;
            if (pad > 0 || dd) {
                ByteBuffer trailer = ByteBuffer.allocate(8);
                trailer.limit(pad + (dd ? 4 : 0));
                if (dd) {
                    Digest.put(trailer, pad, digest.ofSegment(data));
                }
                iov[n++] = trailer;
            }
        }
        return n;
    }

    private void writeFully(ByteBuffer[] iov, int n) throws IOException {
        int first = 0;
        while (first < n) {
            channel.write(iov, first, n - first);
            while (first < n && !iov[first].hasRemaining()) {
                first++;
            }
        }
    }

    /** The StatSN the next response will carry (for tests and status). */
    public int peekStatSn() {
        return statSn;
    }
}
