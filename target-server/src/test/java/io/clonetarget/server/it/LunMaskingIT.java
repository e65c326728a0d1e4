package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ConfigFiles;
import io.clonetarget.server.cli.ExitCodes;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LUN masking seen by a real client (libiscsi): two initiator names on one target see exactly
 * their own LUN maps (numbers and sizes), a third name sees the default map, a name the ACL does
 * not admit is refused and not even shown the target in discovery, and a map changed live with
 * {@code lun map --initiator} is what that initiator's next REPORT LUNS returns.
 */
class LunMaskingIT {
    private static final Duration T = Duration.ofSeconds(30);
    private static final String TARGET = "iqn.2026-12.io.clonetarget:shared";
    private static final String H1 = "iqn.2026-12.com.example:host1";
    private static final String H2 = "iqn.2026-12.com.example:host2";
    private static final String H3 = "iqn.2026-12.com.example:host3";
    private static final String STRANGER = "iqn.2026-12.com.example:stranger";

    @TempDir
    Path dir;

    private String config() {
        return """
                [server]
                listen = ["127.0.0.1:0"]
                state-dir = "%1$s"
                io-threads = 4

                [admin]
                listen = "127.0.0.1:0"

                [[volume]]
                name = "boot1"
                path = "%1$s/boot1.img"
                size = "4M"

                [[volume]]
                name = "boot2"
                path = "%1$s/boot2.img"
                size = "8M"

                [[volume]]
                name = "shared"
                path = "%1$s/shared.img"
                size = "16M"

                [[target]]
                iqn = "%2$s"
                allowed-initiators = ["%3$s", "%4$s", "%5$s"]
                [[target.lun]]
                lun = 0
                volume = "shared"

                [[target.initiator]]
                name = "%3$s"
                [[target.initiator.lun]]
                lun = 0
                volume = "boot1"
                [[target.initiator.lun]]
                lun = 1
                volume = "shared"

                [[target.initiator]]
                name = "%4$s"
                [[target.initiator.lun]]
                lun = 0
                volume = "boot2"
                [[target.initiator.lun]]
                lun = 5
                volume = "shared"
                """.formatted(dir, TARGET, H1, H2, H3);
    }

    /**
     * LUN number and size in MiB, as {@code iscsi-ls -s} reports them for one initiator name (it
     * multiplies the last LBA, not the block count, by the block size: 4M shows as 3M).
     */
    private static List<String> luns(TestTarget t, String initiator) throws Exception {
        String out = Tools.ok(T, "iscsi-ls", "-s", "-i", initiator, "iscsi://" + t.portal());
        List<String> found = new ArrayList<>();
        Matcher m = Pattern.compile("Lun:(\\d+)\\s+Type:DIRECT_ACCESS \\(Size:(\\d+)M\\)").matcher(out);
        while (m.find()) {
            found.add(m.group(1) + ":" + m.group(2) + "M");
        }
        assertFalse(found.isEmpty() && !out.contains(TARGET), out);
        return found;
    }

    @Test
    void everyInitiatorSeesItsOwnMap() throws Exception {
        Tools.require("libiscsi-bin", "iscsi-ls", "iscsi-inq");
        try (TestTarget t = TestTarget.start(dir, ConfigFiles.parse(config(), "masking"),
                io.clonetarget.server.Volumes::open)) {
            assertEquals(List.of("0:3M", "1:15M"), luns(t, H1));
            assertEquals(List.of("0:7M", "5:15M"), luns(t, H2));
            assertEquals(List.of("0:15M"), luns(t, H3), "no map of its own: the default one");

            // a name the ACL does not admit: discovery does not show the target, login is refused 02/02
            String hidden = Tools.ok(T, "iscsi-ls", "-i", STRANGER, "iscsi://" + t.portal());
            assertFalse(hidden.contains(TARGET), hidden);
            Tools.Result refused = Tools.run(T, "iscsi-inq", "-i", STRANGER, "iscsi://" + t.portal() + "/" + TARGET + "/0");
            assertTrue(refused.exitCode() != 0, refused.toString());

            // the same LUN number is another disk for each of them (the data differs)
            String inq1 = Tools.ok(T, "iscsi-inq", "-i", H1, "-e", "1", "-c", "128", "iscsi://" + t.portal() + "/" + TARGET + "/0");
            String inq2 = Tools.ok(T, "iscsi-inq", "-i", H2, "-e", "1", "-c", "128", "iscsi://" + t.portal() + "/" + TARGET + "/0");
            assertFalse(inq1.equals(inq2), "LUN 0 of host1 and of host2 have different serial numbers: " + inq1 + inq2);
            // and the shared volume is one logical unit whatever number a host gives it
            String shared1 = Tools.ok(T, "iscsi-inq", "-i", H1, "-e", "1", "-c", "128", "iscsi://" + t.portal() + "/" + TARGET + "/1");
            String shared2 = Tools.ok(T, "iscsi-inq", "-i", H2, "-e", "1", "-c", "128", "iscsi://" + t.portal() + "/" + TARGET + "/5");
            assertEquals(shared1, shared2);

            // a live change of host2's map is what host2 sees next, and host1's view stays
            Object[] r = CloneIT.cli("lun", "map", TARGET, "boot1", "--lun", "7", "--initiator", H2, "--state-dir",
                    dir.toString());
            assertEquals(ExitCodes.OK, r[0], r[1] + " " + r[2]);
            assertTrue(r[1].toString().contains("+ lun 7 of " + TARGET + " (map of " + H2 + "): volume boot1"), r[1].toString());
            assertEquals(List.of("0:7M", "5:15M", "7:3M"), luns(t, H2));
            assertEquals(List.of("0:3M", "1:15M"), luns(t, H1));
            Object[] list = CloneIT.cli("lun", "list", TARGET, "--state-dir", dir.toString());
            assertEquals(ExitCodes.OK, list[0], list[2].toString());
            assertTrue(list[1].toString().matches("(?s).*" + Pattern.quote(TARGET) + "\\s+" + Pattern.quote(H2)
                    + "\\s+7\\s+boot1.*"), list[1].toString());
        }
    }
}
