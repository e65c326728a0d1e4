package io.clonetarget.server.fuzz;

import java.util.List;

/** What the fuzzer can see of the server's resources; -1 where a value is not known. */
public interface Probe {
    /** Connections the server still holds, logged in or not. */
    int connections();

    /** Sessions the server still holds. */
    int sessions();

    /** Names of the per-connection threads still alive (reader and writer). */
    List<String> connectionThreads();

    int threads();

    int fileDescriptors();

    /** Bytes of direct (off-heap) buffers in use. */
    long directBytes();

    long rssBytes();

    /** Heap in use after a full collection. */
    long heapAfterGc();

    /** Reads a /proc status field in kB as bytes ({@code VmRSS}), or the plain number ({@code Threads}). */
    static long procStatus(String pid, String field) {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", pid, "status"))) {
                if (l.startsWith(field + ":")) {
                    String[] f = l.substring(field.length() + 1).trim().split("\\s+");
                    long v = Long.parseLong(f[0]);
                    return f.length > 1 && f[1].equals("kB") ? v * 1024 : v;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    static int fdCount(String pid) {
        String[] list = new java.io.File("/proc/" + pid + "/fd").list();
        return list == null ? -1 : list.length;
    }
}
