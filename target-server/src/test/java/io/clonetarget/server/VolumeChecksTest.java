package io.clonetarget.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ChapConfig;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.storage.clone.CloneVolume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeChecksTest {
    @TempDir
    Path dir;

    static ServerConfig of(VolumeConfig... volumes) {
        return new ServerConfig(null, null, null, List.of(volumes), null);
    }

    VolumeConfig clone(String source, String dest) {
        return new VolumeConfig("c", VolumeType.CLONE, dir.resolve(dest).toString(), null, null, null, source, null, null,
                null, null);
    }

    /** A real clone of a 256 KiB golden image in {@code dir}, hydrated completely or not at all, then closed. */
    VolumeConfig madeClone(boolean hydrate) throws Exception {
        Path golden = Files.write(dir.resolve("golden.img"), new byte[256 << 10]);
        VolumeConfig v = new VolumeConfig("c", VolumeType.CLONE, dir.resolve("vm.img").toString(), null, null, null,
                golden.toString(), null, null, new HydrationConfig(null, null, null, !hydrate, null, null, null), null);
        OpenVolume opened = CloneVolumes.open(v);
        try (var owner = opened.owner()) {
            CloneVolume clone = (CloneVolume) opened.device();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (hydrate && !clone.status().complete() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(hydrate, clone.status().complete(), clone.status().toString());
        }
        return v;
    }

    @Test
    void hydratedMetadataThatOutlivedItsDestinationIsRefused() throws Exception {
        VolumeConfig v = madeClone(true);
        Files.delete(dir.resolve("vm.img"));
        assertEquals(List.of("volume[0].metadata: metadata " + dir.resolve("vm.img.meta") + " records 4 hydrated "
                        + "regions but the destination " + dir.resolve("vm.img") + " does not exist; refusing to serve "
                        + "hydrated regions from nothing (remove the metadata to start over)"),
                VolumeChecks.problems(of(v)));
    }

    @Test
    void metadataWithNothingHydratedGetsItsDestinationMade() throws Exception {
        VolumeConfig v = madeClone(false);
        Files.delete(dir.resolve("vm.img"));
        assertEquals(List.of(), VolumeChecks.problems(of(v)), "serve creates the destination of an interrupted creation");
    }

    @Test
    void aCompleteCloneNeedsNoSourceButAnIncompleteOneDoes() throws Exception {
        VolumeConfig complete = madeClone(true);
        Files.delete(dir.resolve("golden.img"));
        assertEquals(List.of(), VolumeChecks.problems(of(complete)));
        Files.delete(dir.resolve("vm.img"));
        Files.delete(dir.resolve("vm.img.meta"));
        VolumeConfig fresh = madeClone(false);
        Files.delete(dir.resolve("golden.img"));
        assertEquals(List.of("volume[0].source: " + dir.resolve("golden.img") + " does not exist"),
                VolumeChecks.problems(of(fresh)));
    }

    @Test
    void metadataThatIsNotValidIsRefusedUnlessOverwriting() throws Exception {
        Path golden = Files.write(dir.resolve("golden.img"), new byte[8192]);
        Files.write(dir.resolve("vm.img.meta"), new byte[8192]);
        List<String> problems = VolumeChecks.problems(of(clone(golden.toString(), "vm.img")));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.getFirst().startsWith("volume[0].metadata: " + dir.resolve("vm.img.meta") + " is not valid"
                + " clone metadata"), problems.getFirst());
        assertTrue(problems.getFirst().contains("set overwrite-destination = true"), problems.getFirst());
        VolumeConfig overwrite = new VolumeConfig("c", VolumeType.CLONE, dir.resolve("vm.img").toString(), null, null,
                null, golden.toString(), null, null, null, null, true);
        assertEquals(List.of(), VolumeChecks.problems(of(overwrite)));
    }

    @Test
    void aDestinationOfAnotherSizeThanItsSourceIsRefused() throws Exception {
        Path golden = Files.write(dir.resolve("golden.img"), new byte[8192]);
        Files.write(dir.resolve("vm.img"), new byte[4096]);
        VolumeConfig overwrite = new VolumeConfig("c", VolumeType.CLONE, dir.resolve("vm.img").toString(), null, null,
                null, golden.toString(), null, null, null, null, true);
        assertEquals(List.of("volume[0].path: " + dir.resolve("vm.img") + " is 4096 bytes, but the source " + golden
                + " is 8192"), VolumeChecks.problems(of(overwrite)));
    }

    @Test
    void aUrlSourceAndAnEmptySourceFile() throws Exception {
        assertEquals(List.of(), VolumeChecks.problems(of(clone("https://images.example.com/golden.img", "vm.img"))));
        Path empty = Files.write(dir.resolve("empty.img"), new byte[0]);
        assertEquals(List.of("volume[0].source: " + empty + " is empty"),
                VolumeChecks.problems(of(clone(empty.toString(), "vm.img"))));
    }

    @Test
    void aDirectoryOrAnEmptyFileIsNoImage() throws Exception {
        Files.createDirectory(dir.resolve("d.img"));
        Files.write(dir.resolve("e.img"), new byte[0]);
        assertEquals(List.of("volume[0].path: " + dir.resolve("d.img") + " is a directory, not an image file or block"
                        + " device", "volume[1].path: " + dir.resolve("e.img") + " is empty"),
                VolumeChecks.problems(of(VolumeConfig.file("d", dir.resolve("d.img").toString(), null),
                        VolumeConfig.file("e", dir.resolve("e.img").toString(), null))));
    }

    @Test
    void startReadsSecretFilesWithTheSameRules() throws Exception {
        Path secret = Files.writeString(dir.resolve("s"), "twelve-chars-secret");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        ServerConfig config = new ServerConfig(new ServerSection(List.of("127.0.0.1:0"), null, 1, null, null, null),
                null, null, null, List.of(new TargetConfig("iqn.2026-11.com.example:t", null, null,
                new ChapConfig("u", null, secret.toString(), null, null, null), null)));
        assertEquals(1, TargetServer.check(config).size(), TargetServer.check(config).toString());
        IOException e = assertThrows(IOException.class, () -> TargetServer.start(config).close());
        assertTrue(e.getMessage().startsWith("target[0].chap.secret-file: " + secret + " is readable by other users"),
                e.getMessage());
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        assertEquals(List.of(), TargetServer.check(config));
        TargetServer.start(config).close();
    }
}
