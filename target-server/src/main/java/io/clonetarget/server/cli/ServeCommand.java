package io.clonetarget.server.cli;

import io.clonetarget.config.AdminSection;
import io.clonetarget.config.ConfigCheck;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.ServerSection;
import io.clonetarget.server.TargetServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code clonetarget serve}: from a configuration file, the quick form for one target, or (with
 * neither) the configuration saved in the state directory, which every change made while it runs
 * updates; SIGHUP re-reads the file and applies it live.
 */
@Command(name = "serve", sortOptions = false,
        description = {"Serve the targets of a configuration file, one target given on the command line, or (with "
            + "neither) the running configuration saved in the state directory by the last run and every change "
            + "since (an empty server the first time: build it with volume create, target create, lun map).",
            "SIGHUP re-reads --config FILE and applies it live, as clonetarget apply would.",
            "",
            "  clonetarget serve --state-dir /var/lib/clonetarget",
            "  clonetarget serve --config /etc/clonetarget/clonetarget.toml",
            "  clonetarget serve --listen 127.0.0.1:3260 --target iqn.2026-11.com.example:disk1 \\",
            "      --lun /var/lib/disk1.img,size=10G --clone /images/golden.img,dest=/var/lib/vm1.img"})
final class ServeCommand implements Callable<Integer> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ServeCommand.class);
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
        if (config != null || !specs.isEmpty()) {
            noteSavedDifferences(cfg);
        }
        TargetServer server = TargetServer.start(cfg);
        return Serving.untilSignal(server, spec.commandLine().getOut(), () -> reload(server));
    }

    /** The saved running configuration, or null when the state directory has none. */
    private Path saved(ServerConfig cfg) {
        Path file = Path.of(cfg.server().stateDir()).resolve(TargetServer.RUNNING_CONFIG);
        return java.nio.file.Files.exists(file) ? file : null;
    }

    /** Says what of the saved running configuration a start from a file or the quick form leaves behind. */
    private void noteSavedDifferences(ServerConfig cfg) {
        Path file = saved(cfg);
        if (file == null) {
            return;
        }
        try {
            ServerConfig before = ConfigFiles.read(file);
            List<io.clonetarget.config.ConfigChange> changes = io.clonetarget.config.ConfigDiff.between(before, cfg);
            if (!changes.isEmpty()) {
                java.io.PrintWriter err = spec.commandLine().getErr();
                err.println("note: starting from " + (config != null ? config : "the command line") + "; the running "
                        + "configuration saved in " + file + " differs by " + changes.size() + " change(s), which this "
                        + "start replaces:");
                for (io.clonetarget.config.ConfigChange c : changes) {
                    err.println("  " + c.describe());
                }
                err.println("(start without --config to keep the saved one, or make the file the desired state)");
                err.flush();
            }
        } catch (IOException | io.clonetarget.config.ConfigException e) {
            spec.commandLine().getErr().println("note: the saved running configuration " + file + " cannot be read ("
                    + e.getMessage() + "); starting from " + (config != null ? config : "the command line"));
        }
    }

    /** SIGHUP: re-reads the configuration file and applies it live (no --force). */
    private void reload(TargetServer server) {
        java.io.PrintWriter out = spec.commandLine().getOut();
        if (config == null) {
            LOG.info("SIGHUP: nothing to reload (the server was not started with --config)");
            return;
        }
        try {
            ServerConfig desired = resolve(ConfigCheck.NONE);
            io.clonetarget.server.ApplyResult r = server.apply(desired, false, false);
            String text = ChangeCommands.describe(io.clonetarget.server.admin.Json.MAPPER.valueToTree(r), false);
            LOG.info("SIGHUP: reloaded {}:\n{}", config, text.strip());
            out.print(text);
            out.flush();
        } catch (io.clonetarget.config.ConfigException e) {
            LOG.error("SIGHUP: {} is not valid, nothing changed: {}", config, e.getMessage());
        } catch (Exception e) {
            LOG.error("SIGHUP: reloading {} failed, nothing changed: {}", config, e.getMessage());
        }
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
            if (target != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--target needs at least one --lun or --clone");
            }
            return restore(check);
        }
        try {
            ServerConfig quick = QuickForm.build(listen, target, specs, stateDirOrDefault(), ioThreads, check);
            return adminListen == null ? quick : ConfigFiles.validate(
                    quick.withAdmin(new AdminSection(adminListen, null)), "command line", ConfigCheck.NONE);
        } catch (QuickForm.SpecException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /**
     * The state directory's saved running configuration (with the command line's overrides), or
     * an empty server when there is none yet.
     */
    private ServerConfig restore(ConfigCheck check) throws Exception {
        Path dir = Path.of(stateDirOrDefault());
        Path file = dir.resolve(TargetServer.RUNNING_CONFIG);
        ServerConfig base;
        if (java.nio.file.Files.exists(file)) {
            base = ConfigFiles.read(file, check);
            LOG.info("restoring the running configuration saved in {}", file);
        } else {
            base = new ServerConfig(ServerSection.defaults(), null, null, List.of(), List.of());
            LOG.info("no saved configuration in {}: starting with no targets", dir);
        }
        ServerSection server = base.server().withStateDir(dir.toString());
        if (!listen.isEmpty()) {
            server = server.withListen(listen);
        }
        if (ioThreads != null) {
            server = new ServerSection(server.listen(), server.stateDir(), ioThreads, server.loginTimeout(),
                    server.nopInterval(), server.nopTimeout(), server.limits(), server.spaceWarning(),
                    server.taskWait());
        }
        ServerConfig merged = base.withServer(server);
        if (adminListen != null) {
            merged = merged.withAdmin(new AdminSection(adminListen, merged.admin().metricsPublic()));
        }
        return ConfigFiles.validate(merged, "command line", ConfigCheck.NONE);
    }
}
