package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.storage.snapshot.DiffModel.Extent;
import io.clonetarget.storage.snapshot.RbdDiffException.Problem;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The rbd diff v1 codec: exact bytes, round trips, every malformation, bounded memory. */
class RbdDiffTest {
    private static final long TIB = 1L << 40;

    /** A stream built byte by byte, independently of the writer. */
    static final class Raw {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();

        static Raw banner() {
            return new Raw().ascii("rbd diff v1\n");
        }

        /** Banner and an image size record: 21 bytes. */
        static Raw sized(long size) {
            return banner().tag('s').le64(size);
        }

        Raw ascii(String s) {
            b.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
            return this;
        }

        Raw tag(char t) {
            b.write(t);
            return this;
        }

        Raw le32(long v) {
            for (int i = 0; i < 4; i++) {
                b.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw le64(long v) {
            for (int i = 0; i < 8; i++) {
                b.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw extent(char t, long offset, long length) {
            return tag(t).le64(offset).le64(length);
        }

        Raw bytes(int n) {
            b.writeBytes(new byte[n]);
            return this;
        }

        byte[] get() {
            return b.toByteArray();
        }
    }

    @Test
    void writerMakesTheDocumentedBytes() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RbdDiffWriter w = new RbdDiffWriter(out, "a", "b", 0x2000);
        w.data(0x1000, ByteBuffer.wrap("abcd".getBytes(StandardCharsets.US_ASCII)));
        w.zero(0x1004, 0xffc);
        w.close();
        String expected = "7262642064696666207631" + "0a"
                + "66" + "01000000" + "61"
                + "74" + "01000000" + "62"
                + "73" + "0020000000000000"
                + "77" + "0010000000000000" + "0400000000000000" + "61626364"
                + "7a" + "0410000000000000" + "fc0f000000000000"
                + "65";
        assertEquals(expected, HexFormat.of().formatHex(out.toByteArray()));
        assertEquals(out.size(), w.bytesWritten());
    }

    @Test
    void namesAreLeftOutWhenNull() throws IOException {
        byte[] s = DiffModel.write(null, null, 512, List.of());
        assertArrayEquals(Raw.sized(512).tag('e').get(), s);
        DiffModel.Recording r = DiffModel.record(s);
        assertEquals(new RbdDiffReader.Header(null, null, 512), r.header);
        assertTrue(r.ended);
    }

    @Test
    void roundTripsRandomStreams() throws IOException {
        for (int seed = 0; seed < 50; seed++) {
            Random rnd = new Random(seed);
            long size = 1 + rnd.nextInt(64 * 1024);
            List<Extent> extents = DiffModel.randomExtents(rnd, size, 40);
            String from = seed % 3 == 0 ? null : "snap-" + seed;
            String to = seed % 5 == 0 ? null : "näme/" + seed;
            byte[] stream = DiffModel.write(from, to, size, extents);
            DiffModel.Recording r = DiffModel.record(stream);
            assertEquals(new RbdDiffReader.Header(from, to, size), r.header, "seed " + seed);
            assertEquals(extents, r.extents, "seed " + seed);
            assertTrue(r.ended);
            RbdDiffReader.Summary sum = RbdDiffReader.verify(new ByteArrayInputStream(stream));
            assertEquals(stream.length, sum.streamBytes());
            assertEquals(extents.stream().filter(e -> e.data() != null).count(), sum.dataRecords());
            assertEquals(extents.stream().filter(e -> e.data() == null).mapToLong(Extent::length).sum(), sum.zeroBytes());
            // fed in fragments of 1 to 7 bytes, the reader sees the same records
            assertEquals(extents, DiffModel.record(new Trickle(stream, seed)).extents, "seed " + seed);
        }
    }

    @Test
    void directAndSlicedBuffersAreWrittenFromTheirPosition() throws IOException {
        byte[] payload = new byte[200_000];
        new Random(7).nextBytes(payload);
        ByteBuffer direct = ByteBuffer.allocateDirect(payload.length + 10).put(new byte[10]).put(payload).flip();
        direct.position(10);
        ByteBuffer slice = ByteBuffer.wrap(payload, 5, 100).slice();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (RbdDiffWriter w = new RbdDiffWriter(out, null, "x", 1 << 20)) {
            w.data(0, direct);
            w.data(payload.length, slice);
        }
        assertEquals(10, direct.position(), "the writer leaves the buffer's position alone");
        List<Extent> got = DiffModel.record(out.toByteArray()).extents;
        assertArrayEquals(payload, got.get(0).data());
        assertArrayEquals(java.util.Arrays.copyOfRange(payload, 5, 105), got.get(1).data());
    }

    @Test
    void writerRefusesRecordsOutOfOrderOverlappingOrOutside() throws IOException {
        RbdDiffWriter w = new RbdDiffWriter(OutputStream.nullOutputStream(), null, null, 4096);
        w.zero(1024, 1024);
        assertMessage("record 'z' [1000, +10) starts before the end of the previous record, at 2048",
                () -> w.zero(1000, 10));
        assertMessage("record 'w' [2047, +1) starts before the end of the previous record, at 2048",
                () -> w.data(2047, ByteBuffer.allocate(1)));
        assertMessage("record 'z' [4000, +97) reaches outside the image size 4096", () -> w.zero(4000, 97));
        assertMessage("record 'z' [-1, +1) reaches outside the image size 4096", () -> w.zero(-1, 1));
        assertMessage("record 'z' [2048, +9223372036854775807) reaches outside the image size 4096",
                () -> w.zero(2048, Long.MAX_VALUE));
        assertMessage("record 'w' [3000, +0) is empty", () -> w.data(3000, ByteBuffer.allocate(0)));
        w.zero(2048, 2048); // adjacent, up to the very end
        w.close();
        w.close();
        assertThrows(IllegalStateException.class, () -> w.zero(4095, 1));
    }

    @Test
    void writerRefusesBadNamesAndSizes() {
        OutputStream out = OutputStream.nullOutputStream();
        assertMessage("from snapshot name is empty (null means none)", () -> new RbdDiffWriter(out, "", null, 1));
        assertMessage("to snapshot name is 4097 bytes in UTF-8, more than 4096",
                () -> new RbdDiffWriter(out, null, "x".repeat(4097), 1));
        assertThrows(IllegalArgumentException.class, () -> new RbdDiffWriter(out, "\ud800", null, 1));
        assertMessage("image size -1 is negative", () -> new RbdDiffWriter(out, null, null, -1));
    }

    @Test
    void closeFlushesButDoesNotCloseTheStreamAndAFailedWriterWritesNoEnd() throws IOException {
        class Probe extends ByteArrayOutputStream {
            boolean flushed;
            boolean closed;
            boolean broken;

            @Override
            public void write(byte[] b, int off, int len) {
                if (broken) {
                    throw new java.io.UncheckedIOException(new IOException("disk full"));
                }
                super.write(b, off, len);
            }

            @Override
            public void flush() {
                flushed = true;
            }

            @Override
            public void close() {
                closed = true;
            }
        }
        Probe p = new Probe();
        new RbdDiffWriter(p, null, null, 10).close();
        assertTrue(p.flushed);
        assertFalse(p.closed);

        Probe q = new Probe();
        RbdDiffWriter w = new RbdDiffWriter(q, null, null, 10);
        q.broken = true;
        assertThrows(RuntimeException.class, () -> w.zero(0, 1));
        q.broken = false;
        int before = q.size();
        w.close();
        assertEquals(before, q.size(), "no end record after a failed write");
        assertThrows(IllegalStateException.class, () -> w.zero(2, 1));
    }

    static Stream<Arguments> malformed() {
        long size = 4096;
        return Stream.of(
                bad("empty", new byte[0], Problem.BAD_BANNER, 0, "the stream is empty"),
                bad("v2 banner", new Raw().ascii("rbd diff v2\n").get(), Problem.BAD_BANNER, 0, "v2 format"),
                bad("wrong banner", new Raw().ascii("RBD diff v1\ns").get(), Problem.BAD_BANNER, 0,
                        "banner \"RBD diff v1\\n\", expected \"rbd diff v1\\n\""),
                bad("short banner", new Raw().ascii("rbd d").get(), Problem.TRUNCATED, 0, "after 5 bytes"),
                bad("unknown tag", Raw.sized(size).tag('q').get(), Problem.UNKNOWN_TAG, 21, "0x71 ('q')"),
                bad("name length cut", Raw.banner().tag('f').ascii("ab").get(), Problem.TRUNCATED, 12,
                        "inside its name length (4 bytes, 2 present)"),
                bad("name cut", Raw.banner().tag('t').le32(5).ascii("ab").get(), Problem.TRUNCATED, 12,
                        "its 5-byte name, 2 present"),
                bad("size cut", Raw.banner().tag('s').ascii("abc").get(), Problem.TRUNCATED, 12, "the image size"),
                bad("extent cut", Raw.sized(size).tag('z').le64(0).get(), Problem.TRUNCATED, 21,
                        "its offset and length (16 bytes, 8 present)"),
                bad("data cut", Raw.sized(size).extent('w', 0, 100).bytes(60).get(), Problem.TRUNCATED, 21,
                        "ends at byte 98 after 60 of its 100 data bytes"),
                bad("name too long", Raw.banner().tag('f').le32(4097).get(), Problem.NAME_TOO_LONG, 12,
                        "4097 bytes in record 'f', more than the limit of 4096"),
                bad("name length 2^32-1", Raw.banner().tag('f').le32(0xffffffffL).get(), Problem.NAME_TOO_LONG, 12,
                        "4294967295 bytes"),
                bad("name not UTF-8", Raw.banner().tag('t').le32(2).ascii("\u00ff\u00fe").get(), Problem.BAD_NAME,
                        12, "not UTF-8"),
                bad("size 2^64-1", Raw.banner().tag('s').le64(-1).get(), Problem.BAD_SIZE, 12,
                        "18446744073709551615"),
                bad("second size", Raw.sized(size).tag('s').le64(1).get(), Problem.DUPLICATE_METADATA, 21,
                        "a second 's' record"),
                bad("second from", Raw.banner().tag('f').le32(0).tag('f').le32(0).get(), Problem.DUPLICATE_METADATA,
                        17, "'f'"),
                bad("name after data", Raw.sized(size).extent('z', 0, 1).tag('t').le32(0).get(),
                        Problem.METADATA_AFTER_DATA, 38, "'t' after the first data record"),
                bad("data before size", Raw.banner().extent('w', 0, 1).bytes(1).get(), Problem.MISSING_SIZE, 12,
                        "record 'w' before the image size record"),
                bad("end before size", Raw.banner().tag('f').le32(1).ascii("a").tag('e').get(),
                        Problem.MISSING_SIZE, 18, "record 'e'"),
                bad("empty record", Raw.sized(size).extent('z', 8, 0).get(), Problem.EMPTY_RECORD, 21,
                        "at offset 8 has length 0"),
                bad("past the end", Raw.sized(size).extent('z', 4000, 97).get(), Problem.PAST_END, 21,
                        "[4000, +97) reaches past the image size 4096"),
                bad("starts past the end", Raw.sized(size).extent('w', 5000, 1).get(), Problem.PAST_END, 21,
                        "[5000, +1)"),
                bad("length wraps", Raw.sized(size).extent('z', 8, -4).get(), Problem.PAST_END, 21,
                        "[8, +18446744073709551612)"),
                bad("out of order", Raw.sized(size).extent('z', 100, 10).extent('z', 50, 10).get(),
                        Problem.OUT_OF_ORDER, 38, "[50, +10) starts before the previous record, at 100"),
                bad("overlapping", Raw.sized(size).extent('z', 100, 10).extent('w', 109, 1).bytes(1).get(),
                        Problem.OVERLAPPING, 38, "[109, +1) starts inside the previous record, which ends at 110"),
                bad("trailing bytes", Raw.sized(size).tag('e').ascii("X").get(), Problem.TRAILING_BYTES, 22,
                        "byte 0x58 ('X') follows the end record at byte 21"),
                bad("no end", Raw.sized(size).extent('z', 0, 1).get(), Problem.MISSING_END, 38,
                        "without the end record 'e' (1 data records read)"));
    }

    private static Arguments bad(String name, byte[] stream, Problem problem, long at, String detail) {
        return Arguments.of(name, stream, problem, at, detail);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void everyMalformationIsNamedWithItsByte(String name, byte[] stream, Problem problem, long at, String detail) {
        for (InputStream in : List.of(new ByteArrayInputStream(stream), new Trickle(stream, 1))) {
            DiffModel.Recording r = new DiffModel.Recording();
            RbdDiffException e = assertThrows(RbdDiffException.class, () -> RbdDiffReader.read(in, r));
            assertEquals(problem, e.problem(), e.getMessage());
            assertEquals(at, e.streamOffset(), e.getMessage());
            assertTrue(e.getMessage().startsWith("rbd diff stream, byte " + at + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(detail), e.getMessage() + " should contain: " + detail);
            assertFalse(r.ended, "end() is only for a whole, good stream");
        }
    }

    @Test
    void aVisitorThatLeavesDataOrSwallowsATruncationIsCaught() throws IOException {
        byte[] good = Raw.sized(100).extent('w', 0, 10).bytes(10).tag('e').get();
        IllegalStateException left = assertThrows(IllegalStateException.class,
                () -> RbdDiffReader.read(new ByteArrayInputStream(good), (o, l, d) -> d.read()));
        assertEquals("the visitor left 9 of the 10 data bytes of the 'w' record at stream byte 21 unread",
                left.getMessage());

        InputStream[] kept = new InputStream[1];
        RbdDiffReader.read(new ByteArrayInputStream(good), (o, l, d) -> {
            d.skipNBytes(l);
            kept[0] = d;
        });
        assertThrows(IllegalStateException.class, () -> kept[0].read());

        byte[] cut = Raw.sized(100).extent('w', 0, 10).bytes(4).get();
        RbdDiffException e = assertThrows(RbdDiffException.class,
                () -> RbdDiffReader.read(new ByteArrayInputStream(cut), (o, l, d) -> {
                    try {
                        d.readAllBytes();
                    } catch (IOException swallowed) {
                        // a careless visitor
                    }
                }));
        assertEquals(Problem.TRUNCATED, e.problem());
    }

    @Test
    void aHugeTruncatedRecordFailsWithoutAllocatingItsLength() {
        byte[] cut = Raw.sized(TIB).extent('w', 0, TIB).bytes(100).get();
        for (RbdDiffReader.Visitor v : List.<RbdDiffReader.Visitor>of(RbdDiffReader.Visitor.DISCARD,
                (o, l, d) -> d.transferTo(OutputStream.nullOutputStream()))) {
            long before = allocated();
            RbdDiffException e = assertThrows(RbdDiffException.class,
                    () -> RbdDiffReader.read(new ByteArrayInputStream(cut), v));
            assertEquals(Problem.TRUNCATED, e.problem());
            assertTrue(e.getMessage().contains("after 100 of its 1099511627776 data bytes"), e.getMessage());
            assertTrue(allocated() - before < 4 << 20, "allocated " + (allocated() - before) + " bytes");
        }
        long before = allocated();
        assertThrows(RbdDiffException.class, () -> RbdDiffReader.verify(
                new ByteArrayInputStream(Raw.banner().tag('t').le32(0xfffffff0L).bytes(100).get())));
        assertTrue(allocated() - before < 4 << 20, "allocated " + (allocated() - before) + " bytes");
    }

    @Test
    void aLongStreamIsReadInBoundedMemory() throws IOException {
        long length = 256L << 20;
        byte[] head = Raw.sized(TIB).extent('w', TIB - length, length).get();
        byte[] tail = {'e'};
        long before = allocated();
        RbdDiffReader.Summary s = RbdDiffReader.verify(new Synthetic(head, length, tail));
        assertTrue(allocated() - before < 4 << 20, "allocated " + (allocated() - before) + " bytes");
        assertEquals(length, s.dataBytes());
        assertEquals(head.length + length + 1, s.streamBytes());
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable e) {
        assertEquals(expected, assertThrows(IllegalArgumentException.class, e).getMessage());
    }

    /** A stream that hands out its bytes in fragments of 1 to 7 bytes. */
    static final class Trickle extends InputStream {
        private final byte[] b;
        private final Random rnd;
        private int at;

        Trickle(byte[] b, long seed) {
            this.b = b;
            this.rnd = new Random(seed);
        }

        @Override
        public int read() {
            return at < b.length ? b[at++] & 0xff : -1;
        }

        @Override
        public int read(byte[] dst, int off, int len) {
            if (at == b.length) {
                return -1;
            }
            int n = Math.min(Math.min(len, 1 + rnd.nextInt(7)), b.length - at);
            System.arraycopy(b, at, dst, off, n);
            at += n;
            return n;
        }
    }

    /** head, then {@code zeros} zero bytes made on the fly, then tail. */
    static final class Synthetic extends InputStream {
        private final byte[] head;
        private final byte[] tail;
        private final long total;
        private long at;

        Synthetic(byte[] head, long zeros, byte[] tail) {
            this.head = head;
            this.tail = tail;
            this.total = head.length + zeros + tail.length;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] dst, int off, int len) {
            if (at == total) {
                return -1;
            }
            int n = (int) Math.min(len, total - at);
            for (int i = 0; i < n; i++) {
                long p = at + i;
                dst[off + i] = p < head.length ? head[(int) p]
                        : p >= total - tail.length ? tail[(int) (p - (total - tail.length))] : 0;
            }
            at += n;
            return n;
        }
    }
}
