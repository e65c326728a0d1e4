package io.clonetarget.server.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code clonetarget completion bash|zsh}: a shell completion script for every command and
 * option, generated from the command model itself (picocli), so it cannot fall behind.
 */
@Command(name = "completion", description = {"Print a shell completion script.",
    "bash: source <(clonetarget completion bash); zsh: source <(clonetarget completion zsh)"})
final class CompletionCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "SHELL", description = "bash or zsh.")
    String shell;

    @Override
    public void run() {
        CommandLine root = spec.root().commandLine();
        String script = AutoComplete.bash("clonetarget", root);
        switch (shell) {
            case "bash" -> spec.commandLine().getOut().print(script);
            case "zsh" -> spec.commandLine().getOut().print(
                    "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + script);
            default -> throw new CommandLine.ParameterException(spec.commandLine(),
                    "SHELL: \"" + shell + "\" is not bash or zsh");
        }
        spec.commandLine().getOut().flush();
    }
}
