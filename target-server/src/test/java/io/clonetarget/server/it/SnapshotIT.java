package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.server.admin.Json;
import io.clonetarget.server.cli.ExitCodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots end to end through iSCSI and the CLI: a snapshot mapped as a LUN reads (with
 * qemu-img compare over iscsi://) exactly the volume as it was when taken, refuses writes,
 * cannot be deleted while mapped; change lists; an rbd diff stream exported from one volume and
 * imported into another reproduces the snapshots there, and a stream on the wrong base is refused.
 * The CLI goes through the HTTPS admin API (snapshot names in its paths: /v1/snapshot/data@s1).
 */
class SnapshotIT {
    static final Duration T = Duration.ofSeconds(60);
    static final String IQN = TestTarget.IQN;

    @TempDir
    Path dir;

    private String config() {
        return """
                [server]
                listen = ["127.0.0.1:0"]
                state-dir = "%s/state"
                io-threads = 4

                [admin]
                listen = "127.0.0.1:0"

                [[volume]]
                name = "data"
                path = "%s/data.img"
                size = "8M"
                [volume.snapshots]
                chunk-size = "64K"

                [[volume]]
                name = "copy"
                path = "%s/copy.img"
                size = "8M"
                [volume.snapshots]

                [[target]]
                iqn = "%s"
                lun = [ { lun = 0, volume = "data" } ]
                """.formatted(dir, dir, dir, IQN);
    }

    /** The server of {@link #config()}. */
    private TestTarget start() throws Exception {
        return TestTarget.start(dir, ConfigFiles.parse(config(), "snapshots"), io.clonetarget.server.Volumes::open);
    }

    /** A session to the target, LUN 0's power-on unit attention taken. */
    private static RawInitiator loggedIn(TestTarget t) throws Exception {
        RawInitiator raw = new RawInitiator(t.port());
        raw.login(IQN);
        raw.command(0, new byte[6], new byte[0], 0);
        return raw;
    }

    private Object[] cli(String... args) {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--state-dir";
        all[args.length + 1] = dir.resolve("state").toString();
        return CloneIT.cli(all);
    }

    private static String ok(Object[] r) {
        assertEquals(ExitCodes.OK, r[0], r[1] + "\n" + r[2]);
        return r[1].toString();
    }

    private static void fails(Object[] r, String message) {
        assertEquals(ExitCodes.FAILURE, r[0], r[1] + "\n" + r[2]);
        assertTrue((r[1].toString() + r[2]).contains(message), "expected \"" + message + "\" in:\n" + r[1] + r[2]);
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    @Test
    void aSnapshotLunReadsThePointInTimeRefusesWritesAndStaysWhileMapped() throws Exception {
        Tools.require("qemu-utils", "qemu-img");
        try (TestTarget t = start()) {
            RawInitiator raw = loggedIn(t);
            Random r = new Random(9);
            for (int i = 0; i < 16; i++) {
                RawInitiator.Result w = raw.write10(0, i * 256L + r.nextInt(100), random(r, 64 * 1024), false);
                assertEquals(0, w.status(), () -> "sense " + java.util.HexFormat.of().formatHex(w.sense()));
            }
            Path atS1 = dir.resolve("data-at-s1.img");
            Files.copy(dir.resolve("data.img"), atS1); // no writes in flight: this is the point in time
            String made = ok(cli("snapshot", "create", "data@s1"));
            assertTrue(made.contains("snapshot data@s1 taken"), made);
            for (int i = 0; i < 16; i++) {
                RawInitiator.Result w = raw.write10(0, i * 512L, random(r, 64 * 1024), i % 3 == 0);
                assertEquals(0, w.status(), () -> "sense " + java.util.HexFormat.of().formatHex(w.sense()));
            }
            ok(cli("lun", "map", IQN, "data@s1", "--lun", "1"));
            Tools.ok(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", atS1.toString(), t.url(1));
            raw.command(1, new byte[6], new byte[0], 0); // the new unit's power-on unit attention
            RawInitiator.Result read = raw.read10(1, 0, 2048);
            assertEquals(0, read.status());
            assertArrayEquals(Arrays.copyOf(Files.readAllBytes(atS1), 1 << 20), read.data());
            RawInitiator.Result write = raw.write10(1, 0, new byte[512], false);
            assertEquals(2, write.status(), "a write to a read-only snapshot is refused");
            assertEquals(0x07, write.sense()[2] & 0x0f, "DATA PROTECT");
            assertEquals(0x27, write.sense()[12] & 0xff, "WRITE PROTECTED");

            JsonNode list = Json.MAPPER.readTree(ok(cli("snapshot", "list", "data", "-o", "json")));
            assertEquals(1, list.size());
            assertEquals("s1", list.get(0).path("name").asText());
            assertEquals("valid", list.get(0).path("state").asText());
            assertTrue(list.get(0).path("stored_bytes").asLong() > 0, list.toString());
            String metrics = new String(t.server.context().metrics().scrape(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(metrics.contains("clonetarget_snapshots{volume=\"data\"} 1.0"), metrics);
            assertTrue(metrics.contains("clonetarget_snapshot_low_space{volume=\"data\"} 0.0"), metrics);
            assertTrue(metrics.contains("clonetarget_snapshot_diff_limit_bytes{volume=\"data\"} 8388608"), metrics);
            String shown = ok(cli("snapshot", "show", "data@s1"));
            assertTrue(shown.contains(IQN), shown);

            fails(cli("snapshot", "delete", "data@s1"), "snapshot data@s1 is LUN 1 of " + IQN);
            fails(cli("snapshot", "create", "data@s1"), "already has a snapshot named s1");
            fails(cli("snapshot", "create", "nope@s1"), "no volume named \"nope\"");
            fails(cli("lun", "map", IQN, "data@never", "--lun", "2"), "has no snapshot named never");
            ok(cli("lun", "unmap", IQN, "1", "--force"));
            ok(cli("snapshot", "delete", "data@s1"));
            assertEquals("no snapshots\n", ok(cli("snapshot", "list")));
            raw.close();
        }
    }

    /** The CLI as its own process (the built jar), standard input and output redirected to files. */
    private Object[] process(Path stdin, Path stdout, String... args) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(ProcessIT.java(),
                "--enable-native-access=ALL-UNNAMED", "-jar", ProcessIT.jar().toString()));
        command.addAll(Arrays.asList(args));
        command.addAll(java.util.List.of("--state-dir", dir.resolve("state").toString()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(stdout.toFile());
        pb.redirectInput(stdin == null ? ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))
                : ProcessBuilder.Redirect.from(stdin.toFile()));
        Path err = Files.createTempFile(dir, "stderr", ".txt");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the CLI process finished");
        // standard output may be a binary stream: as Latin-1, every byte is one character
        return new Object[]{p.exitValue(), new String(Files.readAllBytes(stdout), java.nio.charset.StandardCharsets.ISO_8859_1),
                Files.readString(err)};
    }

    @Test
    void exportDiffToStandardOutputAndImportDiffFromStandardInputCarryTheSameStream() throws Exception {
        try (TestTarget t = start()) {
            RawInitiator raw = loggedIn(t);
            Random r = new Random(11);
            for (int i = 0; i < 8; i++) {
                raw.write10(0, r.nextInt(16000), random(r, 32 * 1024), false);
            }
            raw.close();
            ok(cli("snapshot", "create", "data@a"));
            Path file = dir.resolve("a.diff");
            ok(cli("snapshot", "export-diff", "data@a", file.toString()));
            String sha = Files.readString(dir.resolve("a.diff.sha256")).substring(0, 64);

            Path piped = dir.resolve("piped.diff");
            Object[] export = process(null, piped, "snapshot", "export-diff", "data@a", "-");
            assertEquals(ExitCodes.OK, export[0], export[2].toString());
            assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(piped),
                    "the stream on standard output is the stream written to a file");
            assertTrue(export[2].toString().contains("sha256 " + sha), "the digest goes to standard error: " + export[2]);

            byte[] before = Files.readAllBytes(dir.resolve("copy.img"));
            String wrong = (sha.charAt(0) == '0' ? "1" : "0") + sha.substring(1);
            Path out = dir.resolve("import-out.txt");
            Object[] refused = process(piped, out, "snapshot", "import-diff", "-", "copy", "--sha256", wrong);
            assertEquals(ExitCodes.FAILURE, refused[0], refused[1] + "\n" + refused[2]);
            assertTrue((refused[1].toString() + refused[2]).contains("SHA-256"), refused[1] + "\n" + refused[2]);
            assertArrayEquals(before, Files.readAllBytes(dir.resolve("copy.img")), "nothing was applied");
            Object[] imported = process(piped, out, "snapshot", "import-diff", "-", "copy", "--sha256", sha);
            assertEquals(ExitCodes.OK, imported[0], imported[1] + "\n" + imported[2]);
            assertArrayEquals(Files.readAllBytes(dir.resolve("data.img")), Files.readAllBytes(dir.resolve("copy.img")),
                    "copy holds data as of a");
            JsonNode copies = Json.MAPPER.readTree(ok(cli("snapshot", "list", "copy", "-o", "json")));
            assertEquals("[\"a\"]", Json.MAPPER.writeValueAsString(copies.findValuesAsText("name")));
        }
    }

    @Test
    void aSnapshotOfAWritableSnapshotLunHoldsItsWritesSoFarAndIsReadOnly() throws Exception {
        try (TestTarget t = start()) {
            RawInitiator raw = loggedIn(t);
            Random r = new Random(12);
            raw.write10(0, 0, random(r, 64 * 1024), false);
            ok(cli("snapshot", "create", "data@w"));
            ok(cli("lun", "map", IQN, "data@w", "--lun", "1", "--writable"));
            raw.command(1, new byte[6], new byte[0], 0);
            byte[] mine = random(r, 32 * 1024);
            assertEquals(0, raw.write10(1, 64, mine, false).status(), "written through the writable snapshot");
            byte[] atCopy = raw.read10(1, 0, 2048).data();
            String made = ok(cli("snapshot", "create", "data@copy", "--of", "w"));
            assertTrue(made.contains("snapshot data@copy taken"), made);
            assertEquals(0, raw.write10(1, 64, random(r, 32 * 1024), false).status(), "w goes on");
            ok(cli("lun", "map", IQN, "data@copy", "--lun", "2"));
            raw.command(2, new byte[6], new byte[0], 0);
            assertArrayEquals(atCopy, raw.read10(2, 0, 2048).data(), "the copy holds w's writes as they were");
            for (int i = 0; i < 3 && raw.command(0, new byte[6], new byte[0], 0).status() != 0; i++) {
                // takes the unit attentions the new LUNs raised (REPORTED LUNS DATA HAS CHANGED)
            }
            assertEquals(0, raw.write10(0, 64, random(r, 32 * 1024), false).status(), "the volume goes on too");
            assertArrayEquals(atCopy, raw.read10(2, 0, 2048).data());
            JsonNode list = Json.MAPPER.readTree(ok(cli("snapshot", "list", "data", "-o", "json")));
            assertEquals("w", list.get(1).path("of").asText(), list.toString());
            ok(cli("lun", "unmap", IQN, "2", "--force"));
            fails(cli("lun", "map", IQN, "data@copy", "--lun", "2", "--writable"), "can only be mapped read-only");
            fails(cli("snapshot", "create", "data@again", "--of", "copy"), "is itself a snapshot of a snapshot");
            raw.close();
        }
    }

    @Test
    void anExportedStreamRebuildsTheSnapshotsOnAnotherVolumeAndAWrongBaseIsRefused() throws Exception {
        try (TestTarget t = start()) {
            RawInitiator raw = loggedIn(t);
            Random r = new Random(10);
            for (int i = 0; i < 8; i++) {
                raw.write10(0, r.nextInt(16000), random(r, 32 * 1024), false);
            }
            ok(cli("snapshot", "create", "data@a"));
            for (int i = 0; i < 4; i++) {
                raw.write10(0, r.nextInt(16000), random(r, 4096), false);
            }
            ok(cli("snapshot", "create", "data@b"));
            Path full = dir.resolve("full.diff");
            String wrote = ok(cli("snapshot", "export-diff", "data@a", full.toString()));
            assertTrue(wrote.contains("sha256"), wrote);
            assertTrue(Files.exists(dir.resolve("full.diff.sha256")));
            ok(cli("snapshot", "import-diff", full.toString(), "copy"));
            Path inc = dir.resolve("a-to-b.diff");
            ok(cli("snapshot", "export-diff", "--from-snap", "a", "data@b", inc.toString()));
            JsonNode diff = Json.MAPPER.readTree(ok(cli("snapshot", "diff", "data@a", "data@b", "-o", "json")));
            long changed = diff.path("changed_bytes").asLong();
            assertTrue(changed > 0 && changed <= 4 * 2 * 64 * 1024, diff.toString());
            assertTrue(Files.size(inc) < changed + 4096, "the stream is about the change: " + Files.size(inc));
            String incSha = Files.readString(dir.resolve("a-to-b.diff.sha256")).substring(0, 64);
            String wrongSha = (incSha.charAt(0) == '0' ? "1" : "0") + incSha.substring(1);
            fails(cli("snapshot", "import-diff", inc.toString(), "copy", "--sha256", wrongSha), "SHA-256");
            Object[] badArg = cli("snapshot", "import-diff", inc.toString(), "copy", "--sha256", "12ab");
            assertEquals(ExitCodes.USAGE, badArg[0], badArg[1] + "\n" + badArg[2]);
            assertTrue(badArg[2].toString().contains("the stream's SHA-256 as 64 hex digits"), badArg[2].toString());
            // --sha256 spools the stream with that checksum beside it, as for a stream from standard input
            ok(cli("snapshot", "import-diff", inc.toString(), "copy", "--sha256", incSha));
            assertArrayEquals(Files.readAllBytes(dir.resolve("data.img")), Files.readAllBytes(dir.resolve("copy.img")),
                    "copy now holds data as of b");
            JsonNode copies = Json.MAPPER.readTree(ok(cli("snapshot", "list", "copy", "-o", "json")));
            assertEquals("[\"a\",\"b\"]", Json.MAPPER.writeValueAsString(copies.findValuesAsText("name")));

            raw.write10(0, 100, random(r, 4096), false);
            ok(cli("snapshot", "create", "data@c"));
            Path wrong = dir.resolve("a-to-c.diff");
            ok(cli("snapshot", "export-diff", "--from-snap", "a", "data@c", wrong.toString()));
            byte[] before = Files.readAllBytes(dir.resolve("copy.img"));
            fails(cli("snapshot", "import-diff", wrong.toString(), "copy"),
                    "starts from snapshot a, but the latest snapshot of volume copy is b");
            assertArrayEquals(before, Files.readAllBytes(dir.resolve("copy.img")), "nothing was applied");
            raw.close();
        }
        // offline: the metadata tools read snapshot stores and name what is wrong
        Path meta = dir.resolve("state/snapshots/data/snapshots.meta");
        String check = ok(CloneIT.cli("metadata", "check", meta.toString()));
        assertTrue(check.contains("consistent (snapshot metadata") && check.contains("3 snapshots"), check);
        String dump = ok(CloneIT.cli("metadata", "dump", meta.toString()));
        assertTrue(dump.contains("snapshot 1 a: valid") && dump.contains("snapshot 3 c: valid"), dump);
        byte[] bytes = Files.readAllBytes(meta);
        for (int b = 2; b < bytes.length / 4096; b++) {
            bytes[b * 4096 + 100] ^= 1; // every block but the superblocks
        }
        Files.write(meta, bytes);
        Object[] damaged = CloneIT.cli("metadata", "check", meta.toString());
        assertEquals(4, damaged[0], damaged[1] + "\n" + damaged[2]);
        assertTrue(damaged[1].toString().contains("damaged: snapshot info at") && damaged[1].toString()
                .contains("bad checksum"), damaged[1].toString());
    }
    @Test
    void aCloneOfASnapshotIsThePointInTimeAndHoldsTheSnapshotWhileItHydrates() throws Exception {
        try (TestTarget t = start()) {
            RawInitiator raw = loggedIn(t);
            Random r = new Random(11);
            for (int i = 0; i < 8; i++) {
                raw.write10(0, i * 2048L, random(r, 64 * 1024), false);
            }
            ok(cli("snapshot", "create", "data@gold"));
            Path atGold = dir.resolve("data-at-gold.img");
            Files.copy(dir.resolve("data.img"), atGold);
            raw.write10(0, 0, random(r, 64 * 1024), false); // after the snapshot: not in the clone
            ok(cli("clone", "create", "vm", "--source", "snapshot:data@gold", "--path", dir.resolve("vm.img").toString(),
                    "--paused"));
            fails(cli("snapshot", "delete", "data@gold"), "is the source of clone vm, which still hydrates from it");
            ok(cli("lun", "map", IQN, "vm", "--lun", "1"));
            raw.command(1, new byte[6], new byte[0], 0); // the new unit's power-on unit attention
            RawInitiator.Result read = raw.read10(1, 0, 2048);
            assertEquals(0, read.status());
            assertArrayEquals(Arrays.copyOf(Files.readAllBytes(atGold), 1 << 20), read.data(),
                    "the clone reads the snapshot's point in time");
            ok(cli("clone", "resume", "vm"));
            CloneIT.awaitComplete(t, Duration.ofSeconds(30)); // complete: hydrated, and the source let go
            ok(cli("lun", "unmap", IQN, "1", "--force"));
            ok(cli("snapshot", "delete", "data@gold"));
            assertArrayEquals(Files.readAllBytes(atGold), Files.readAllBytes(dir.resolve("vm.img")),
                    "the hydrated clone holds the snapshot, and no longer needs it");
            raw.close();
        }
    }
    @Test
    void theReadmeTourMakesAVolumeWithSnapshotsLiveAndTakesOne() throws Exception {
        try (TestTarget t = start()) {
            String made = ok(cli("volume", "create", "data2", "--path", dir.resolve("data2.img").toString(), "--size",
                    "8M", "--snapshots", "--snapshot-chunk", "128K"));
            assertTrue(made.contains("+ volume data2"), made);
            ok(cli("lun", "map", IQN, "data2"));
            ok(cli("snapshot", "create", "data2@monday"));
            assertEquals(128 * 1024, t.server.volumes().get("data2").snapshots().chunkSize(), "the chunk asked for");
            ok(cli("lun", "map", IQN, "data2@monday", "--lun", "3"));
            JsonNode shown = Json.MAPPER.readTree(ok(cli("snapshot", "show", "data2@monday", "-o", "json")));
            assertEquals(128 * 1024, shown.path("difference_storage").path("chunk_size").asInt(), shown.toString());
            Path out = dir.resolve("data2-monday.diff");
            ok(cli("snapshot", "export-diff", "data2@monday", out.toString()));
            assertTrue(Files.size(out) > 0 && Files.exists(dir.resolve("data2-monday.diff.sha256")));
            Object[] bad = cli("volume", "create", "data3", "--path", dir.resolve("data3.img").toString(), "--size", "8M",
                    "--snapshots", "--snapshot-chunk", "48K");
            assertEquals(ExitCodes.CONFIG, bad[0], bad[1] + "\n" + bad[2]);
            assertTrue((bad[1] + "" + bad[2]).contains("chunk-size: 48K is not a power of two"), bad[1] + "" + bad[2]);
        }
    }
}
