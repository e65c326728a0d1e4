package io.clonetarget.server.fuzz;

import io.clonetarget.server.TargetServer;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/** A server in this JVM: its connection and session sets, plus this JVM's threads and memory. */
final class InProcessProbe implements Probe {
    private final TargetServer server;

    InProcessProbe(TargetServer server) {
        this.server = server;
    }

    @Override
    public int connections() {
        return server.context().connections().size();
    }

    @Override
    public int sessions() {
        return server.context().sessions().size();
    }

    @Override
    public List<String> connectionThreads() {
        List<String> names = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && (t.getName().startsWith("iscsi-rx-") || t.getName().startsWith("iscsi-tx-"))) {
                names.add(t.getName());
            }
        }
        return names;
    }

    @Override
    public int threads() {
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }

    @Override
    public int fileDescriptors() {
        return Probe.fdCount("self");
    }

    @Override
    public long directBytes() {
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                return b.getMemoryUsed();
            }
        }
        return -1;
    }

    @Override
    public long rssBytes() {
        return Probe.procStatus("self", "VmRSS");
    }

    @Override
    public long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
