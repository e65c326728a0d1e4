package io.clonetarget.server.session;

import io.clonetarget.server.login.Login;
import io.clonetarget.server.login.LoginException;
import io.clonetarget.server.login.LoginRequest;
import io.clonetarget.server.login.LoginStatus;
import io.clonetarget.server.log.LogContext;
import io.clonetarget.server.log.LogText;
import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.Opcode;
import io.clonetarget.server.pdu.OutboundPdu;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduException;
import io.clonetarget.server.pdu.PduReader;
import io.clonetarget.server.pdu.Pdus;
import io.clonetarget.server.pdu.ReceivePolling;
import io.clonetarget.server.pdu.RejectReason;
import io.clonetarget.server.pdu.TextSegment;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.target.TargetNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection: a reader thread that parses PDUs and dispatches them, and an
 * {@link Outbox} that sends. Storage work never runs on the reader, so NOP-Outs, task
 * management and data transfers keep flowing while commands wait for slow storage.
 *
 * <p>Threads: until login completes the connection has one virtual thread (the reader; login
 * responses are written on it), so connections that never log in cost no platform thread and
 * their number is bounded by {@link Admission} alone. When a normal session's login completes,
 * the reader continues on a platform thread and the outbox gets its platform writer (the
 * latency-bound path); a discovery session stays on virtual threads. Any {@link Throwable} on
 * these threads closes this connection, logged once, and nothing else.
 *
 * <p>Errors: a malformed PDU gets a Reject; if the stream or a task can no longer be trusted
 * the connection is closed after the Reject is sent (error recovery level 0). A failed login
 * gets its login status and the connection is closed.
 */
public final class Connection {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
    private static final AtomicLong IDS = new AtomicLong();
    private static final AtomicLong NEXT_EVICTION_WARNING = new AtomicLong(System.nanoTime());
    private static final int LOGIN_SEGMENT = 8192;
    private static final int MAX_LOGIN_TEXT = 64 * 1024;
    private static final long FLUSH_ON_CLOSE_MILLIS = 2000;
    /** Bytes queued to send above which the reader stops reading (see {@link Outbox#awaitBelow}). */
    static final long OUTBOX_MARK = 16L << 20;

    enum State { LOGIN, FULL_FEATURE, LOGOUT, CLOSED }

    private final String id;
    private final SocketChannel channel;
    private final ServerContext context;
    private final InetSocketAddress local;
    private final InetSocketAddress remote;
    private final PduReader reader;
    private final Outbox outbox;
    private final Login login;
    private final ByteArrayOutputStream loginText = new ByteArrayOutputStream();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final long started = System.nanoTime();
    /** Counted by {@link Admission} (guarded by its lock). */
    boolean admitted;
    /** Set by the reader when login completed and the session moves to its own threads. */
    private boolean handOver;
    private volatile State state = State.LOGIN;
    private CommandSequencer window;
    private Session session;
    private FullFeaturePhase phase;
    private String closing;
    private volatile long lastReceived = System.nanoTime();
    private volatile int pingTtt = Bhs.RESERVED_TAG;
    private volatile long pingSent;
    private int nextPingTtt = 0x7f00_0000;
    private ScheduledFuture<?> timer;
    /**
     * Orders asynchronous messages with the state's leaving full feature phase: one queued under
     * it while the state was {@code FULL_FEATURE} is queued before a Logout Response can be.
     */
    private final Object asyncLock = new Object();
    /** When the initiator asked to log out must have done so (guarded by {@link #asyncLock}). */
    private ScheduledFuture<?> logoutDeadline;

    public Connection(SocketChannel channel, ServerContext context) throws IOException {
        this.id = "c" + IDS.incrementAndGet();
        this.channel = channel;
        this.context = context;
        this.local = (InetSocketAddress) channel.getLocalAddress();
        this.remote = (InetSocketAddress) channel.getRemoteAddress();
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
        this.reader = new PduReader(channel, LOGIN_SEGMENT);
        this.reader.setHeaderCheck(this::checkHeader);
        this.outbox = new Outbox(channel, id, new CommandSequencer(0, 1), e -> close("send failed: " + e.getMessage()));
        this.login = new Login(context, remote.getAddress());
    }

    public String id() {
        return id;
    }

    public InetSocketAddress remote() {
        return remote;
    }

    /** The session, once login completed (null before). */
    public Session session() {
        return session;
    }

    /**
     * Admits the connection (closing connections that waited longest to log in, if limits say
     * so) and starts its reader, on a virtual thread, and its timer; refused, it is closed.
     *
     * @return whether the connection was admitted
     */
    public boolean start() {
        Admission.Verdict verdict = context.admission().admit(this);
        for (Connection victim : verdict.evict()) {
            victim.close("closed to make room: too many connections waiting to log in");
        }
        if (!verdict.evict().isEmpty()) {
            long now = System.nanoTime();
            long next = NEXT_EVICTION_WARNING.get();
            if (now - next >= 0 && NEXT_EVICTION_WARNING.compareAndSet(next, now + 10_000_000_000L)) {
                LOG.warn("connections waiting to log in are being closed to make room for new ones ({} so far; "
                        + "a flood of connections that do not log in?); see [server.limits]",
                        context.admission().evicted());
            }
        }
        if (!verdict.admitted()) {
            LOG.warn("connection from {} refused: too many connections ({} open, {} from this address)",
                    remote, context.admission().total(), context.limits().maxPerAddress());
            closeChannel();
            return false;
        }
        LOG.debug("connection {} from {} to {}", id, remote, local);
        context.connections().add(this);
        try {
            timer = context.timers().scheduleAtFixedRate(this::tick, 1, 1, TimeUnit.SECONDS);
            Thread.ofVirtual().name("iscsi-login-" + id).start(this::run);
        } catch (Throwable e) {
            close("cannot start: " + e);
            throw e;
        }
        return true;
    }

    private void run() {
        LogContext.connection(id, session == null ? null : session.logContext());
        ByteBuffer bhs = ByteBuffer.allocate(Bhs.LENGTH);
        String reason = "closed by the initiator";
        try {
            while (!closed.get() && closing == null) {
                if (handOver) {
                    handOver = false;
                    continueOnOwnThreads();
                    return;
                }
                if (!outbox.awaitBelow(OUTBOX_MARK, context.limits().sendTimeout().toNanos())) {
                    reason = "the initiator takes nothing of what is sent (" + outbox.queuedBytes()
                            + " bytes queued for " + context.limits().sendTimeout().toSeconds() + " s)";
                    break;
                }
                if (!reader.readHeader(bhs)) {
                    break;
                }
                lastReceived = System.nanoTime();
                try {
                    if (state == State.LOGIN) {
                        loginRequest(bhs);
                    } else {
                        fullFeature(bhs);
                    }
                } catch (PduException e) {
                    if (e.fatal()) {
                        throw e;
                    }
                    LOG.warn("rejected PDU ({}): {}; header {}", e.reason(), e.getMessage(), Bhs.hex(bhs));
                    if (state != State.LOGIN) {
                        outbox.send(Pdus.reject(e.reason(), bhs));
                    }
                }
                if (reader.pendingDataLength() >= 0) {
                    reader.skipData();
                }
            }
            if (closing != null) {
                reason = closing;
                outbox.finish(FLUSH_ON_CLOSE_MILLIS);
            }
        } catch (PduException e) {
            reason = "protocol error: " + e.getMessage();
            if (e.digest() && session != null) {
                session.metrics().digestError();
            }
            LOG.warn("{} from {}; header {}", reason, remote, Bhs.hex(bhs));
            if (state != State.LOGIN) {
                outbox.send(Pdus.reject(e.reason(), bhs));
            }
            outbox.finish(FLUSH_ON_CLOSE_MILLIS);
        } catch (ClosedChannelException e) {
            reason = "closed";
        } catch (IOException e) {
            reason = e.getMessage() == null ? e.toString() : e.getMessage();
        } catch (InterruptedException e) {
            reason = "interrupted";
        } catch (Throwable e) { // an Error too (out of memory, no thread): this connection ends, the server goes on
            LOG.error("connection failed", e);
            reason = "internal error: " + e;
        }
        close(reason);
    }

    /**
     * After a normal session's login: the reader goes on on a platform thread, and the outbox
     * gets its platform writer. A discovery session keeps virtual threads. If a thread cannot be
     * made (the process is out of threads), this connection is closed and nothing else.
     */
    private void continueOnOwnThreads() {
        boolean platform = !session.discovery();
        try {
            if (platform) {
                java.io.InputStream probe = channel.socket().getInputStream();
                reader.setPolling(new ReceivePolling(probe::available));
            }
            outbox.start(platform);
            (platform ? Thread.ofPlatform().daemon() : Thread.ofVirtual()).name("iscsi-rx-" + id).start(this::run);
        } catch (Throwable e) {
            LOG.error("cannot start the session's threads: {}", e.toString());
            close("no thread for the session: " + e);
        }
    }

    /**
     * Refuses, before anything else is read, headers whose lengths cannot be trusted: during
     * login only Login Requests may arrive, and only SCSI commands carry additional header
     * segments (RFC 7143 section 11.2.1.2).
     */
    private void checkHeader(ByteBuffer bhs) throws PduException {
        int code = Bhs.opcodeCode(bhs);
        if (state == State.LOGIN && code != Opcode.LOGIN_REQUEST.code()) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, true,
                    String.format("opcode %02xh before login completed", code));
        }
        if (Bhs.ahsLength(bhs) != 0 && code != Opcode.SCSI_COMMAND.code()) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, true,
                    String.format("additional header segment on opcode %02xh", code));
        }
    }

    // ---- login --------------------------------------------------------------------------

    private void loginRequest(ByteBuffer bhs) throws IOException, PduException {
        if (Bhs.opcodeCode(bhs) != Opcode.LOGIN_REQUEST.code()) {
            throw new PduException(RejectReason.PROTOCOL_ERROR, true,
                    String.format("opcode %02xh before login completed", Bhs.opcodeCode(bhs)));
        }
        LoginRequest req = LoginRequest.parse(bhs);
        ByteBuffer data = reader.readDataToHeap();
        if (window == null) {
            outbox.initStatSn(req.expStatSn());
            window = new CommandSequencer(req.cmdSn(), context.settings().commandWindow());
            outbox.setWindow(window);
        }
        try {
            if (req.tsih() != 0) {
                throw new LoginException(context.sessions().get(req.tsih()) != null
                        ? LoginStatus.CANNOT_INCLUDE_IN_SESSION : LoginStatus.SESSION_DOES_NOT_EXIST,
                        "adding connections to session " + req.tsih() + " (MaxConnections=1)");
            }
            loginText.write(data.array(), data.arrayOffset(), data.remaining());
            if (loginText.size() > MAX_LOGIN_TEXT) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "login text longer than " + MAX_LOGIN_TEXT);
            }
            if (req.cont()) {
                outbox.send(Pdus.loginResponse(false, req.csg(), req.csg(), req.isid(), 0, req.itt(), 0, 0, new byte[0]));
                return;
            }
            List<TextSegment.Pair> pairs;
            try {
                pairs = TextSegment.parse(ByteBuffer.wrap(loginText.toByteArray()));
            } catch (TextSegment.TextFormatException e) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, e.getMessage());
            } finally {
                loginText.reset();
            }
            Login.Step step = login.process(req, pairs);
            byte[] keys = TextSegment.encode(step.keys());
            if (step.complete()) {
                completeLogin(req, step, keys);
            } else {
                outbox.send(Pdus.loginResponse(step.transit(), step.csg().code(), step.nsg().code(),
                        req.isid(), 0, req.itt(), 0, 0, keys));
            }
        } catch (LoginException e) {
            context.metrics().login(e.status().name());
            LOG.warn("login from {} ({}) refused: {} ({})", remote,
                    login.initiatorName() == null ? "?" : LogText.of(login.initiatorName()), LogText.of(e.getMessage(), 600),
                    e.status());
            outbox.send(Pdus.loginResponse(false, req.csg(), req.nsg(), req.isid(), 0, req.itt(),
                    e.status().statusClass(), e.status().detail(), new byte[0]));
            closing = "login refused: " + e.getMessage();
        }
    }

    private void completeLogin(LoginRequest req, Login.Step step, byte[] keys) throws LoginException {
        SessionParameters params = login.parameters();
        TargetNode target = (TargetNode) login.target();
        int tsih = context.sessions().allocateTsih();
        Session s = new Session(login.isid(), tsih, login.initiatorName(), login.initiatorAlias(), login.authenticatedAs(),
                target, params,
                window, context.portalGroupTag(), context.dataBudget().session(context.limits().sessionDataBytes()));
        s.connection = this;
        if (target != null) {
            s.setMetrics(context.metrics().session(target.name(), login.initiatorName(), login.isid()));
        }
        context.sessions().add(s);
        if (target != null && (context.findTarget(target.name()).orElse(null) != target
                || !target.admits(login.initiatorName(), remote.getAddress()))) {
            // the configuration changed while it logged in (the target went, or no longer admits it): a
            // change publishes first and then looks at the sessions, a login registers first and then
            // looks at the configuration, so one of the two always sees the other
            context.sessions().remove(s);
            s.metrics().close();
            boolean gone = context.findTarget(target.name()).orElse(null) != target;
            throw new LoginException(gone ? LoginStatus.NOT_FOUND : LoginStatus.AUTHORIZATION_FAILURE, gone
                    ? "target " + target.name() + " was removed while the initiator logged in"
                    : LogText.of(login.initiatorName()) + " is no longer allowed on " + target.name());
        }
        context.metrics().login(null);
        session = s;
        phase = new FullFeaturePhase(this, s, context, reader, outbox, new ScsiFlow(this, s, context, reader, outbox),
                new TaskManagement(this, s, context, outbox), new TextExchange(s, outbox, local, context), login.cid());
        OutboundPdu response = Pdus.loginResponse(true, step.csg().code(), step.nsg().code(), req.isid(), tsih,
                req.itt(), 0, 0, keys);
        reader.setDigests(params.headerDigest(), params.dataDigest());
        reader.setMaxDataSegmentLength(Math.max(params.targetMaxRecvDataSegmentLength(),
                context.settings().maxRecvDataSegmentLength()));
        context.admission().loggedIn(this);
        // written on this thread, then digests on: every later PDU, whoever sends it, carries them
        outbox.sendNow(response);
        outbox.setDigests(params.headerDigest(), params.dataDigest());
        state = State.FULL_FEATURE;
        handOver = true;
        LogContext.connection(id, s.logContext());
        LOG.info("login from {}: {}{}", remote, s, describe(params));
    }

    private static String describe(SessionParameters p) {
        return String.format(" [digests %s/%s, segment %d/%d, burst %d/%d, InitialR2T %s, ImmediateData %s, R2T %d]",
                p.headerDigest() ? "CRC32C" : "None", p.dataDigest() ? "CRC32C" : "None",
                p.initiatorMaxRecvDataSegmentLength(), p.targetMaxRecvDataSegmentLength(),
                p.firstBurstLength(), p.maxBurstLength(), p.initialR2T() ? "Yes" : "No",
                p.immediateData() ? "Yes" : "No", p.maxOutstandingR2T());
    }

    // ---- full feature phase ---------------------------------------------------------------

    private void fullFeature(ByteBuffer bhs) throws IOException, PduException {
        phase.dispatch(bhs);
    }

    /** A NOP-Out answered our ping (its target transfer tag is the ping's). */
    void pingAnswered(int ttt) {
        if (ttt != Bhs.RESERVED_TAG && ttt == pingTtt) {
            pingTtt = Bhs.RESERVED_TAG;
        }
    }

    /** A Logout Request was accepted: nothing but its response follows (no asynchronous message). */
    void loggingOut() {
        synchronized (asyncLock) {
            state = State.LOGOUT;
            cancelLogoutDeadline();
        }
    }

    private void cancelLogoutDeadline() {
        if (logoutDeadline != null) {
            logoutDeadline.cancel(false);
            logoutDeadline = null;
        }
    }

    // ---- keepalive and closing -----------------------------------------------------------

    private void tick() {
        Session s0 = session;
        try (LogContext.Scope scope = LogContext.of(id, s0 == null ? null : s0.logContext())) {
            long now = System.nanoTime();
            ServerContext.Timeouts t = context.timeouts();
            if (state == State.LOGIN) {
                if (now - started > t.login().toNanos()) {
                    close("login not completed within " + t.login().toSeconds() + " s");
                }
                return;
            }
            if (state != State.FULL_FEATURE) {
                return;
            }
            long stalled = outbox.stalledNanos(now);
            if (stalled > context.limits().sendTimeout().toNanos()) {
                close("the initiator took nothing of " + outbox.queuedBytes() + " queued bytes for "
                        + TimeUnit.NANOSECONDS.toSeconds(stalled) + " s");
                return;
            }
            if (t.nopInterval().isZero()) {
                return;
            }
            if (pingTtt != Bhs.RESERVED_TAG) {
                if (now - pingSent > t.nopTimeout().toNanos()) {
                    close("no answer to NOP-In within " + t.nopTimeout().toSeconds() + " s");
                }
            } else if (now - lastReceived > t.nopInterval().toNanos()) {
                int ttt = nextPingTtt++;
                pingSent = now;
                pingTtt = ttt;
                outbox.send(Pdus.nopInPing(ttt));
            }
        } catch (RuntimeException e) {
            LOG.error("keepalive failed", e);
        }
    }

    /** Closes the connection now (idempotent); its session ends and its tasks are aborted. */
    public void close(String reason) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        Session s0 = session;
        try (LogContext.Scope scope = LogContext.of(id, s0 == null ? null : s0.logContext())) {
            closeNow(reason);
        }
    }

    private void closeNow(String reason) {
        state = State.CLOSED; // from here requestLogout arms no deadline; the one armed is cancelled below
        context.connections().remove(this);
        context.admission().closed(this);
        if (timer != null) {
            timer.cancel(false);
        }
        Session s = session;
        if (s != null) {
            context.sessions().remove(s); // gone before the initiator sees the connection close
        }
        closeChannel();
        outbox.abort();
        synchronized (asyncLock) { // only after the channel is closed: a sender holding it cannot be stuck on it
            cancelLogoutDeadline();
        }
        if (s != null) {
            s.abortAll();
            s.metrics().close();
            if (s.target() != null && !s.nexusReleased) {
                for (LogicalUnit unit : s.target().units()) {
                    unit.nexusLost(s.nexus());
                }
            }
            LOG.info("session {} ended: {}", s, reason);
        } else {
            LOG.debug("connection from {} ended: {}", remote, reason);
        }
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("connection {}: close: {}", id, e.toString());
        }
    }

    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Queues an asynchronous message (e.g. REPORTED LUNS DATA HAS CHANGED) if the connection is in
     * full feature phase, else releases it. Any thread: the outbox stamps its StatSN, ExpCmdSN
     * and MaxCmdSN in wire order with the responses around it, and a message queued here never
     * follows a Logout Response.
     *
     * @return whether it was queued (false while logging in, logging out or closed)
     */
    public boolean sendAsync(OutboundPdu pdu) {
        synchronized (asyncLock) {
            if (state == State.FULL_FEATURE) {
                outbox.send(pdu);
                return true;
            }
        }
        pdu.completed();
        return false;
    }

    /**
     * Asks the initiator to log out within {@code seconds} (AsyncEvent 1) and closes the
     * connection if it has not sent a Logout Request by then. Any thread; the deadline runs on
     * the server's timer and is cancelled when a logout is accepted or the connection closes.
     *
     * @return false, sending nothing, when not in full feature phase, when a request is already
     *     pending, or when the server is stopping (its timer takes nothing)
     */
    boolean requestLogout(String reason, int seconds) {
        synchronized (asyncLock) {
            if (state != State.FULL_FEATURE || logoutDeadline != null) {
                return false;
            }
            try {
                logoutDeadline = context.timers().schedule(() -> logoutOverdue(reason, seconds), seconds,
                        TimeUnit.SECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                return false;
            }
            outbox.send(Pdus.asyncRequestLogout(seconds));
        }
        Session s0 = session;
        try (LogContext.Scope scope = LogContext.of(id, s0 == null ? null : s0.logContext())) {
            LOG.info("asked the initiator to log out within {} s: {}", seconds, LogText.of(reason));
        }
        return true;
    }

    /** The deadline of {@link #requestLogout} passed (timer thread). */
    private void logoutOverdue(String reason, int seconds) {
        synchronized (asyncLock) {
            if (state != State.FULL_FEATURE) {
                return; // logging out, or closed
            }
            logoutDeadline = null;
        }
        close("no Logout Request within " + seconds + " s of the target asking for one (" + LogText.of(reason) + ")");
    }
}
