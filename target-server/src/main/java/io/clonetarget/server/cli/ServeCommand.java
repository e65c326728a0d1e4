package io.clonetarget.server.cli;

import io.clonetarget.config.AdminSection;
import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.server.TargetServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code clonetarget serve}: from a configuration file, or the quick form for one target. */
@Command(name = "serve", sortOptions = false,
        description = {"Serve the targets of a configuration file, or one target given on the command line.",
            "",
            "  clonetarget serve --config /etc/clonetarget/clonetarget.toml",
            "  clonetarget serve --listen 127.0.0.1:3260 --target iqn.2026-11.com.example:disk1 \\",
            "      --lun /var/lib/disk1.img,size=10G --clone /images/golden.img,dest=/var/lib/vm1.img"})
final class ServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (TOML).")
    Path config;

    @Option(names = "--listen", paramLabel = "ADDR:PORT",
            description = "Portal to listen on; repeatable. Default 127.0.0.1:3260.")
    List<String> listen = new ArrayList<>();

    @Option(names = "--target", paramLabel = "IQN", description = "Target name for the quick form. Default "
            + QuickForm.DEFAULT_IQN + ".")
    String target;

    @Option(names = "--lun", paramLabel = "PATH[,size=SIZE][,block-size=512|4096][,read-only]",
            parameterConsumer = InOrder.class,
            description = "A file LUN; repeatable, numbered from 0 in order with --clone. A missing file is "
                    + "created sparse with the given size; a read-only one is opened read-only and never created.")
    List<String> luns = new ArrayList<>();

    @Option(names = "--clone", paramLabel = "SOURCE,dest=PATH[,region=64K][,rate=SIZE][,hydrate-on-read]",
            parameterConsumer = InOrder.class,
            description = "A clone LUN of SOURCE (file, block device or http(s) URL) hydrating into PATH; repeatable. "
                    + "Also: metadata=PATH, in-flight=N, batch=N, paused, block-size=N, discard-passdown=no, "
                    + "overwrite-destination (start a new clone over a PATH that has no valid metadata).")
    List<String> clones = new ArrayList<>();

    /** Keeps --lun and --clone in command-line order: that order numbers the LUNs. */
    static final class InOrder implements CommandLine.IParameterConsumer {
        @Override
        public void consumeParameters(java.util.Stack<String> args, CommandLine.Model.ArgSpec argSpec,
                                      CommandLine.Model.CommandSpec commandSpec) {
            String option = ((CommandLine.Model.OptionSpec) argSpec).longestName();
            if (args.isEmpty()) {
                throw new CommandLine.ParameterException(commandSpec.commandLine(), "Missing value for " + option);
            }
            ((ServeCommand) commandSpec.userObject()).specs.add(new QuickForm.Spec(option.equals("--clone"), args.pop()));
        }
    }

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Directory for the server's own files (admin "
            + "socket, lock). Default: [server] state-dir, else $STATE_DIRECTORY, else $XDG_STATE_HOME/clonetarget, "
            + "else ~/.local/state/clonetarget.")
    Path stateDir;

    @Option(names = "--io-threads", paramLabel = "N", description = "Threads running SCSI commands. Default 16.")
    Integer ioThreads;

    @Option(names = "--admin-listen", paramLabel = "ADDR:PORT|off", description = "Where the HTTPS admin API "
            + "listens, or off. Default: [admin] listen, else 127.0.0.1:3261.")
    String adminListen;

    private final List<QuickForm.Spec> specs = new ArrayList<>();

    private String stateDirOrDefault() {
        return (stateDir != null ? stateDir : StateDirs.serverDefault()).toAbsolutePath().toString();
    }

    @Override
    public Integer call() throws Exception {
        // everything start would fail on is refused first, before a single file is created
        ServerConfig cfg = resolve(TargetServer::check);
        TargetServer server = TargetServer.start(cfg);
        return Serving.untilSignal(server, spec.commandLine().getOut());
    }

    /** The configuration to serve, validated and checked with {@code check}. */
    ServerConfig resolve(ConfigCheck check) throws Exception {
        if (config != null) {
            if (!specs.isEmpty() || target != null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--config cannot be combined with --target, --lun or --clone");
            }
            ServerConfig file = ConfigFiles.read(config, check);
            ServerSection server = file.server();
            if (!listen.isEmpty()) {
                server = server.withListen(listen);
            }
            if (stateDir != null || server.stateDir() == null) {
                server = server.withStateDir(stateDirOrDefault());
            }
            ServerConfig merged = file.withServer(server);
            if (adminListen != null) {
                merged = merged.withAdmin(new AdminSection(adminListen, merged.admin().metricsPublic()));
            }
            return listen.isEmpty() && adminListen == null ? merged
                    : ConfigFiles.validate(merged, "command line", ConfigCheck.NONE);
        }
        if (specs.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "give --config FILE, or at least one --lun or --clone");
        }
        try {
            ServerConfig quick = QuickForm.build(listen, target, specs, stateDirOrDefault(), ioThreads, check);
            return adminListen == null ? quick : ConfigFiles.validate(
                    quick.withAdmin(new AdminSection(adminListen, null)), "command line", ConfigCheck.NONE);
        } catch (QuickForm.SpecException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
