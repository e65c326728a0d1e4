package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real clients the integration tests use. A missing client skips the test on a
 * developer machine, but fails it when {@code CLONETARGET_REQUIRE_TOOLS=1} (CI), so that CI can
 * never pass by skipping.
 */
final class Tools {
    private Tools() {
    }

    static boolean required() {
        return "1".equals(System.getenv("CLONETARGET_REQUIRE_TOOLS"))
                || Boolean.getBoolean("clonetarget.requireTools");
    }

    /** Skips (or, in CI, fails) unless every command is on the PATH. */
    static void require(String debianPackage, String... commands) {
        for (String c : commands) {
            if (!onPath(c)) {
                String why = c + " is not installed (Debian package " + debianPackage + ")";
                if (required()) {
                    fail(why);
                }
                assumeTrue(false, why);
            }
        }
    }

    static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    record Result(int exitCode, String output) {
    }

    /** Runs a command, merging stdout and stderr; fails the test on timeout. */
    static Result run(Duration timeout, List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[][] out = new byte[1][];
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = new byte[0];
            }
        });
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            fail("timed out after " + timeout + ": " + String.join(" ", command));
        }
        reader.join();
        return new Result(p.exitValue(), new String(out[0], StandardCharsets.UTF_8));
    }

    static Result run(Duration timeout, String... command) throws IOException, InterruptedException {
        return run(timeout, List.of(command));
    }

    /** Runs a command that must succeed; returns its output. */
    static String ok(Duration timeout, String... command) throws IOException, InterruptedException {
        Result r = run(timeout, command);
        if (r.exitCode() != 0) {
            fail(String.join(" ", command) + " exited " + r.exitCode() + ":\n" + r.output());
        }
        return r.output();
    }
}
