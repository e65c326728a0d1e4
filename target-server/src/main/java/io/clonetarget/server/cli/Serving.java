package io.clonetarget.server.cli;

import io.clonetarget.server.TargetServer;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * Runs a started server until SIGINT (Ctrl-C) or SIGTERM, then closes it (SIGHUP reloads): connections end,
 * running commands finish, every volume is flushed. The process then exits with status 0.
 * A shutdown hook covers every other way the JVM may end.
 */
final class Serving {
    private Serving() {
    }

    static int untilSignal(TargetServer server, PrintWriter out) throws InterruptedException {
        return untilSignal(server, out, null);
    }

    /** As {@link #untilSignal(TargetServer, PrintWriter)}; SIGHUP runs {@code reload} (on a thread of its own). */
    static int untilSignal(TargetServer server, PrintWriter out, Runnable reload) throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("clonetarget-shutdown")
                .unstarted(server::close));
        for (String name : new String[]{"INT", "TERM"}) {
            Signal.handle(new Signal(name), signal -> stop.countDown());
        }
        if (reload != null) {
            Signal.handle(new Signal("HUP"), signal -> Thread.ofPlatform().name("clonetarget-reload").start(reload));
        }
        ConnectHelp.print(out, server);
        stop.await();
        out.println("stopping: flushing volumes...");
        out.flush();
        server.close();
        out.println("stopped");
        out.flush();
        return ExitCodes.OK;
    }
}
