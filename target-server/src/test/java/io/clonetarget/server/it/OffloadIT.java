package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Copy offload between two LUNs of one target, through iSCSI: QEMU's own copy offload
 * ({@code qemu-img convert -C} sends EXTENDED COPY), and the ODX sequence Windows sends
 * (POPULATE TOKEN, RECEIVE ROD TOKEN INFORMATION, WRITE USING TOKEN until the transfer counts
 * add up). In both the destination LUN receives no data-out: the target moved the data.
 */
class OffloadIT {
    static final int SIZE = 32 << 20;

    @TempDir
    Path dir;

    private TestTarget twoLuns(long seed) throws Exception {
        TestTarget t = TestTarget.start(dir, SIZE, 2);
        byte[] data = new byte[SIZE];
        new Random(seed).nextBytes(data);
        t.server.volumes().get("v0").served().write(0, ByteBuffer.wrap(data), false);
        t.server.volumes().get("v0").served().flush();
        return t;
    }

    private static long writeBytes(TestTarget t, String volume) {
        String text = new String(t.server.context().metrics().scrape(), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("clonetarget_lun_bytes_total\\{op=\"write\",target=\"" + Pattern.quote(TestTarget.IQN)
                + "\",volume=\"" + volume + "\"} ([0-9.E]+)").matcher(text);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }

    private void assertSameImages() throws Exception {
        assertEquals(-1, Files.mismatch(dir.resolve("lun0.img"), dir.resolve("lun1.img")));
    }

    @Test
    void qemuImgConvertWithCopyOffloadCopiesThroughExtendedCopy() throws Exception {
        Tools.require("qemu-utils", "qemu-img");
        try (TestTarget t = twoLuns(1)) {
            Tools.ok(Duration.ofMinutes(2), "qemu-img", "convert", "-C", "-n", "-f", "raw", "-O", "raw",
                    t.url(0), t.url(1));
            assertSameImages();
            assertEquals(0, writeBytes(t, "v1"), "no WRITE reached the destination: QEMU offloaded the copy");
        }
    }

    @Test
    void theOdxSequenceOfWindowsCopiesBetweenLuns() throws Exception {
        try (TestTarget t = twoLuns(2); RawInitiator r = new RawInitiator(t.port())) {
            r.login(TestTarget.IQN, "ImmediateData", "Yes", "InitialR2T", "No", "FirstBurstLength", "65536");
            r.command(0, new byte[16], new byte[0], 0); // the power-on unit attention
            r.command(1, new byte[16], new byte[0], 0);
            long blocks = SIZE / 512;
            long chunk = (8 << 20) / 512; // 8 MiB per token
            int listId = 100;
            for (long lba = 0; lba < blocks; lba += chunk) {
                ByteBuffer pt = ByteBuffer.allocate(32).putShort(0, (short) 30).putShort(14, (short) 16)
                        .putLong(16, lba).putInt(24, (int) chunk);
                byte[] cdb = ByteBuffer.allocate(16).put(0, (byte) 0x83).put(1, (byte) 0x10).putInt(6, listId)
                        .putInt(10, 32).array();
                assertEquals(0, r.command(0, cdb, pt.array(), 0).status(), "POPULATE TOKEN");
                RawInitiator.Result info = r.command(0, rrti(listId), new byte[0], 1024);
                assertEquals(0, info.status());
                ByteBuffer in = ByteBuffer.wrap(info.data());
                assertEquals(0x10, in.get(4) & 0x1f);
                assertEquals(0x01, in.get(5), "completed without errors");
                byte[] token = new byte[512];
                in.get(32 + (in.get(13) & 0xff) + 6, token);
                listId++;
                long written = 0;
                while (written < chunk) {
                    ByteBuffer wut = ByteBuffer.allocate(552).putShort(0, (short) 550).putLong(8, written)
                            .put(16, token).putShort(534, (short) 16).putLong(536, lba + written)
                            .putInt(544, (int) (chunk - written));
                    byte[] w = ByteBuffer.allocate(16).put(0, (byte) 0x83).put(1, (byte) 0x11).putInt(6, listId)
                            .putInt(10, 552).array();
                    assertEquals(0, r.command(1, w, wut.array(), 0).status(), "WRITE USING TOKEN");
                    RawInitiator.Result done = r.command(1, rrti(listId), new byte[0], 1024);
                    long count = ByteBuffer.wrap(done.data()).getLong(16);
                    assertTrue(count > 0, "transfer count");
                    written += count;
                    listId++;
                }
                assertEquals(chunk, written);
            }
            assertEquals(0, r.synchronizeCache(1).status());
            assertSameImages();
            assertEquals(0, writeBytes(t, "v1"), "no WRITE reached the destination: the target moved the data");
            // a token is a capability of the server: a forged one is refused, and nothing is written
            ByteBuffer forged = ByteBuffer.allocate(552).putShort(0, (short) 550).putInt(16, 0x0080_0000)
                    .putShort(22, (short) 0x1f8).putLong(24, 42).putShort(534, (short) 16).putLong(536, 0)
                    .putInt(544, 8);
            byte[] w = ByteBuffer.allocate(16).put(0, (byte) 0x83).put(1, (byte) 0x11).putInt(6, 1).putInt(10, 552)
                    .array();
            RawInitiator.Result refused = r.command(1, w, forged.array(), 0);
            assertEquals(2, refused.status());
            assertEquals(0x05, refused.senseKey());
            assertEquals(0x23, refused.asc(), "INVALID TOKEN OPERATION");
        }
    }

    private static byte[] rrti(int listId) {
        return ByteBuffer.allocate(16).put(0, (byte) 0x84).put(1, (byte) 0x07).putInt(2, listId).putInt(10, 1024)
                .array();
    }
}
