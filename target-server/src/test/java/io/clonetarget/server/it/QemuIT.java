package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QEMU's libiscsi block driver: whole-image copies and concurrent sessions. */
class QemuIT {
    static final Duration T = Duration.ofMinutes(3);
    @TempDir
    Path dir;

    @Test
    void convertA64MiBImageOntoALunAndCompareItBack() throws Exception {
        Tools.require("qemu-utils and qemu-block-extra", "qemu-img");
        Path source = dir.resolve("source.raw");
        byte[] data = new byte[64 << 20];
        new Random(42).nextBytes(data);
        for (int i = 0; i < data.length; i += 1 << 20) {
            data[i] = 0;
        }
        Files.write(source, data);
        try (TestTarget target = TestTarget.start(dir, 128L << 20, 1)) {
            Tools.ok(T, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source.toString(), target.url(0));
            String opts = "driver=raw,size=" + data.length + ",file.driver=iscsi,file.transport=tcp,file.portal="
                    + target.portal() + ",file.target=" + TestTarget.IQN + ",file.lun=0";
            String out = Tools.ok(T, "qemu-img", "compare", "--image-opts",
                    "driver=raw,file.driver=file,file.filename=" + source, opts);
            assertTrue(out.contains("Images are identical"), out);
            byte[] onDisk = new byte[data.length];
            try (var in = Files.newInputStream(target.image(0))) {
                assertEquals(data.length, in.readNBytes(onDisk, 0, onDisk.length));
            }
            assertTrue(java.util.Arrays.equals(data, onDisk), "the backing file holds the same bytes");
            String info = Tools.ok(T, "qemu-img", "info", target.url(0));
            assertTrue(info.contains("virtual size: 128 MiB"), info);
        }
    }

    @Test
    void fourConcurrentSessionsWriteAndVerifyDistinctRegions() throws Exception {
        Tools.require("qemu-utils and qemu-block-extra", "qemu-io");
        try (TestTarget target = TestTarget.start(dir, 256L << 20, 1)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<String>> writes = new ArrayList<>();
                for (int s = 0; s < 4; s++) {
                    int session = s;
                    writes.add(pool.submit(() -> Tools.ok(T, "qemu-io", "-f", "raw",
                            "-c", "write -P " + (0x11 * (session + 1)) + " " + (session * 64) + "M 48M",
                            "-c", "write -z " + (session * 64 + 48) + "M 16M",
                            "-c", "flush", target.url(0))));
                }
                for (Future<String> f : writes) {
                    String out = f.get();
                    assertTrue(out.contains("wrote 50331648/50331648 bytes"), out);
                }
                List<Future<String>> reads = new ArrayList<>();
                for (int s = 0; s < 4; s++) {
                    int session = s;
                    reads.add(pool.submit(() -> Tools.ok(T, "qemu-io", "-f", "raw", "-r",
                            "-c", "read -P " + (0x11 * (session + 1)) + " " + (session * 64) + "M 48M",
                            "-c", "read -P 0 " + (session * 64 + 48) + "M 16M", target.url(0))));
                }
                for (Future<String> f : reads) {
                    String out = f.get();
                    assertTrue(!out.contains("Pattern verification failed"), out);
                    assertEquals(2, out.split("read ", -1).length - 1, out);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
