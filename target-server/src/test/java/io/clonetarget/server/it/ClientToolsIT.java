package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** libiscsi's command line clients against the target. */
class ClientToolsIT {
    static final Duration T = Duration.ofSeconds(30);
    @TempDir
    static Path dir;
    static TestTarget target;

    @BeforeAll
    static void start() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-inq", "iscsi-ls", "iscsi-readcapacity16");
        target = TestTarget.start(dir, 256L << 20, 2);
    }

    @AfterAll
    static void stop() {
        if (target != null) {
            target.close();
        }
    }

    @Test
    void iscsiLsDiscoversTheTargetAndItsLuns() throws Exception {
        String out = Tools.ok(T, "iscsi-ls", "-s", "iscsi://" + target.portal());
        assertTrue(out.contains("Target:" + TestTarget.IQN + " Portal:" + target.portal() + ",1"), out);
        assertTrue(out.contains("Lun:0    Type:DIRECT_ACCESS"), out);
        assertTrue(out.contains("Lun:1    Type:DIRECT_ACCESS"), out);
    }

    @Test
    void iscsiInqShowsStandardAndVpdData() throws Exception {
        String std = Tools.ok(T, "iscsi-inq", target.url(0));
        assertTrue(std.contains("Vendor:CLONETGT"), std);
        assertTrue(std.contains("Peripheral Device Type:DIRECT_ACCESS"), std);
        assertTrue(std.contains("Version Descriptor:0460 SPC-4"), std);
        String serial = Tools.ok(T, "iscsi-inq", "-e", "1", "-c", "128", target.url(0));
        assertTrue(serial.matches("(?s)Unit Serial Number:\\[[0-9a-f]{24}\\].*"), serial);
        String ids = Tools.ok(T, "iscsi-inq", "-e", "1", "-c", "131", target.url(0));
        assertEquals(6, ids.split("DEVICE DESIGNATOR #", -1).length - 1, "exactly our 6 designators:\n" + ids);
        assertTrue(ids.contains("Designator Type:(3) NAA"), ids);
        assertTrue(ids.contains("Designator:[" + TestTarget.IQN + ",t,0x0001]"), ids);
        assertTrue(ids.contains("Designator Type:(4) RELATIVE_TARGET_PORT"), ids);
        assertTrue(ids.contains("Designator Type:(5) TARGET_PORT_GROUP"), ids);
        String limits = Tools.ok(T, "iscsi-inq", "-e", "1", "-c", "176", target.url(0));
        assertTrue(limits.contains("maximum transfer length:16384"), limits);
        assertTrue(limits.contains("maximum unmap lba count:1048576"), limits);
    }

    @Test
    void iscsiReadCapacity16ReportsSizeThinProvisioningAndOneLogicalBlockPerPhysicalBlock() throws Exception {
        String out = Tools.ok(T, "iscsi-readcapacity16", target.url(1));
        assertTrue(out.contains("Total size:268435456"), out);
        assertTrue(out.contains("LOGICAL BLOCK LENGTH IN BYTES:512"), out);
        assertTrue(out.contains("LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:0"), out);
        assertTrue(out.contains("LBPME:1 LBPRZ:1"), out);
    }

    @Test
    void aMissingLunIsReportedAsSuch() throws Exception {
        Tools.Result r = Tools.run(T, "iscsi-readcapacity16", target.url(7));
        assertTrue(r.exitCode() != 0, r.output());
    }
}
