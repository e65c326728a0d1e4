package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The kernel's TCP socket table (/proc/net/tcp, tcp6): is the target's end of a connection still open? */
final class TcpTable {
    private TcpTable() {
    }

    /**
     * The state of the socket with local port {@code serverPort} and remote port {@code clientPort}
     * (the target's end of our connection) as the kernel's hex code, or null when there is none.
     * 01 ESTABLISHED and 08 CLOSE_WAIT mean the target has not closed it.
     */
    static String serverEnd(int serverPort, int clientPort) {
        String local = String.format(":%04X", serverPort);
        String remote = String.format(":%04X", clientPort);
        for (String table : new String[]{"/proc/net/tcp", "/proc/net/tcp6"}) {
            try {
                for (String l : Files.readAllLines(Path.of(table))) {
                    String[] f = l.trim().split("\\s+");
                    if (f.length > 3 && f[1].endsWith(local) && f[2].endsWith(remote)) {
                        return f[3];
                    }
                }
            } catch (IOException e) {
                return null;
            }
        }
        return null;
    }

    static boolean openByServer(String state) {
        return "01".equals(state) || "08".equals(state);
    }
}
