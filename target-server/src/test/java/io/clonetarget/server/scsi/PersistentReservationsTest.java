package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.device.MemoryBlockDevice;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PersistentReservationsTest {
    BlockLogicalUnit lu;
    static final Nexus A = FakeTask.NEXUS;
    static final Nexus B = FakeTask.OTHER;

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
    }
}
