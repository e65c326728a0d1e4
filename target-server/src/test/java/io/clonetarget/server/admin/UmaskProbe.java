package io.clonetarget.server.admin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Run by {@link AdminSocketTest} in a child JVM under another umask: opens a state directory, prints its modes. */
final class UmaskProbe {
    private UmaskProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path state = Path.of(args[0]);
        try (AdminSocket admin = AdminSocket.open(state, request -> request)) {
            for (Path p : new Path[]{state, state.resolve(AdminSocket.LOCK), admin.path()}) {
                System.out.println(p.getFileName() + " " + PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
            }
            try (var entries = Files.list(state)) {
                System.out.println("entries " + entries.map(e -> e.getFileName().toString()).sorted().toList());
            }
        }
    }
}
