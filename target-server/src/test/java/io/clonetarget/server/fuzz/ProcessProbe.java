package io.clonetarget.server.fuzz;

import java.util.List;

/** A server in another process, seen through /proc: threads, descriptors and RSS only. */
public final class ProcessProbe implements Probe {
    private final String pid;

    public ProcessProbe(long pid) {
        this.pid = Long.toString(pid);
    }

    @Override
    public int connections() {
        return -1;
    }

    @Override
    public int sessions() {
        return -1;
    }

    @Override
    public List<String> connectionThreads() {
        return List.of();
    }

    @Override
    public int threads() {
        return (int) Probe.procStatus(pid, "Threads");
    }

    @Override
    public int fileDescriptors() {
        return Probe.fdCount(pid);
    }

    @Override
    public long directBytes() {
        return -1;
    }

    @Override
    public long rssBytes() {
        return Probe.procStatus(pid, "VmRSS");
    }

    @Override
    public long heapAfterGc() {
        return -1;
    }
}
