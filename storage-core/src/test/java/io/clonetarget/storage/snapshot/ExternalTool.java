package io.clonetarget.storage.snapshot;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a real program a test checks us against. A missing program skips the test, or fails it
 * when {@code CLONETARGET_REQUIRE_TOOLS=1} (CI), as target-server's integration tests do (their
 * helper is not on storage-core's test class path).
 */
final class ExternalTool {
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private ExternalTool() {
    }

    record Result(int exitCode, String output) {
    }

    /** Skips (or, in CI, fails) unless {@code command} is on the PATH. */
    static void require(String command, String debianPackage) {
        if (!onPath(command)) {
            String why = command + " is not installed (Debian package " + debianPackage + ")";
            if ("1".equals(System.getenv("CLONETARGET_REQUIRE_TOOLS"))) {
                fail(why);
            }
            assumeTrue(false, why);
        }
    }

    static boolean onPath(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, command))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs {@code command} in {@code dir} with extra environment, no input, stdout and stderr
     * merged; fails the test when it outlives {@link #TIMEOUT}.
     */
    static Result run(Path dir, Map<String, String> env, List<String> command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[][] out = new byte[1][];
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = new byte[0];
            }
        });
        if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            fail("timed out after " + TIMEOUT + ": " + String.join(" ", command));
        }
        reader.join();
        return new Result(p.exitValue(), new String(out[0], StandardCharsets.UTF_8));
    }
}
