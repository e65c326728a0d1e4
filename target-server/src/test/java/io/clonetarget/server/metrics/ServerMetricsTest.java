package io.clonetarget.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerMetricsTest {
    private static String text(ServerMetrics m) {
        return new String(m.scrape(), StandardCharsets.UTF_8);
    }

    @Test
    void commandsAreCountedPerLunKindAndLatencyBucket() {
        ServerMetrics m = new ServerMetrics();
        LunMetrics lun = m.lun("iqn.2026-12.io.clonetarget:t", "db");
        lun.completed(LunMetrics.Op.READ, 4096, false, 80_000); // 80 us
        lun.completed(LunMetrics.Op.WRITE, 8192, false, 2_000_000);
        lun.completed(LunMetrics.Op.OTHER, 0, true, 10_000);
        String t = text(m);
        String l = "op=\"read\",target=\"iqn.2026-12.io.clonetarget:t\",volume=\"db\"";
        assertTrue(t.contains("clonetarget_lun_commands_total{" + l + "} 1.0"), t);
        assertTrue(t.contains("clonetarget_lun_bytes_total{" + l + "} 4096.0"), t);
        assertTrue(t.contains("clonetarget_lun_errors_total{target=\"iqn.2026-12.io.clonetarget:t\",volume=\"db\"} 1.0"), t);
        assertTrue(t.contains("clonetarget_lun_command_seconds_bucket{" + l + ",le=\"5.0E-5\"} 0"), t);
        assertTrue(t.contains("clonetarget_lun_command_seconds_bucket{" + l + ",le=\"1.0E-4\"} 1"), t);
        assertTrue(t.contains("# TYPE clonetarget_lun_command_seconds histogram"), t);
        var stats = m.lunStats();
        assertEquals(1, stats.size());
        var st = stats.getFirst();
        assertEquals(List.of("iqn.2026-12.io.clonetarget:t", "db", 1L, 1L, 1L, 4096L, 8192L, 1L),
                List.of(st.target(), st.volume(), st.reads(), st.writes(), st.other(), st.readBytes(), st.writeBytes(),
                        st.errors()));
        assertEquals(80.0, st.meanReadMicros(), 0.01);
        assertEquals(2000.0, st.meanWriteMicros(), 0.01);
        lun.close();
        assertTrue(!text(m).contains("volume=\"db\""), "an unexported volume's series are dropped");
        assertEquals(List.of(), m.lunStats());
    }

    @Test
    void aSessionsSeriesGoWhenItEnds() {
        ServerMetrics m = new ServerMetrics();
        SessionMetrics s = m.session("iqn.2026-12.io.clonetarget:t", "iqn.1993-08.org.debian:01:h", 0x400001370001L);
        s.completed(LunMetrics.Op.WRITE, 512);
        s.digestError();
        String t = text(m);
        assertTrue(t.contains("clonetarget_session_commands_total{initiator=\"iqn.1993-08.org.debian:01:h\","
                + "isid=\"400001370001\",target=\"iqn.2026-12.io.clonetarget:t\"} 1.0"), t);
        assertTrue(t.contains("clonetarget_session_digest_errors_total{"), t);
        s.close();
        assertFalse(text(m).contains("isid=\"400001370001\""), "no series of an ended session");
    }

    @Test
    void clonesAndLoginsAreReported() {
        ServerMetrics m = new ServerMetrics();
        m.clones(() -> List.of(new ServerMetrics.CloneFigures("vm1", 1 << 30, 1 << 20, 200 << 20, 2)));
        m.login(null);
        m.login("AUTHENTICATION_FAILURE");
        m.login("AUTHENTICATION_FAILURE");
        String t = text(m);
        assertTrue(t.contains("clonetarget_clone_hydrated_bytes{volume=\"vm1\"} 1048576"), t);
        assertTrue(t.contains("clonetarget_clone_size_bytes{volume=\"vm1\"} 1.073741824E9"), t);
        assertTrue(t.contains("clonetarget_logins_total{reason=\"AUTHENTICATION_FAILURE\",result=\"failure\"} 2.0"), t);
    }

    @Test
    void nothingIsCountedOutsideAServer() {
        LunMetrics.NONE.completed(LunMetrics.Op.READ, 1, true, 1);
        SessionMetrics.NONE.completed(LunMetrics.Op.READ, 1);
        SessionMetrics.NONE.close();
        assertEquals(LunMetrics.Op.READ, LunMetrics.of(0x88));
        assertEquals(LunMetrics.Op.WRITE, LunMetrics.of(0x2a));
        assertEquals(LunMetrics.Op.OTHER, LunMetrics.of(0x35));
    }
}
