package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PersistentReservationsTest {
    BlockLogicalUnit lu;
    static final Nexus A = FakeTask.NEXUS;
    static final Nexus B = FakeTask.OTHER;
    /** A third initiator that never registers. */
    static final Nexus C = Nexus.of("iqn.1993-08.org.debian:01:c", 0x9abc, A.targetName(), 1);

    @BeforeEach
    void setUp() {
        lu = new BlockLogicalUnit("pr", new MemoryBlockDevice(1 << 20, 512), LunIdentity.fromSeed("s", "t"), false,
                new HeapBuffers());
    }

    private ScsiResult out(Nexus n, int action, int type, long key, long saKey) {
        ByteBuffer p = ByteBuffer.allocateDirect(24);
        p.putLong(0, key).putLong(8, saKey);
        String cdb = String.format("5f %02x %02x 00 00 00 00 00 18 00", action, type);
        return lu.execute(FakeTask.of(n, cdb, p));
    }

    private ScsiStatus tur(Nexus n) {
        return lu.execute(FakeTask.of(n, "00 00 00 00 00 00", null)).status();
    }

    private List<Long> keys(Nexus n) {
        ByteBuffer b = in(n, 0);
        List<Long> keys = new ArrayList<>();
        for (int i = 0; i < b.getInt(4) / 8; i++) {
            keys.add(b.getLong(8 + 8 * i));
        }
        return keys;
    }

    private ByteBuffer in(Nexus n, int action) {
        ScsiResult r = lu.execute(FakeTask.of(n, String.format("5e %02x 00 00 00 00 00 10 00 00", action), null));
        assertTrue(r.isGood(), "PR IN " + action);
        return r.dataIn();
    }

    private ScsiStatus write(Nexus n) {
        ByteBuffer b = ByteBuffer.allocateDirect(512);
        return lu.execute(FakeTask.of(n, "2a 00 00 00 00 00 00 00 01 00", b)).status();
    }

    private ScsiStatus read(Nexus n) {
        return lu.execute(FakeTask.of(n, "28 00 00 00 00 00 00 00 01 00", null)).status();
    }

    @Test
    void registerReserveAndConflicts() {
        assertTrue(out(A, 0, 0, 0, 0xa).isGood());
        assertTrue(out(B, 0, 0, 0, 0xb).isGood());
        ByteBuffer keys = in(A, 0);
        assertEquals(16, keys.getInt(4));
        assertEquals(2, keys.getInt(0), "generation counts registrations");
        assertTrue(out(A, 1, Reservations.WRITE_EXCLUSIVE, 0xa, 0).isGood());
        ByteBuffer res = in(B, 1);
        assertEquals(16, res.getInt(4));
        assertEquals(0xa, res.getLong(8));
        assertEquals(Reservations.WRITE_EXCLUSIVE, res.get(21));
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, write(B));
        assertEquals(ScsiStatus.GOOD, read(B), "write exclusive lets others read");
        assertEquals(ScsiStatus.GOOD, write(A));
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, out(B, 1, Reservations.WRITE_EXCLUSIVE, 0xb, 0).status());
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, out(B, 0, 0, 0xbad, 0xc).status(), "wrong key");
        assertTrue(out(A, 2, Reservations.WRITE_EXCLUSIVE, 0xa, 0).isGood());
        assertEquals(ScsiStatus.GOOD, write(B));
    }

    @Test
    void exclusiveAccessBlocksReadsToo() {
        out(A, 0, 0, 0, 1);
        out(A, 1, Reservations.EXCLUSIVE_ACCESS, 1, 0);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, read(B));
        assertEquals(ScsiStatus.GOOD, lu.execute(FakeTask.of(B, "00 00 00 00 00 00", null)).status(), "TUR allowed");
    }

    @Test
    void releaseWithTheWrongTypeIsInvalid() {
        out(A, 0, 0, 0, 1);
        out(A, 1, Reservations.WRITE_EXCLUSIVE, 1, 0);
        ScsiResult r = out(A, 2, Reservations.EXCLUSIVE_ACCESS, 1, 0);
        BlockLogicalUnitTest.assertSense(r, Asc.INVALID_RELEASE_OF_PERSISTENT_RESERVATION);
    }

    @Test
    void unregisteringTheHolderReleasesWithUnitAttentionOnlyForRegistrantsOnlyTypes() {
        out(A, 0, 0, 0, 1);
        out(B, 0, 0, 0, 2);
        out(A, 1, Reservations.WRITE_EXCLUSIVE, 1, 0);
        out(A, 0, 0, 1, 0);
        assertEquals(0, in(B, 1).getInt(4), "no reservation");
        assertTrue(lu.execute(FakeTask.of(A, "00 00 00 00 00 00", null)).isGood(), "no UA for the unregistering nexus");
        assertTrue(lu.execute(FakeTask.of(B, "00 00 00 00 00 00", null)).isGood(), "no UA for plain write exclusive");

        out(A, 0, 0, 0, 1);
        out(A, 1, Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, 1, 0);
        out(A, 0, 0, 1, 0);
        assertTrue(lu.execute(FakeTask.of(A, "00 00 00 00 00 00", null)).isGood());
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(B, "00 00 00 00 00 00", null)),
                Asc.RESERVATIONS_RELEASED);
    }

    @Test
    void preemptTakesOverAndClearRemovesEverything() {
        out(A, 0, 0, 0, 1);
        out(B, 0, 0, 0, 2);
        out(A, 1, Reservations.EXCLUSIVE_ACCESS, 1, 0);
        assertTrue(out(B, 4, Reservations.EXCLUSIVE_ACCESS, 2, 1).isGood());
        ByteBuffer res = in(B, 1);
        assertEquals(2, res.getLong(8), "B holds it now");
        ByteBuffer keys = in(B, 0);
        assertEquals(8, keys.getInt(4), "A's registration is gone");
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(A, "00 00 00 00 00 00", null)),
                Asc.REGISTRATIONS_PREEMPTED);
        assertTrue(out(B, 3, 0, 2, 0).isGood());
        assertEquals(0, in(B, 0).getInt(4));
    }

    @Test
    void allRegistrantsTypeMakesEveryRegistrantAHolder() {
        out(A, 0, 0, 0, 1);
        out(B, 0, 0, 0, 2);
        out(A, 1, Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, 1, 0);
        assertEquals(0, in(A, 1).getLong(8), "key 0 for all-registrants reservations");
        assertEquals(ScsiStatus.GOOD, write(B));
        Nexus c = Nexus.of("iqn.1993-08.org.debian:01:c", 9, A.targetName(), 1);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, read(c));
    }

    @Test
    void reportCapabilitiesAndFullStatus() {
        ByteBuffer caps = in(A, 2);
        assertEquals(8, caps.getShort(0));
        assertEquals(0x04, caps.get(2) & 0xff, "ATP_C only: no CRH, no SIP_C, no PTPL_C without a store");
        assertEquals(0x90, caps.get(3) & 0xff, "TMV, ALLOW COMMANDS 001b, PTPL_A off");
        assertEquals(0xea01, caps.getShort(4) & 0xffff, "every type");
        out(A, 0, 0, 0, 7);
        ByteBuffer full = in(A, 3);
        assertTrue(full.getInt(4) >= 24);
        assertEquals(7, full.getLong(8));
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(A, "5e 04 00 00 00 00 00 10 00 00", null)),
                Asc.INVALID_FIELD_IN_CDB);
    }

    @Test
    void parameterListMustBe24BytesAndAptplIsRefused() {
        ByteBuffer p = ByteBuffer.allocateDirect(24);
        p.putLong(8, 5);
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(A, "5f 00 00 00 00 00 00 00 10 00", p)),
                Asc.PARAMETER_LIST_LENGTH_ERROR);
        p.put(20, (byte) 1);
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(A, "5f 00 00 00 00 00 00 00 18 00", p)),
                Asc.INVALID_FIELD_IN_PARAMETER_LIST);
        assertEquals(20, BlockLogicalUnitTest.fieldPointer(lu.execute(FakeTask.of(A, "5f 06 00 00 00 00 00 00 18 00", p))),
                "APTPL refused for REGISTER AND IGNORE EXISTING KEY too, pointing at byte 20");
        assertEquals(List.of(), keys(A), "nothing registered");
    }

    static final int[] TYPES = {Reservations.WRITE_EXCLUSIVE, Reservations.EXCLUSIVE_ACCESS,
        Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, Reservations.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
        Reservations.WRITE_EXCLUSIVE_ALL_REGISTRANTS, Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS};

    static Stream<Arguments> typesAndPreempts() {
        return Stream.of(4, 5).flatMap(action -> java.util.Arrays.stream(TYPES).mapToObj(t -> Arguments.of(t, action)));
    }

    /**
     * What Failover Clustering validation (MS-CSVP) does, for every type since it does not say
     * which it uses: Clear, register both nodes with REGISTER AND IGNORE EXISTING KEY, reserve by
     * node A, node B preempts, both see B's reservation, an unregistered third initiator is kept
     * out, and key 0 unregisters.
     */
    @ParameterizedTest(name = "type {0}, action {1}")
    @MethodSource("typesAndPreempts")
    void failoverClusterSequence(int type, int preemptAction) {
        boolean allRegistrants = type == Reservations.WRITE_EXCLUSIVE_ALL_REGISTRANTS
                || type == Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
        boolean exclusiveAccess = type == Reservations.EXCLUSIVE_ACCESS
                || type == Reservations.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY
                || type == Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
        // a previous owner's leftovers, which Clear removes
        assertTrue(out(C, 6, 0, 0, 0xcc).isGood());
        assertTrue(out(C, 1, type, 0xcc, 0).isGood());
        assertTrue(out(A, 6, 0, 0, 0xa1).isGood(), "register and ignore existing key");
        assertTrue(out(A, 3, 0, 0xa1, 0).isGood(), "clear");
        assertEquals(List.of(), keys(A));
        assertEquals(0, in(A, 1).getInt(4), "no reservation after clear");
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(C, "00 00 00 00 00 00", null)),
                Asc.RESERVATIONS_PREEMPTED);

        assertTrue(out(A, 6, 0, 0, 0xa1).isGood());
        assertTrue(out(B, 6, 0, 0xdead, 0xb2).isGood(), "the existing key (none) is ignored");
        assertEquals(List.of(0xa1L, 0xb2L), keys(B));
        assertTrue(out(A, 1, type, 0xa1, 0).isGood(), "reserve by A");
        int generation = in(A, 0).getInt(0);
        assertTrue(out(A, 1, type, 0xa1, 0).isGood(), "the holder repeating its reservation");
        assertEquals(generation, in(A, 0).getInt(0), "a repeated reserve changes nothing");
        for (Nexus n : List.of(A, B)) {
            ByteBuffer r = in(n, 1);
            assertEquals(16, r.getInt(4), "both nodes see the reservation");
            assertEquals(allRegistrants ? 0 : 0xa1, r.getLong(8));
            assertEquals(type, r.get(21));
        }

        assertTrue(out(B, preemptAction, type, 0xb2, 0xa1).isGood(), "B preempts A");
        BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(A, "00 00 00 00 00 00", null)),
                Asc.REGISTRATIONS_PREEMPTED);
        assertEquals(List.of(0xb2L), keys(A), "A's registration is gone");
        for (Nexus n : List.of(A, B)) {
            ByteBuffer r = in(n, 1);
            assertEquals(16, r.getInt(4), "a reservation is present, seen from " + n.initiatorPort());
            assertEquals(allRegistrants ? 0 : 0xb2, r.getLong(8), "held by B");
            assertEquals(type, r.get(21));
        }
        ByteBuffer full = in(A, 3);
        assertEquals(1, full.get(8 + 12) & 1, "READ FULL STATUS: B holds it");
        assertEquals(ScsiStatus.GOOD, write(B), "the holder writes");
        assertEquals(ScsiStatus.GOOD, read(B));
        for (Nexus outsider : List.of(A, C)) {
            assertEquals(ScsiStatus.RESERVATION_CONFLICT, write(outsider), "an unregistered initiator's write");
            assertEquals(exclusiveAccess ? ScsiStatus.RESERVATION_CONFLICT : ScsiStatus.GOOD, read(outsider));
            assertEquals(ScsiStatus.GOOD, tur(outsider), "TEST UNIT READY passes (ALLOW COMMANDS 001b)");
        }
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, out(A, 1, type, 0xa1, 0).status(), "A cannot reserve");

        assertTrue(out(B, 6, 0, 0, 0).isGood(), "unregister with key 0");
        assertEquals(List.of(), keys(A));
        assertEquals(0, in(A, 1).getInt(4), "the holder's unregistration releases the reservation");
        assertEquals(ScsiStatus.GOOD, write(C));
    }

    @ParameterizedTest(name = "type {0}")
    @MethodSource("types")
    void unregisteringWithKeyZeroReleasesOnlyWhatTheNexusHeld(int type) {
        boolean allRegistrants = type == Reservations.WRITE_EXCLUSIVE_ALL_REGISTRANTS
                || type == Reservations.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
        out(A, 6, 0, 0, 1);
        out(B, 6, 0, 0, 2);
        assertTrue(out(A, 1, type, 1, 0).isGood());
        assertTrue(out(B, 6, 0, 0, 0).isGood(), "B, not the single holder, unregisters");
        assertEquals(type, in(A, 1).get(21), "A's reservation stays");
        out(B, 6, 0, 0, 2);
        assertTrue(out(A, 6, 0, 0, 0).isGood(), "A unregisters");
        if (type == Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type == Reservations.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY) {
            BlockLogicalUnitTest.assertSense(lu.execute(FakeTask.of(B, "00 00 00 00 00 00", null)),
                    Asc.RESERVATIONS_RELEASED);
        }
        ByteBuffer r = in(B, 1);
        if (allRegistrants) {
            assertEquals(16, r.getInt(4), "an all-registrants reservation stays while anyone is registered");
            assertEquals(ScsiStatus.GOOD, write(B));
        } else {
            assertEquals(0, r.getInt(4), "released with its holder");
        }
        assertEquals(List.of(2L), keys(B));
        assertTrue(out(C, 6, 0, 0, 0).isGood(), "an unregistered nexus unregistering does nothing");
        assertEquals(List.of(2L), keys(B));
    }

    static java.util.stream.IntStream types() {
        return java.util.Arrays.stream(TYPES);
    }

    @Test
    void aReserveOfAnotherTypeByTheHolderConflicts() {
        out(A, 6, 0, 0, 1);
        out(A, 1, Reservations.WRITE_EXCLUSIVE, 1, 0);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, out(A, 1, Reservations.EXCLUSIVE_ACCESS, 1, 0).status());
        ScsiResult scoped = lu.execute(FakeTask.of(A, "5f 01 11 00 00 00 00 00 18 00", params(1, 0, 0)));
        BlockLogicalUnitTest.assertSense(scoped, Asc.INVALID_FIELD_IN_CDB);
    }

    static ByteBuffer params(long key, long saKey, int flags) {
        ByteBuffer p = ByteBuffer.allocateDirect(24);
        p.putLong(0, key).putLong(8, saKey).put(20, (byte) flags);
        return p;
    }
}
