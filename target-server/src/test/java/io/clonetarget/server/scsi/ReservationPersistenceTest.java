package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.clonetarget.storage.device.MemoryBlockDevice;
import io.clonetarget.storage.lock.RangeLock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** APTPL: what a unit saves, what a new unit on the same store restores, and what it does with a bad file. */
class ReservationPersistenceTest {
    static final LunIdentity ID = LunIdentity.fromSeed("file:/vol.img:1:2", "file");
    static final Nexus A = FakeTask.NEXUS;
    static final Nexus B = FakeTask.OTHER;
    static final Nexus C = Nexus.of("iqn.1993-08.org.debian:01:c", 0x9abc, A.targetName(), 1);
    /** The seed of the randomized tests: {@code -Dpr.seed=N} replays a run. */
    static final long SEED = Long.getLong("pr.seed", System.nanoTime());

    @TempDir
    Path dir;
    MemoryBlockDevice device;
    Path file;

    @BeforeEach
    void setUp() {
        device = new MemoryBlockDevice(1 << 20, 512);
        file = dir.resolve("reservations").resolve(A.targetName()).resolve(ID.naaHex() + ".pr");
    }

    BlockLogicalUnit unit(ReservationStore store) {
        return new BlockLogicalUnit("pr", device, ID, false, new HeapBuffers(), new RangeLock(), store);
    }

    static ScsiResult out(LogicalUnit lu, Nexus n, int action, int type, long key, long saKey, boolean aptpl) {
        ByteBuffer p = ByteBuffer.allocateDirect(24);
        p.putLong(0, key).putLong(8, saKey).put(20, (byte) (aptpl ? 1 : 0));
        return lu.execute(FakeTask.of(n, String.format("5f %02x %02x 00 00 00 00 00 18 00", action, type), p));
    }

    static ByteBuffer in(LogicalUnit lu, Nexus n, int action) {
        ScsiResult r = lu.execute(FakeTask.of(n, String.format("5e %02x 00 00 00 00 00 10 00 00", action), null));
        assertTrue(r.isGood(), "PR IN " + action + ": " + r.status());
        return r.dataIn();
    }

    static List<Long> keys(LogicalUnit lu, Nexus n) {
        ByteBuffer b = in(lu, n, 0);
        List<Long> keys = new ArrayList<>();
        for (int i = 0; i < b.getInt(4) / 8; i++) {
            keys.add(b.getLong(8 + 8 * i));
        }
        return keys;
    }

    static ScsiStatus write(LogicalUnit lu, Nexus n) {
        return lu.execute(FakeTask.of(n, "2a 00 00 00 00 00 00 00 01 00", ByteBuffer.allocateDirect(512))).status();
    }

    @Test
    void theFileStoreReplacesItsFileWholeWithPrivateModes() throws IOException {
        FileReservationStore store = new FileReservationStore(file);
        assertNull(store.load(), "nothing saved yet");
        assertNull(store.setAside());
        store.save(new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, store.load());
        store.save(new byte[] {4});
        assertArrayEquals(new byte[] {4}, store.load());
        try (var listing = Files.list(file.getParent())) {
            assertEquals(List.of(file), listing.toList(), "no temporary file left behind");
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
        store.remove();
        assertNull(store.load());
        store.remove(); // nothing to remove is fine
    }

    @Test
    void encodingRoundTripsRandomStates() throws Exception {
        Random random = new Random(SEED);
        for (int round = 0; round < 500; round++) {
            PrState s = randomState(random);
            assertEquals(s, ReservationFile.decode(ReservationFile.encode(s, ID.naa()), ID.naa()), "seed " + SEED);
        }
    }

    static PrState randomState(Random random) {
        Map<Nexus, Long> regs = new LinkedHashMap<>();
        int n = random.nextInt(6);
        for (int i = 0; i < n; i++) {
            String name = "iqn.1991-05.com.microsoft:nöde-" + random.nextInt(1000);
            regs.put(Nexus.of(name, random.nextLong() & 0xffff_ffff_ffffL, "iqn.2026-11.io.clonetarget:t",
                    1 + random.nextInt(3)), random.nextLong() | 1);
        }
        int type = 0;
        Nexus holder = null;
        if (!regs.isEmpty() && random.nextBoolean()) {
            type = PersistentReservationsTest.TYPES[random.nextInt(6)];
            holder = new ArrayList<>(regs.keySet()).get(random.nextInt(regs.size()));
        }
        return new PrState(regs, holder, type, true);
    }

    @Test
    void registrationsAndTheReservationComeBackAfterARestart() throws IOException {
        BlockLogicalUnit before = unit(new FileReservationStore(file));
        assertTrue(out(before, A, 6, 0, 0, 0xa, true).isGood());
        assertTrue(out(before, B, 6, 0, 0, 0xb, true).isGood());
        assertTrue(out(before, A, 1, Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, 0xa, 0, false).isGood(),
                "APTPL is ignored by RESERVE");
        assertEquals(0x91, in(before, A, 2).get(3) & 0xff, "PTPL_A");
        assertEquals(0x05, in(before, A, 2).get(2) & 0xff, "PTPL_C and ATP_C");
        assertTrue(Files.exists(file));

        BlockLogicalUnit after = unit(new FileReservationStore(file)); // the server restarted
        assertEquals(List.of(0xaL, 0xbL), keys(after, B));
        ByteBuffer r = in(after, B, 1);
        assertEquals(0, r.getInt(0), "PRgeneration starts at zero at power on");
        assertEquals(0xa, r.getLong(8), "A holds it");
        assertEquals(Reservations.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, r.get(21));
        assertEquals(0x91, in(after, A, 2).get(3) & 0xff, "APTPL still active");
        assertEquals(ScsiStatus.GOOD, write(after, A));
        assertEquals(ScsiStatus.GOOD, write(after, B), "a restored registrant writes");
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, write(after, C));
        Nexus otherIsid = Nexus.of(A.initiatorName(), 0x1235, A.targetName(), 1);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, write(after, otherIsid), "registered is the I_T nexus, not the name");
        Nexus otherPort = new Nexus(A.initiatorName(), A.initiatorPort(), A.targetName(), 2);
        assertEquals(ScsiStatus.RESERVATION_CONFLICT, write(after, otherPort), "nor through another target port");
    }

    @Test
    void aptplZeroRemovesTheSavedState() throws IOException {
        BlockLogicalUnit lu = unit(new FileReservationStore(file));
        assertTrue(out(lu, A, 6, 0, 0, 0xa, true).isGood());
        assertTrue(out(lu, B, 6, 0, 0, 0xb, true).isGood());
        assertTrue(Files.exists(file));
        assertTrue(out(lu, B, 0, 0, 0xb, 0xb, false).isGood(), "B registers again with APTPL=0");
        assertFalse(Files.exists(file), "the last valid APTPL bit is 0: nothing survives a power loss");
        assertEquals(0x90, in(lu, A, 2).get(3) & 0xff, "PTPL_A off");
        assertEquals(List.of(0xaL, 0xbL), keys(lu, A), "the registrations stay in memory");
        assertEquals(List.of(), keys(unit(new FileReservationStore(file)), A), "and are gone after a restart");
    }

    /** A store in memory that counts saves and can be told to fail. */
    static final class MemoryStore implements ReservationStore {
        byte[] content;
        int saves;
        boolean failNext;

        @Override
        public boolean persistent() {
            return true;
        }

        @Override
        public byte[] load() {
            return content;
        }

        @Override
        public void save(byte[] c) throws IOException {
            if (failNext) {
                failNext = false;
                throw new IOException("injected: no space left on device");
            }
            saves++;
            content = c.clone();
        }

        @Override
        public void remove() {
            content = null;
        }

        @Override
        public String setAside() {
            content = null;
            return "aside";
        }
    }

    @Test
    void everyChangeIsSavedAndARepeatedReserveIsNot() {
        MemoryStore store = new MemoryStore();
        BlockLogicalUnit lu = unit(store);
        out(lu, A, 6, 0, 0, 0xa, true);
        out(lu, B, 6, 0, 0, 0xb, true);
        assertEquals(2, store.saves);
        assertTrue(out(lu, A, 1, Reservations.EXCLUSIVE_ACCESS, 0xa, 0, false).isGood());
        assertEquals(3, store.saves, "RESERVE saved");
        assertTrue(out(lu, A, 1, Reservations.EXCLUSIVE_ACCESS, 0xa, 0, false).isGood());
        assertEquals(3, store.saves, "a repeated RESERVE changes nothing to save");
        assertTrue(out(lu, B, 5, Reservations.EXCLUSIVE_ACCESS, 0xb, 0xa, false).isGood());
        assertEquals(4, store.saves, "PREEMPT AND ABORT saved");
        assertTrue(out(lu, B, 2, Reservations.EXCLUSIVE_ACCESS, 0xb, 0, false).isGood());
        assertEquals(5, store.saves, "RELEASE saved");
        assertTrue(out(lu, B, 3, 0, 0xb, 0, false).isGood());
        assertEquals(6, store.saves, "CLEAR saved");
        assertEquals(List.of(), keys(unit(store), A), "CLEAR survives a restart too");
    }

    @Test
    void aSaveThatFailsChangesNothingAndTheNextOneRewrites() {
        MemoryStore store = new MemoryStore();
        BlockLogicalUnit lu = unit(store);
        store.failNext = true;
        BlockLogicalUnitTest.assertSense(out(lu, A, 6, 0, 0, 0xa, true), Asc.INTERNAL_TARGET_FAILURE);
        assertEquals(List.of(), keys(lu, A), "not registered");
        assertEquals(0x90, in(lu, A, 2).get(3) & 0xff, "APTPL not activated");
        out(lu, A, 6, 0, 0, 0xa, true);
        out(lu, B, 6, 0, 0, 0xb, true);
        store.failNext = true;
        BlockLogicalUnitTest.assertSense(out(lu, B, 4, Reservations.WRITE_EXCLUSIVE, 0xb, 0xa, false),
                Asc.INTERNAL_TARGET_FAILURE);
        assertEquals(List.of(0xaL, 0xbL), keys(lu, B), "A was not preempted");
        assertTrue(lu.execute(FakeTask.of(A, "00 00 00 00 00 00", null)).isGood(), "and got no unit attention");
        int saves = store.saves;
        assertTrue(out(lu, A, 6, 0, 0, 0xa, true).isGood(), "the same key again: no change");
        assertEquals(saves + 1, store.saves, "after a failure the store is rewritten even so");
    }

    static byte[] sealed(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        ByteBuffer.wrap(b).putInt(b.length - 4, (int) crc.getValue());
        return b;
    }

    static String decodeError(byte[] b) {
        return assertThrows(CorruptReservationStateException.class, () -> ReservationFile.decode(b, ID.naa()))
                .getMessage();
    }

    @Test
    void tornTruncatedAndCorruptEncodingsAreRefusedSayingWhy() {
        Map<Nexus, Long> regs = new LinkedHashMap<>();
        regs.put(A, 0xaL);
        regs.put(B, 0xbL);
        byte[] good = ReservationFile.encode(new PrState(regs, A, Reservations.WRITE_EXCLUSIVE, true), ID.naa());
        for (int n = 0; n < good.length; n++) {
            String why = decodeError(java.util.Arrays.copyOf(good, n));
            assertTrue(why.contains("torn or truncated"), n + " bytes: " + why);
        }
        for (int bit = 0; bit < good.length * 8; bit++) {
            byte[] b = good.clone();
            b[bit / 8] ^= (byte) (1 << (bit % 8));
            decodeError(b); // every single-bit error is caught: by a field check or by CRC32C
        }
        Random random = new Random(SEED);
        for (int round = 0; round < 200; round++) {
            byte[] garbage = new byte[random.nextInt(200)];
            random.nextBytes(garbage);
            decodeError(garbage);
        }
        byte[] b = good.clone();
        b[0] = 'X';
        assertTrue(decodeError(b).contains("not a reservation state file"), decodeError(b));
        b = good.clone();
        b[5] = 2;
        assertTrue(decodeError(b).startsWith("version 2;"), decodeError(b));
        b = good.clone();
        b[good.length - 1] ^= 1;
        assertTrue(decodeError(b).startsWith("checksum mismatch"), decodeError(b));
        b = good.clone();
        b[12] ^= 1;
        assertTrue(decodeError(sealed(b)).startsWith("belongs to the logical unit"), decodeError(sealed(b)));
        b = good.clone();
        b[28] = 2;
        assertTrue(decodeError(sealed(b)).contains("type 2 is not"), decodeError(sealed(b)));
        b = good.clone();
        ByteBuffer.wrap(b).putInt(32, 7);
        assertTrue(decodeError(sealed(b)).contains("holder index 7"), decodeError(sealed(b)));
        b = good.clone();
        ByteBuffer.wrap(b).putInt(36, 3);
        assertTrue(decodeError(sealed(b)).contains("registration 2 of 3 runs past the end"), decodeError(sealed(b)));
        b = good.clone();
        ByteBuffer.wrap(b).putLong(ReservationFile.HEADER, 0);
        assertTrue(decodeError(sealed(b)).contains("registration 0 has key 0"), decodeError(sealed(b)));
    }

    @Test
    void aGarbageFileIsLoggedByNameSetAsideAndTheUnitStartsWithoutReservations() throws IOException {
        Files.createDirectories(file.getParent());
        byte[] garbage = new byte[100];
        new Random(SEED).nextBytes(garbage);
        Files.write(file, garbage);
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Reservations.class);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);
        BlockLogicalUnit lu;
        try {
            lu = unit(new FileReservationStore(file));
        } finally {
            logger.detachAppender(log);
        }
        List<String> errors = log.list.stream().filter(e -> e.getLevel() == Level.ERROR)
                .map(ILoggingEvent::getFormattedMessage).toList();
        assertEquals(1, errors.size(), log.list.toString());
        assertTrue(errors.get(0).contains(file.toString()) && errors.get(0).contains("not a reservation state file")
                && errors.get(0).contains(file + ".corrupt"), errors.get(0));
        assertArrayEquals(garbage, Files.readAllBytes(Path.of(file + ".corrupt")), "kept for inspection");
        assertFalse(Files.exists(file));
        assertEquals(List.of(), keys(lu, A), "no reservations");
        assertTrue(out(lu, A, 6, 0, 0, 0xa, true).isGood(), "and APTPL works again");
        assertEquals(List.of(0xaL), keys(unit(new FileReservationStore(file)), A));
    }

    /**
     * A file store that checks, at every save, that what it saves is not yet what the unit
     * shows: a state must be durable before anyone can see it.
     */
    static final class CheckingStore implements ReservationStore {
        final FileReservationStore file;
        volatile Reservations owner;
        final List<String> violations = Collections.synchronizedList(new ArrayList<>());

        CheckingStore(Path path) {
            file = new FileReservationStore(path);
        }

        @Override
        public boolean persistent() {
            return true;
        }

        @Override
        public byte[] load() throws IOException {
            return file.load();
        }

        @Override
        public void save(byte[] content) throws IOException {
            try {
                if (owner != null && ReservationFile.decode(content, ID.naa()).equals(owner.state())) {
                    violations.add("published before it was saved: " + owner.state());
                }
            } catch (CorruptReservationStateException e) {
                violations.add("wrote an unreadable state: " + e.getMessage());
            }
            file.save(content);
        }

        @Override
        public void remove() throws IOException {
            file.remove();
        }

        @Override
        public String setAside() throws IOException {
            return file.setAside();
        }
    }

    @Test
    void concurrentChangesFromSeveralThreadsRestoreToTheLastAnsweredState() throws Exception {
        CheckingStore store = new CheckingStore(file);
        Reservations r = new Reservations(store, ID.naa(), "pr");
        store.owner = r;
        UnitAttentions attentions = new UnitAttentions();
        int threads = 4;
        int steps = 120;
        List<Nexus> nexuses = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            nexuses.add(Nexus.of("iqn.1991-05.com.microsoft:node" + t, 0x400001370000L + t, A.targetName(), 1));
        }
        AtomicInteger good = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Random random = new Random(SEED + t);
            Nexus me = nexuses.get(t);
            running.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (int i = 0; i < steps; i++) {
                        int action = switch (random.nextInt(20)) {
                            case 0 -> 3;
                            case 1, 2, 3, 4, 5 -> 6;
                            case 6, 7 -> 0;
                            case 8, 9, 10, 11 -> 1;
                            case 12, 13 -> 2;
                            case 14, 15, 16 -> 4;
                            case 17 -> 5;
                            default -> random.nextBoolean() ? 6 : 1;
                        };
                        int type = PersistentReservationsTest.TYPES[random.nextInt(6)];
                        long key = random.nextInt(4);
                        long saKey = random.nextInt(4);
                        boolean aptpl = random.nextInt(10) != 0;
                        ByteBuffer p = ByteBuffer.allocate(24);
                        p.putLong(0, key).putLong(8, saKey).put(20, (byte) (aptpl ? 1 : 0));
                        FakeTask task = FakeTask.of(me, String.format("5f %02x %02x 00 00 00 00 00 18 00", action, type), p);
                        try {
                            r.out(task, attentions);
                            good.incrementAndGet();
                        } catch (ScsiException e) {
                            refused.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        start.countDown();
        for (Thread t : running) {
            t.join();
        }
        assertEquals(List.of(), failures, "seed " + SEED);
        assertEquals(List.of(), store.violations, "seed " + SEED);
        assertTrue(good.get() > 0 && refused.get() > 0, "both outcomes happened: " + good + " good, " + refused
                + " refused; seed " + SEED);
        PrState last = r.state();
        PrState restored = new Reservations(new FileReservationStore(file), ID.naa(), "pr").state();
        assertEquals(last.aptpl() ? last : PrState.EMPTY, restored, "seed " + SEED);
        assertEquals(last.aptpl(), Files.exists(file), "a file exactly when APTPL is on; seed " + SEED);
    }
}
