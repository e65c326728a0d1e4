package io.clonetarget.server.cli;

import io.clonetarget.server.admin.AdminSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a server keeps its own files (the admin socket, its lock, the demo's images) when no
 * {@code --state-dir} or {@code [server] state-dir} says: {@code $STATE_DIRECTORY} (what
 * systemd's {@code StateDirectory=} sets), else {@code $XDG_STATE_HOME/clonetarget}, else
 * {@code ~/.local/state/clonetarget}. The demo uses {@code demo} below that.
 */
final class StateDirs {
    private StateDirs() {
    }

    static Path serverDefault() {
        String systemd = System.getenv("STATE_DIRECTORY");
        if (systemd != null && !systemd.isEmpty()) {
            return Path.of(systemd.split(":")[0]);
        }
        String xdg = System.getenv("XDG_STATE_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "state");
        return base.resolve("clonetarget");
    }

    static Path demoDefault() {
        return serverDefault().resolve("demo");
    }

    /**
     * The admin socket to talk to: in {@code stateDir} when given, else the default server's,
     * else the demo's; the first candidate when none exists (the error then names it).
     */
    static List<Path> socketCandidates(Path stateDir) {
        List<Path> list = new ArrayList<>();
        if (stateDir != null) {
            list.add(stateDir.resolve(AdminSocket.SOCKET));
        } else {
            list.add(serverDefault().resolve(AdminSocket.SOCKET));
            list.add(demoDefault().resolve(AdminSocket.SOCKET));
        }
        return list;
    }

    static Path socket(Path stateDir) {
        List<Path> candidates = socketCandidates(stateDir);
        for (Path p : candidates) {
            if (Files.exists(p)) {
                return p;
            }
        }
        return candidates.getFirst();
    }
}
