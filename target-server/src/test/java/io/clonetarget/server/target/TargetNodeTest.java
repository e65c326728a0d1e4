package io.clonetarget.server.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.Network;
import io.clonetarget.server.metrics.LunMetrics;
import io.clonetarget.server.scsi.Asc;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.scsi.LunIdentity;
import io.clonetarget.server.scsi.Nexus;
import io.clonetarget.server.scsi.ScsiResult;
import io.clonetarget.server.scsi.ScsiTask;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class TargetNodeTest {
    private static final String H1 = "iqn.2026-12.com.example:h1";
    private static final String H2 = "iqn.2026-12.com.example:h2";

    /** A unit that records for which nexuses a condition was raised. */
    private static final class Unit implements LogicalUnit {
        final List<String> raised = new ArrayList<>();
        final List<Nexus> known;

        Unit(Nexus... known) {
            this.known = List.of(known);
        }

        @Override
        public ScsiResult execute(ScsiTask task) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long dataOutLength(ByteBuffer cdb) {
            return 0;
        }

        @Override
        public void reset(Nexus requester) {
        }

        @Override
        public void nexusLost(Nexus nexus) {
        }

        @Override
        public void notifyWhere(Asc condition, Predicate<Nexus> which) {
            for (Nexus n : known) {
                if (which.test(n)) {
                    raised.add(n.initiatorName() + " " + condition);
                }
            }
        }

        @Override
        public long capacity() {
            return 1 << 20;
        }

        @Override
        public LunIdentity identity() {
            return null;
        }

        @Override
        public void close() {
        }
    }

    private static Nexus nexus(String initiator) {
        return Nexus.of(initiator, 1, "iqn.2026-12.com.example:t", 1);
    }

    private static TreeMap<Integer, TargetNode.Exported> map(Object... lunAndUnit) {
        TreeMap<Integer, TargetNode.Exported> m = new TreeMap<>();
        for (int i = 0; i < lunAndUnit.length; i += 2) {
            m.put((Integer) lunAndUnit[i], new TargetNode.Exported((LogicalUnit) lunAndUnit[i + 1], LunMetrics.NONE));
        }
        return m;
    }

    @Test
    void eachInitiatorResolvesLunsThroughItsOwnMap() {
        Unit shared = new Unit();
        Unit boot = new Unit();
        TargetNode t = new TargetNode("iqn.2026-12.com.example:t", null, TargetNode.Access.OPEN);
        t.setMaps(new TargetNode.Maps(map(0, shared), Map.of(H1, map(0, boot, 3, shared))));
        assertSame(boot, t.lun(H1, 0));
        assertSame(shared, t.lun(H1, 3));
        assertSame(shared, t.lun(H2, 0), "no map of its own: the default");
        assertNull(t.lun(H2, 3));
        assertNull(t.lun(H1, -1));
        assertEquals(Set.of(shared, boot), t.units());
    }

    @Test
    void aChangeNotifiesOnlyTheNexusesWhoseViewChanged() {
        Unit shared = new Unit(nexus(H1), nexus(H2));
        Unit boot = new Unit(nexus(H1));
        TargetNode t = new TargetNode("iqn.2026-12.com.example:t", null, TargetNode.Access.OPEN);
        t.setMaps(new TargetNode.Maps(map(0, shared), Map.of(H1, map(0, boot, 3, shared))));
        shared.raised.clear();
        boot.raised.clear();

        // host1's own map gains a LUN: host1 is told (on both units it keeps), host2 is not
        Unit extra = new Unit();
        Predicate<String> changed = t.setMaps(new TargetNode.Maps(map(0, shared),
                Map.of(H1, map(0, boot, 3, shared, 4, extra))));
        assertTrue(changed.test(H1));
        assertFalse(changed.test(H2));
        assertEquals(List.of(H1 + " REPORTED_LUNS_DATA_HAS_CHANGED"), shared.raised);
        assertEquals(List.of(H1 + " REPORTED_LUNS_DATA_HAS_CHANGED"), boot.raised);
        assertEquals(List.of(), extra.raised, "a unit new to it holds no state for its nexus");

        // the default map changes: host2 (and any other name without a map) is told, host1 is not
        shared.raised.clear();
        boot.raised.clear();
        changed = t.setMaps(new TargetNode.Maps(map(0, shared, 1, extra), Map.of(H1, map(0, boot, 3, shared, 4, extra))));
        assertFalse(changed.test(H1));
        assertTrue(changed.test(H2));
        assertTrue(changed.test("iqn.2026-12.com.example:anyone"));
        assertEquals(List.of(H2 + " REPORTED_LUNS_DATA_HAS_CHANGED"), shared.raised);
        assertEquals(List.of(), boot.raised);

        // the same maps again: nobody is told
        shared.raised.clear();
        changed = t.setMaps(new TargetNode.Maps(map(0, shared, 1, extra), Map.of(H1, map(0, boot, 3, shared, 4, extra))));
        assertFalse(changed.test(H1) || changed.test(H2));
        assertEquals(List.of(), shared.raised);
    }

    @Test
    void accessByNameAndNetwork() throws Exception {
        Network lan = Network.parse("192.0.2.0/24");
        TargetNode t = new TargetNode("iqn.2026-12.com.example:t", null,
                new TargetNode.Access(null, null, Set.of(H1), List.of(lan::contains)));
        assertTrue(t.admits(H1, InetAddress.ofLiteral("192.0.2.7")));
        assertTrue(t.admits(H1, InetAddress.ofLiteral("::ffff:192.0.2.7")), "an IPv4-mapped peer is the IPv4 address");
        assertFalse(t.admits(H1, InetAddress.ofLiteral("198.51.100.1")), "the name is right, the network is not");
        assertFalse(t.admits(H2, InetAddress.ofLiteral("192.0.2.7")), "the network is right, the name is not");
        assertFalse(t.admits(H1, null), "an unknown address passes no network rule");
        t.setAccess(TargetNode.Access.OPEN);
        assertTrue(t.admits(H2, null), "replaced live: open now");
    }
}
