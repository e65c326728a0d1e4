package io.clonetarget.server.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx (Debian's) on a loopback port, serving {@code www/} of a test directory with
 * byte ranges, and {@code /noranges/} with Range support switched off ({@code max_ranges 0}).
 * Can be stopped and started again on the same port.
 */
final class Nginx implements AutoCloseable {
    final Path dir;
    final Path www;
    final int port;
    private final Path conf;
    private Process process;

    Nginx(Path dir) throws IOException {
        Tools.require("nginx-light", "nginx");
        this.dir = dir;
        this.www = Files.createDirectories(dir.resolve("www"));
        Files.createDirectories(www.resolve("noranges"));
        Files.createDirectories(dir.resolve("tmp"));
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String user = "root".equals(System.getProperty("user.name")) ? "user root root;\n" : "";
        conf = dir.resolve("nginx.conf");
        Files.writeString(conf, user + """
                worker_processes 1;
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log;
                events { worker_connections 64; }
                http {
                    access_log %1$s/access.log;
                    client_body_temp_path %1$s/tmp/body;
                    proxy_temp_path %1$s/tmp/proxy;
                    fastcgi_temp_path %1$s/tmp/fastcgi;
                    uwsgi_temp_path %1$s/tmp/uwsgi;
                    scgi_temp_path %1$s/tmp/scgi;
                    server {
                        listen 127.0.0.1:%2$d;
                        root %3$s;
                        location /noranges/ { max_ranges 0; }
                    }
                }
                """.formatted(dir, port, www));
        start();
    }

    String url(String path) {
        return "http://127.0.0.1:" + port + "/" + path;
    }

    void start() throws IOException {
        process = new ProcessBuilder("nginx", "-c", conf.toString(), "-p", dir.toString(), "-e",
                dir.resolve("error.log").toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("nginx.out").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                if (!process.isAlive()) {
                    throw new IOException("nginx exited: " + Files.readString(dir.resolve("nginx.out"))
                            + (Files.exists(dir.resolve("error.log")) ? Files.readString(dir.resolve("error.log")) : ""));
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException(ie);
                }
            }
        }
        throw new IOException("nginx did not listen on " + port);
    }

    /** Stops nginx at once (SIGTERM: connections are cut, as when a server goes away). */
    void stop() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                process.waitFor(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    String accessLog() throws IOException {
        Path log = dir.resolve("access.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        stop();
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
