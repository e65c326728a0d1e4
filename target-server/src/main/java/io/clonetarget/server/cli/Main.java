package io.clonetarget.server.cli;

import java.io.PrintWriter;

/** The only main(). */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(Cli.commandLine(out, err).execute(args));
    }
}
