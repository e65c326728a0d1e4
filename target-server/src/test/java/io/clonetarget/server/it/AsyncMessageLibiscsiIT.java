package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.SenseData;
import io.clonetarget.server.session.Session;
import io.clonetarget.server.target.LunAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    @Test
    void libiscsiIgnoresScsiEventsAndLogsOutAndBackInWhenAsked() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-perf");
        try (TestTarget t = TestTarget.start(dir, 16L << 20, 1)) {
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
                    out[0] = new byte[0];
                }
            });
            try {
                Session first = awaitSession(t, -1);
                byte[] sense = SenseData.of(Asc.REPORTED_LUNS_DATA_HAS_CHANGED).fixed();
                assertTrue(AsyncMessageIT.await(() -> first.sendScsiEvent(LunAddress.encode(0), sense),
                        Duration.ofSeconds(10)), "sent once the session is in full feature phase");
                assertTrue(first.requestLogout("libiscsi check", Duration.ofSeconds(5)));
                Session second = awaitSession(t, first.tsih());
                assertNotEquals(first.tsih(), second.tsih(), "a new session after the logout");
                assertTrue(perf.waitFor(30, TimeUnit.SECONDS), "iscsi-perf ends after its 8 s");
            } finally {
                perf.destroyForcibly();
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
