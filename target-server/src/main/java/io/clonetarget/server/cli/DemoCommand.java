package io.clonetarget.server.cli;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.config.TargetConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.TargetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code clonetarget demo}: a ready-made target on loopback, to see the product at once. */
@Command(name = "demo", description = {"Serve a demo target on 127.0.0.1:3260 from a state directory it creates,",
    "and print how to connect."})
final class DemoCommand implements Callable<Integer> {
    static final String IQN = "iqn.2026-11.io.clonetarget:demo";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the demo keeps its images. Default $XDG_STATE_HOME/clonetarget/demo "
                    + "(~/.local/state/clonetarget/demo).")
    Path stateDir;

    @Option(names = "--listen", paramLabel = "ADDR:PORT", description = "Default 127.0.0.1:3260.")
    String listen = ServerSection.DEFAULT_LISTEN;

    @Option(names = "--size", paramLabel = "SIZE", description = "Size of the demo disk. Default 1G.")
    String size = "1G";

    static Path defaultStateDir() {
        String xdg = System.getenv("XDG_STATE_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "state");
        return base.resolve("clonetarget").resolve("demo");
    }

    @Override
    public Integer call() throws Exception {
        Path dir = (stateDir != null ? stateDir : defaultStateDir()).toAbsolutePath();
        Files.createDirectories(dir);
        ByteSize bytes;
        try {
            bytes = ByteSize.parse(size);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--size: " + e.getMessage());
        }
        VolumeConfig disk = VolumeConfig.file("demo", dir.resolve("demo.img").toString(), bytes);
        ServerConfig config = new ServerConfig(
                new ServerSection(List.of(listen), dir.toString(), null, null, null, null), null, null,
                List.of(disk), List.of(new TargetConfig(IQN, "clonetarget demo", null, null,
                        List.of(new LunConfig(0, "demo")))));
        var problems = io.clonetarget.config.ConfigValidator.validate(config);
        if (!problems.isEmpty()) {
            throw new io.clonetarget.config.ConfigException("demo", problems);
        }
        spec.commandLine().getOut().println("demo state directory: " + dir);
        TargetServer server = TargetServer.start(config);
        return Serving.untilSignal(server, spec.commandLine().getOut());
    }
}
