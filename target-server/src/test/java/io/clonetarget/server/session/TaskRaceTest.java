package io.clonetarget.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.login.SessionParameters;
import io.clonetarget.server.login.TargetSettings;
import io.clonetarget.server.pdu.Bhs;
import io.clonetarget.server.pdu.Outbox;
import io.clonetarget.server.pdu.PduReader;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.scsi.ScsiResult;
import io.clonetarget.server.scsi.ScsiTask;
import io.clonetarget.server.target.TargetNode;
import io.clonetarget.server.transport.BufferPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Task management against the reader, decided deterministically: the test thread plays the
 * connection's reader (it feeds PDUs and calls the flow as the reader would) and aborts exactly
 * where a task management thread could.
 */
class TaskRaceTest {
    ServerSocketChannel listener;
    SocketChannel client;
    SocketChannel server;
    ExecutorService commands;
    ExecutorService background;
    ScheduledExecutorService timers;
    ServerContext context;
    Session session;
    ScsiFlow flow;
    PduReader reader;
    Outbox outbox;
    final FakeUnit unit = new FakeUnit();
    int cmdSn = 1;

    /** A logical unit that counts what runs and lets a test act inside the inline attempt. */
    static final class FakeUnit implements LogicalUnit {
        final AtomicInteger executed = new AtomicInteger();
        volatile Consumer<ScsiTask> onTry = t -> { };

        @Override
        public ScsiResult execute(ScsiTask task) {
            executed.incrementAndGet();
            return ScsiResult.good();
        }

        @Override
        public ScsiResult tryExecute(ScsiTask task) {
            onTry.accept(task);
            return null; // storage would have to wait
        }

        @Override
        public long dataOutLength(ByteBuffer cdb) {
            return (cdb.get(0) & 0xff) == 0x2a ? (cdb.getShort(7) & 0xffff) * 512L : 0;
        }

        @Override
        public void reset(Nexus requester) {
        }

        @Override
        public void nexusLost(Nexus nexus) {
        }

        @Override
        public void notifyWhere(Asc condition, java.util.function.Predicate<io.clonetarget.server.scsi.Nexus> which) {
        }

        @Override
        public long capacity() {
            return 1 << 20;
        }

        @Override
        public LunIdentity identity() {
            return LunIdentity.fromSeed("fake", "fake");
        }

        @Override
        public void close() {
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        client = SocketChannel.open(listener.getLocalAddress());
        server = listener.accept();
        commands = Executors.newSingleThreadExecutor();
        background = Executors.newVirtualThreadPerTaskExecutor();
        timers = Executors.newSingleThreadScheduledExecutor();
        context = new ServerContext(TargetSettings.defaults(), ServerContext.Timeouts.defaults(),
                ConnectionLimits.defaults(), commands, background, timers, new BufferPool(64L << 20));
        Connection connection = new Connection(server, context);
        TargetNode target = new TargetNode("iqn.2026-12.io.clonetarget:race", null, null, null, Set.of());
        target.putLun(0, unit);
        SessionParameters params = new SessionParameters(false, false, 262_144, 262_144, 1 << 20, 262_144, false,
                true, 1, 2, 20, true, true, 0, 1);
        CommandSequencer sequencer = new CommandSequencer(1, 128);
        session = new Session(0x400001370001L, 1, "iqn.2026-12.io.clonetarget:initiator", null, null, target, params,
                sequencer, 1, context.dataBudget().session(64L << 20));
        reader = new PduReader(server, 262_144);
        outbox = new Outbox(server, "race", sequencer, e -> { });
        outbox.start(true);
        flow = new ScsiFlow(connection, session, context, reader, outbox);
    }

    @AfterEach
    void tearDown() throws Exception {
        outbox.abort();
        commands.shutdownNow();
        background.shutdownNow();
        timers.shutdownNow();
        client.close();
        server.close();
        listener.close();
    }

    /** Sends a WRITE(10) of {@code blocks} blocks with {@code immediate} bytes of immediate data, F set. */
    void sendWrite(int itt, int blocks, int immediate) throws IOException {
        ByteBuffer pdu = ByteBuffer.allocate(48 + immediate);
        pdu.put(0, (byte) 0x01).put(1, (byte) (0x80 | 0x20 | 0x01));
        pdu.putInt(16, itt).putInt(20, blocks * 512).putInt(24, cmdSn++).putInt(28, 0);
        pdu.put(32, (byte) 0x2a).putShort(32 + 7, (short) blocks);
        Bhs.setDataSegmentLength(pdu, immediate);
        while (pdu.hasRemaining()) {
            client.write(pdu);
        }
    }

    /** Reads the next PDU header as the connection's reader does and hands it to the flow. */
    void readCommand() throws Exception {
        ByteBuffer bhs = ByteBuffer.allocate(48);
        assertTrue(reader.readHeader(bhs));
        flow.command(bhs);
        if (reader.pendingDataLength() >= 0) {
            reader.skipData();
        }
    }

    void drainCommandPool() throws Exception {
        commands.submit(() -> { }).get(10, TimeUnit.SECONDS);
    }

    @Test
    void anAbortDuringTheInlineAttemptIsNeverUndone() throws Exception {
        // the abort arrives while the reader tries the command inline: it sees RUNNING and can only ask
        unit.onTry = task -> assertTrue(Session.abort((IscsiTask) task), "the abort is taken");
        sendWrite(0x10, 1, 512);
        readCommand();
        drainCommandPool();
        assertEquals(0, unit.executed.get(), "an aborted command must not run");
        assertTrue(session.tasks.isEmpty(), "the task is retired");
        assertEquals(0, session.sequencer().running(), "its slot in the window is free");
        assertEquals(0, session.budget().used(), "its data budget is given back");
    }

    @Test
    void abortingATaskThatReceivesDataLeavesItsBufferToTheReader() throws Exception {
        sendWrite(0x20, 8, 512); // 512 bytes now, 3.5 KiB to come after an R2T
        readCommand();
        IscsiTask task = session.tasks.get(0x20);
        assertNotNull(task);
        assertSame(IscsiTask.State.RECEIVING, task.state.get());
        ByteBuffer buffer = task.dataOut;
        assertNotNull(buffer);
        assertTrue(Session.abort(task));
        assertSame(buffer, task.dataOut, "task management never touches what the reader owns");
        assertSame(IscsiTask.State.ABORTED, task.state.get());
        assertEquals(0, session.budget().used(), "the abort gives the data budget back");
        assertTrue(session.tasks.isEmpty());
    }

    @Test
    void aCommandBeyondTheBudgetIsAnsweredTaskSetFullWithoutABuffer() throws Exception {
        // a session budget of 1 MiB: the hard mark is 2 MiB, and a 4 MiB write (8192 blocks) does not fit it
        session = new Session(0x400001370002L, 2, "iqn.2026-12.io.clonetarget:initiator", null, null, session.target(),
                session.parameters(), new CommandSequencer(cmdSn, 128), 1, context.dataBudget().session(1L << 20));
        flow = new ScsiFlow(new Connection(server, context), session, context, reader, outbox);
        sendWrite(0x30, 4096, 0); // 2 MiB: fits while the budget is empty
        readCommand();
        assertEquals(2L << 20, session.budget().used());
        assertTrue(session.budget().saturated(), "past the soft mark: the window stops growing");
        int before = session.sequencer().maxCmdSn();
        sendWrite(0x31, 16, 0);
        readCommand();
        IscsiTask full = session.tasks.get(0x31);
        assertTrue(full == null || full.full, "answered TASK SET FULL");
        assertEquals(2L << 20, session.budget().used(), "nothing more reserved");
        assertEquals(before, session.sequencer().maxCmdSn(), "MaxCmdSN held");
    }
}
