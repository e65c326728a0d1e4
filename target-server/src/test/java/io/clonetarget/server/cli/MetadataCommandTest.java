package io.clonetarget.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.server.admin.Json;
import io.clonetarget.storage.clone.CloneFiles;
import io.clonetarget.storage.clone.CloneVolume;
import io.clonetarget.storage.clone.HydrationSettings;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code clonetarget metadata check|dump|repair} on real files: verdicts, exit codes, named problems. */
class MetadataCommandTest {
    static final long REGION = 64 * 1024;
    @TempDir
    Path dir;
    Path golden;
    Path dest;
    Path meta;
    StringWriter out;

    int run(String... args) {
        out = new StringWriter();
        return Cli.commandLine(new PrintWriter(out, true), new PrintWriter(out, true)).execute(args);
    }

    /** A 4 MiB clone with regions 0-15 hydrated by a read and region 40 overwritten by a whole-region write. */
    @BeforeEach
    void makeClone() throws Exception {
        golden = dir.resolve("golden.img");
        byte[] g = new byte[4 << 20];
        new Random(5).nextBytes(g);
        Files.write(golden, g);
        dest = dir.resolve("clone.img");
        meta = dir.resolve("clone.img.meta");
        HydrationSettings paused = new HydrationSettings(1, 1, 0, true, Duration.ofMillis(100), Duration.ofSeconds(1));
        try (CloneVolume v = CloneFiles.open("t", golden.toString(), dest, meta,
                new CloneVolume.Settings(REGION, 512, true, true, paused))) {
            v.read(0, ByteBuffer.allocateDirect((int) (16 * REGION)));
            ByteBuffer ones = ByteBuffer.allocateDirect((int) REGION);
            while (ones.hasRemaining()) {
                ones.put((byte) 0x11);
            }
            v.write(40 * REGION, ones.flip(), false);
        }
    }

    void corrupt(long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(meta.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0xff);
        }
    }

    long selectedBitsetBlock() throws Exception {
        assertEquals(0, run("metadata", "dump", "--output", "json", meta.toString()));
        JsonNode d = Json.MAPPER.readTree(out.toString());
        return d.path("blocks").get(0).path("location").asLong();
    }

    @Test
    void aCleanFileChecksAndDumps() throws Exception {
        assertEquals(0, run("metadata", "check", meta.toString(), "--dest", dest.toString(), "--source", golden.toString()));
        assertTrue(out.toString().contains("consistent") && out.toString().contains("17 of 64 regions hydrated"),
                out.toString());
        assertEquals(0, run("metadata", "dump", meta.toString()));
        assertTrue(out.toString().contains("region size    64K") && out.toString().contains("hydrated runs  0-15 40"),
                out.toString());
        assertEquals(0, run("metadata", "dump", "--output", "json", meta.toString()));
        JsonNode d = Json.MAPPER.readTree(out.toString());
        assertEquals("consistent", d.path("verdict").asText());
        assertEquals(17, d.path("hydrated_regions").asLong());
        assertEquals("file", d.path("source").path("kind").asText());
        assertEquals(40, d.path("hydrated_runs").get(1).get(0).asLong());
    }

    @Test
    void aMismatchedDestinationOrSourceExitsSix() throws Exception {
        Path small = dir.resolve("small.img");
        Files.write(small, new byte[4096]);
        assertEquals(MetadataCommand.MISMATCH, run("metadata", "check", meta.toString(), "--dest", small.toString()));
        assertTrue(out.toString().contains("destination " + small + " is 4096 bytes"), out.toString());
        assertEquals(MetadataCommand.MISMATCH, run("metadata", "check", meta.toString(), "--source", small.toString()));
        assertTrue(out.toString().contains("changed since the clone was created"), out.toString());
    }

    @Test
    void aDamagedBlockExitsFourNamesItAndRepairRebuildsWhatIsProven() throws Exception {
        long block = selectedBitsetBlock();
        corrupt(block * 4096 + 100);
        assertEquals(MetadataCommand.DAMAGED, run("metadata", "check", meta.toString()));
        assertTrue(out.toString().contains("damaged: bitset block 0 at block " + block + " (generation ")
                && out.toString().contains("): bad checksum"), out.toString());
        assertEquals(MetadataCommand.DAMAGED, run("metadata", "dump", meta.toString()));

        assertEquals(2, run("metadata", "repair", meta.toString()), "--source and --dest are required");
        assertEquals(0, run("metadata", "repair", meta.toString(), "--source", golden.toString(), "--dest",
                dest.toString()), out.toString());
        String report = out.toString();
        assertTrue(report.contains("16 of 64 unknown regions proven by comparison"), report);
        assertTrue(report.contains("48 unknown regions differ from the source") && report.contains("regions 16-63"),
                report);
        Path repaired = Path.of(meta + ".repaired");
        assertEquals(0, run("metadata", "check", repaired.toString()), out.toString());
        assertTrue(out.toString().contains("16 of 64 regions hydrated"), out.toString());
        assertEquals(1, run("metadata", "repair", meta.toString(), "--source", golden.toString(), "--dest",
                dest.toString()));
        assertTrue(out.toString().contains("exists; remove it or give another --to"), out.toString());
    }

    @Test
    void aTornSuperblockIsOnlyANote() throws Exception {
        assertEquals(0, run("metadata", "dump", "--output", "json", meta.toString()));
        long generation = Json.MAPPER.readTree(out.toString()).path("generation").asLong();
        corrupt((generation % 2) * 4096 + 50); // the newest commit's superblock: the one before it stands
        assertEquals(0, run("metadata", "check", meta.toString()));
        assertTrue(out.toString().contains("note: superblock slot " + generation % 2) && out.toString().contains(
                "consistent (format 2, generation " + (generation - 1)), out.toString());
    }

    @Test
    void noSuperblockOrNotMetadataAtAllExitsFive() throws Exception {
        corrupt(10);
        corrupt(4096 + 10);
        assertEquals(MetadataCommand.UNUSABLE, run("metadata", "check", meta.toString()));
        assertTrue(out.toString().contains("no valid superblock"), out.toString());
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "hello\n".repeat(2000));
        assertEquals(MetadataCommand.UNUSABLE, run("metadata", "check", text.toString()));
        assertTrue(out.toString().contains("bad magic"), out.toString());
        assertEquals(1, run("metadata", "check", dir.resolve("missing.meta").toString()));
        assertTrue(out.toString().contains("does not exist"), out.toString());
        // repair without a superblock compares everything, with the region size it is told
        assertEquals(0, run("metadata", "repair", meta.toString(), "--source", golden.toString(), "--dest",
                dest.toString(), "--to", dir.resolve("new.meta").toString()), out.toString());
        assertTrue(out.toString().contains("16 of 64 unknown regions proven") && out.toString().contains("new identity"),
                out.toString());
    }
}
