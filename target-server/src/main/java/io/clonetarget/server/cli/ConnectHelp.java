package io.clonetarget.server.cli;

import io.clonetarget.config.Endpoint;
import io.clonetarget.server.OpenVolume;
import io.clonetarget.server.TargetServer;
import io.clonetarget.server.scsi.LogicalUnit;
import io.clonetarget.server.target.TargetNode;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;

/** Prints what a server serves and the commands to connect to it. */
final class ConnectHelp {
    private ConnectHelp() {
    }

    static void print(PrintWriter out, TargetServer server) {
        InetSocketAddress first = server.addresses().getFirst();
        if (first.getAddress().isAnyLocalAddress()) {
            first = new InetSocketAddress(InetAddress.getLoopbackAddress(), first.getPort());
        }
        String portal = Endpoint.format(first);
        out.println("clonetarget " + VersionCommand.version() + " is serving on "
                + String.join(", ", server.addresses().stream().map(Endpoint::format).toList()));
        if (server.context().targets().isEmpty()) {
            String cmd = System.getProperty("clonetarget.command", "clonetarget");
            String dir = server.config().server().stateDir();
            String at = dir == null ? "" : " --state-dir " + dir;
            out.println("  no targets yet; build one live (saved in the state directory), e.g.:");
            out.println("    " + cmd + " clone create vm1 --source IMAGE --path FILE" + at);
            out.println("    " + cmd + " target create iqn.2026-12.com.example:vm1" + at);
            out.println("    " + cmd + " lun map iqn.2026-12.com.example:vm1 vm1" + at);
            out.println("  or: " + cmd + " apply -f FILE" + at);
        }
        for (TargetNode t : server.context().targets()) {
            out.println("  target " + t.name());
            for (Map.Entry<Integer, TargetNode.Exported> e : t.luns(null).entrySet()) {
                LogicalUnit unit = e.getValue().unit();
                out.printf("    lun %-3d %-10s %s%n", e.getKey(), human(unit.capacity()), describe(server, unit));
            }
        }
        out.println();
        out.println("Connect with the Linux initiator (open-iscsi):");
        out.println("  iscsiadm -m discovery -t sendtargets -p " + portal);
        for (TargetNode t : server.context().targets()) {
            out.println("  iscsiadm -m node -T " + t.name() + " -p " + portal + " --login");
        }
        out.println("or with libiscsi:");
        out.println("  iscsi-ls -s iscsi://" + portal);
        for (TargetNode t : server.context().targets()) {
            Integer lun = t.luns(null).isEmpty() ? 0 : t.luns(null).firstKey();
            out.println("  iscsi-inq iscsi://" + portal + "/" + t.name() + "/" + lun);
        }
        boolean clones = server.volumes().values().stream()
                .anyMatch(v -> v.device() instanceof io.clonetarget.storage.clone.CloneVolume);
        if (clones && server.adminSocket() != null) {
            out.println("Watch hydration:");
            out.println("  " + System.getProperty("clonetarget.command", "clonetarget") + " clone status --watch --state-dir "
                    + server.adminSocket().getParent());
        }
        if (server.adminApiUrl() != null) {
            out.println("Admin API (status page at /ui; the token is in "
                    + server.adminSocket().getParent().resolve(io.clonetarget.server.admin.TokenStore.TOKEN) + "):");
            out.println("  " + server.adminApiUrl() + "  certificate SHA-256 " + server.adminFingerprint());
        }
        out.println("Stop with Ctrl-C (everything is flushed first).");
        out.flush();
    }

    private static String describe(TargetServer server, LogicalUnit unit) {
        for (OpenVolume v : server.volumes().values()) {
            if (v.identity().equals(unit.identity()) || v.identity() == unit.identity()) {
                return v.name() + ": " + v.description();
            }
        }
        return "";
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(v >= 100 || v == Math.floor(v) ? "%.0f %s" : "%.1f %s", v, units[u]);
    }
}
