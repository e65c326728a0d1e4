package io.clonetarget.server.it;

import io.clonetarget.config.AdminSection;
import io.clonetarget.config.ByteSize;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.TargetServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A target started in-process on an ephemeral loopback port, with file LUNs in a directory. */
final class TestTarget implements AutoCloseable {
    static final String IQN = "iqn.2026-11.io.clonetarget:it";
    final TargetServer server;
    final Path dir;

    private TestTarget(TargetServer server, Path dir) {
        this.server = server;
        this.dir = dir;
    }

    /** One target with {@code luns} file LUNs of {@code size} bytes each. */
    static TestTarget start(Path dir, long size, int luns) throws IOException {
        List<VolumeConfig> volumes = new ArrayList<>();
        List<LunConfig> lunConfigs = new ArrayList<>();
        for (int i = 0; i < luns; i++) {
            volumes.add(VolumeConfig.file("v" + i, dir.resolve("lun" + i + ".img").toString(), ByteSize.ofBytes(size)));
            lunConfigs.add(new LunConfig(i, "v" + i));
        }
        return start(dir, volumes, lunConfigs);
    }

    static TestTarget start(Path dir, List<VolumeConfig> volumes, List<LunConfig> luns) throws IOException {
        return start(dir, config(dir, volumes, luns), io.clonetarget.server.Volumes::open);
    }

    /** The configuration {@link #start(Path, long, int)} uses, to be varied by a test. */
    static ServerConfig config(Path dir, List<VolumeConfig> volumes, List<LunConfig> luns) {
        return new ServerConfig(new ServerSection(List.of("127.0.0.1:0"), dir.toString(), 8, null, null, null),
                null, null, volumes, List.of(new TargetConfig(IQN, null, null, null, luns)),
                new AdminSection("127.0.0.1:0", null));
    }

    /** One file LUN of {@code size} bytes, as a volume list. */
    static List<VolumeConfig> oneFile(Path dir, long size) {
        return List.of(VolumeConfig.file("v0", dir.resolve("lun0.img").toString(), ByteSize.ofBytes(size)));
    }

    static TestTarget start(Path dir, ServerConfig config, TargetServer.VolumeOpener opener) throws IOException {
        return new TestTarget(TargetServer.start(config, opener), dir);
    }

    int port() {
        return server.addresses().getFirst().getPort();
    }

    String portal() {
        return "127.0.0.1:" + port();
    }

    String url(int lun) {
        return "iscsi://" + portal() + "/" + IQN + "/" + lun;
    }

    Path image(int lun) {
        return dir.resolve("lun" + lun + ".img");
    }

    @Override
    public void close() {
        server.close();
    }
}
