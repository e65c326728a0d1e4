package io.clonetarget.server.cli;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.ConfigException;
import io.clonetarget.config.ConfigValidator;
import io.clonetarget.config.HydrationConfig;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.config.VolumeType;
import io.clonetarget.server.TargetServer;
import io.clonetarget.storage.device.FileBlockDevice;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code clonetarget demo}: the product's point at once. Generates a golden image in a state
 * directory (once), and serves a clone of it on 127.0.0.1:3260: usable the moment the server is
 * up, hydrating in the background at a limited rate so that {@code clone status --watch} has
 * something to show.
 */
@Command(name = "demo", description = {"Serve a clone of a generated golden image on 127.0.0.1:3260, hydrating in",
    "the background, from a state directory it creates; print how to connect and watch."})
final class DemoCommand implements Callable<Integer> {
    static final String IQN = "iqn.2026-11.io.clonetarget:demo";
    static final String GOLDEN = "golden.img";
    static final String CLONE = "clone.img";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the demo keeps its images and admin socket. Default $XDG_STATE_HOME/clonetarget/demo "
                    + "(~/.local/state/clonetarget/demo).")
    Path stateDir;

    @Option(names = "--listen", paramLabel = "ADDR:PORT", description = "Default 127.0.0.1:3260.")
    String listen = ServerSection.DEFAULT_LISTEN;

    @Option(names = "--size", paramLabel = "SIZE", description = "Size of the golden image. Default 1G.")
    String size = "1G";

    @Option(names = "--rate", paramLabel = "SIZE", description = "Background hydration limit per second. "
            + "Default 64M; 0 for none.")
    String rate = "64M";

    @Option(names = "--fresh", description = "Throw the clone away and start a new one (the golden image stays).")
    boolean fresh;

    static Path defaultStateDir() {
        return StateDirs.demoDefault();
    }

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        PrintWriter out = cl.getOut();
        Path dir = (stateDir != null ? stateDir : defaultStateDir()).toAbsolutePath();
        ByteSize bytes = size(cl, "--size", size);
        ByteSize limit = size(cl, "--rate", rate);
        if (bytes.bytes() < 1 << 20 || bytes.bytes() % 4096 != 0) {
            throw new CommandLine.ParameterException(cl, "--size: at least 1M and a multiple of 4K");
        }
        // owner only, whatever the umask: the admin socket and the images live here
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path golden = dir.resolve(GOLDEN);
        Path clone = dir.resolve(CLONE);
        Path meta = dir.resolve(CLONE + ".meta");
        if (Files.exists(golden) && Files.size(golden) != bytes.bytes()) {
            out.println("the golden image in " + dir + " has another size; starting over with " + size);
            fresh = true;
            Files.delete(golden);
        }
        if (fresh) {
            Files.deleteIfExists(clone);
            Files.deleteIfExists(meta);
        }
        if (!Files.exists(golden)) {
            Files.deleteIfExists(clone);
            Files.deleteIfExists(meta);
            generateGolden(golden, bytes.bytes(), cl.getErr());
            out.println("generated the golden image " + golden + " (" + ConnectHelp.human(bytes.bytes()) + ")");
        }
        out.println("demo state directory: " + dir);
        VolumeConfig disk = new VolumeConfig("demo", VolumeType.CLONE, clone.toString(), null, null, null,
                golden.toString(), meta.toString(), null,
                new HydrationConfig(null, null, limit, null, null, null, null), null);
        ServerConfig config = new ServerConfig(
                new ServerSection(List.of(listen), dir.toString(), null, null, null, null), null, null,
                List.of(disk), List.of(new TargetConfig(IQN, "clonetarget demo", null, null,
                        List.of(new LunConfig(0, "demo")))));
        List<String> problems = ConfigValidator.validate(config);
        if (!problems.isEmpty()) {
            throw new ConfigException("demo", problems);
        }
        TargetServer server;
        try {
            server = TargetServer.start(config);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("volume demo:")) {
                throw new IOException(e.getMessage() + "\n(the demo's clone cannot be opened as it is; "
                        + "run the demo with --fresh to start a new clone)", e);
            }
            throw e;
        }
        return Serving.untilSignal(server, out);
    }

    private static ByteSize size(CommandLine cl, String option, String text) {
        try {
            return ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, option + ": " + e.getMessage());
        }
    }

    /**
     * Writes a golden image: every 4 KiB block starts with a line naming it and goes on with
     * pseudo-random bytes (so nothing compresses or reads as a hole). Written to a temporary
     * name and renamed, so an interrupted run never leaves a partial image that looks whole.
     */
    static void generateGolden(Path golden, long size, PrintWriter err) throws IOException {
        Path tmp = golden.resolveSibling(golden.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Progress progress = new Progress(err, "generating the golden image", size);
        try (FileBlockDevice device = FileBlockDevice.openOrCreate(tmp, size, 512)) {
            ByteBuffer chunk = ByteBuffer.allocateDirect(4 << 20);
            for (long off = 0; off < size; off += chunk.capacity()) {
                int n = (int) Math.min(chunk.capacity(), size - off);
                chunk.clear().limit(n);
                fill(chunk, off);
                device.write(off, chunk.flip(), false);
                progress.update(off + n);
            }
            device.flush();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        } finally {
            progress.finish();
        }
        Files.move(tmp, golden, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void fill(ByteBuffer chunk, long offset) {
        long x = offset * 0x9E3779B97F4A7C15L + 0x2545F4914F6CDD1DL;
        for (int block = 0; block < chunk.limit(); block += 4096) {
            byte[] label = String.format("clonetarget demo golden image, block %d%n", (offset + block) / 4096)
                    .getBytes(StandardCharsets.US_ASCII);
            for (int i = block; i < block + 64; i += 8) {
                chunk.putLong(i, 0);
            }
            chunk.put(block, label);
            for (int i = block + 64; i + 8 <= Math.min(chunk.limit(), block + 4096); i += 8) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                chunk.putLong(i, x);
            }
        }
        chunk.position(chunk.limit());
    }
}
