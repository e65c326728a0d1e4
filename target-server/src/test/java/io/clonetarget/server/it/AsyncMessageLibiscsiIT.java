package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.OpenVolume;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.session.Session;
import io.clonetarget.server.target.LunAddress;
import io.clonetarget.storage.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What libiscsi (the client of the conformance runs) does with our Asynchronous Messages, on a
 * live {@code iscsi-perf} run: a SCSI event is logged and ignored, a logout request is answered
 * with a Logout (close the session) after which libiscsi logs in again, and the run ends without
 * a failed command.
 */
class AsyncMessageLibiscsiIT {
    @TempDir
    Path dir;

    /** A device that counts the reads it serves (inline or not), to know iscsi-perf's reads have begun. */
    static final class CountingDevice implements BlockDevice {
        final BlockDevice inner;
        final AtomicLong reads = new AtomicLong();

        CountingDevice(BlockDevice inner) {
            this.inner = inner;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            inner.read(offset, dst);
            reads.incrementAndGet();
        }

        @Override
        public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
            boolean done = inner.tryRead(offset, dst);
            if (done) {
                reads.incrementAndGet();
            }
            return done;
        }

        @Override public long size() { return inner.size(); }
        @Override public int logicalBlockSize() { return inner.logicalBlockSize(); }
        @Override public int physicalBlockSize() { return inner.physicalBlockSize(); }
        @Override public boolean isReadOnly() { return inner.isReadOnly(); }
        @Override public void write(long o, ByteBuffer s, boolean f) throws IOException { inner.write(o, s, f); }
        @Override public void flush() throws IOException { inner.flush(); }
        @Override public void discard(long o, long l) throws IOException { inner.discard(o, l); }
        @Override public void writeZeroes(long o, long l) throws IOException { inner.writeZeroes(o, l); }
        @Override public String describe() { return "counted " + inner.describe(); }
        @Override public void close() throws IOException { inner.close(); }
    }

    @Test
    void libiscsiIgnoresScsiEventsAndLogsOutAndBackInWhenAsked() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-perf");
        CountingDevice[] device = new CountingDevice[1];
        TestTarget.start(dir, 16L << 20, 1).close(); // makes the image file
        try (TestTarget t = TestTarget.start(dir, TestTarget.config(dir, TestTarget.oneFile(dir, 16L << 20),
                List.of(new io.clonetarget.config.LunConfig(0, "v0"))), v -> {
                    OpenVolume plain = Volumes.open(v);
                    device[0] = new CountingDevice(plain.device());
                    return new OpenVolume(v.name(), device[0], plain.identity(), device[0], device[0].describe());
                })) {
            ProcessBuilder pb = new ProcessBuilder(List.of("iscsi-perf", "-t", "8", "-m", "8", "-b", "8", t.url(0)))
                    .redirectErrorStream(true);
            pb.environment().put("LIBISCSI_DEBUG", "2"); // libiscsi's own log lines, on stderr
            Process perf = pb.start();
            perf.getOutputStream().close();
            byte[][] out = new byte[1][];
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    out[0] = perf.getInputStream().readAllBytes();
                } catch (IOException e) {
                    out[0] = ("(output lost: " + e + ")").getBytes(StandardCharsets.UTF_8);
                }
            });
            try {
                Session first = awaitSession(t, -1);
                assertTrue(AsyncMessageIT.await(() -> device[0].reads.get() >= 1000, Duration.ofSeconds(10)),
                        "iscsi-perf's reads are running");
                byte[] sense = SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed();
                assertTrue(AsyncMessageIT.await(() -> first.sendScsiEvent(LunAddress.encode(0), sense),
                        Duration.ofSeconds(10)), "sent once the session is in full feature phase");
                assertTrue(first.requestLogout("libiscsi check", Duration.ofSeconds(5)));
                Session second = awaitSession(t, first.tsih());
                assertNotEquals(first.tsih(), second.tsih(), "a new session after the logout");
                assertTrue(perf.waitFor(30, TimeUnit.SECONDS), "iscsi-perf ends after its 8 s");
            } finally {
                if (perf.isAlive()) {
                    perf.destroyForcibly(); // (on a process that ended, it would close the output still being read)
                }
            }
            reader.join();
            String output = new String(out[0], StandardCharsets.UTF_8);
            assertEquals(0, perf.exitValue(), output);
            assertTrue(output.contains("Ignoring received iSCSI AsyncMsg/SCSI Async Event"), output);
            assertTrue(output.contains("target requests logout within 5 seconds"), output);
            assertTrue(output.contains("logout successful"), output);
            assertTrue(output.contains("reconnect was successful"), output);
            assertTrue(output.contains("finished."), output);
        }
    }

    /** Waits for a session whose TSIH is not {@code not}. */
    private static Session awaitSession(TestTarget t, int not) {
        Session[] found = new Session[1];
        assertTrue(AsyncMessageIT.await(() -> {
            for (Session s : t.server.context().sessions().all()) {
                if (s.tsih() != not && !s.discovery()) {
                    found[0] = s;
                    return true;
                }
            }
            return false;
        }, Duration.ofSeconds(15)), "a session logged in");
        return found[0];
    }
}
