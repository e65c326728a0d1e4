package io.clonetarget.server.scsi;

import static io.clonetarget.server.scsi.BlockLogicalUnitTest.assertSense;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Implicit ALUA: one target port group, active/optimized, the same answer on every path. */
class PortGroupsTest {
    final BlockLogicalUnit lu = new BlockLogicalUnit("t", new MemoryBlockDevice(1 << 20, 512),
            LunIdentity.fromSeed("t", "disk"), false, new HeapBuffers());

    private ByteBuffer run(Nexus n, String cdb) {
        ScsiResult r = lu.execute(FakeTask.of(n, cdb, null));
        if (!r.isGood()) { // the power-on unit attention of a nexus new to the unit
            r = lu.execute(FakeTask.of(n, cdb, null));
        }
        assertTrue(r.isGood());
        return r.dataIn();
    }

    @Test
    void inquiryClaimsImplicitAlua() {
        ByteBuffer std = run(FakeTask.NEXUS, "12 00 00 00 ff 00");
        assertEquals(0x10, std.get(5) & 0x30, "TPGS 01b: implicit only");
    }

    @Test
    void everyPathGetsTheSameGroupActiveOptimized() {
        ByteBuffer one = run(FakeTask.NEXUS, "a3 0a 00 00 00 00 00 00 01 00 00 00");
        ByteBuffer two = run(FakeTask.OTHER, "a3 0a 00 00 00 00 00 00 01 00 00 00");
        assertEquals(one, two);
        assertEquals(12, one.getInt(0), "one descriptor of one target port");
        assertEquals(0x80, one.get(4) & 0x8f, "PREF, active/optimized");
        assertEquals(0x01, one.get(5), "AO_SUP only");
        assertEquals(PortGroups.GROUP, one.getShort(6));
        assertEquals(1, one.get(11), "TARGET PORT COUNT");
        assertEquals(FakeTask.NEXUS.relativeTargetPort(), one.getShort(14));
        ByteBuffer extended = run(FakeTask.NEXUS, "a3 2a 00 00 00 00 00 00 01 00 00 00");
        assertEquals(0x10, extended.get(4) & 0x70, "FORMAT TYPE 001b");
        assertEquals(one.slice(4, 12), extended.slice(8, 12));
        assertSense(lu.execute(FakeTask.of(FakeTask.NEXUS, "a3 4a 00 00 00 00 00 00 01 00 00 00", null)),
                Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void theDeviceIdentificationNamesTheTargetPortAndItsGroup() {
        ByteBuffer id = run(FakeTask.NEXUS, "12 01 83 01 00 00");
        boolean relativePort = false;
        boolean group = false;
        for (int at = 4; at + 4 <= id.remaining(); at += 4 + (id.get(at + 3) & 0xff)) {
            int association = (id.get(at + 1) >>> 4) & 3;
            int type = id.get(at + 1) & 0x0f;
            if (association == 1 && type == 4) {
                relativePort = id.getShort(at + 6) == FakeTask.NEXUS.relativeTargetPort();
            }
            if (association == 1 && type == 5) {
                group = id.getShort(at + 6) == PortGroups.GROUP;
            }
        }
        assertTrue(relativePort, "relative target port designator");
        assertTrue(group, "target port group designator");
    }
}
