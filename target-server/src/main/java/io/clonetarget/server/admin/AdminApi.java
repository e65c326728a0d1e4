package io.clonetarget.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.clonetarget.server.auth.FailureThrottle;
import io.clonetarget.server.metrics.ServerMetrics;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API: HTTPS and JSON, every request with {@code Authorization: Bearer TOKEN} (see
 * {@link TokenStore}). It answers the same commands as the local {@link AdminSocket}, through
 * the same {@link AdminSocket.Handler}, at the REST paths of {@link AdminRoutes}:
 *
 * <pre>
 * GET  /v1/status                     status
 * GET  /v1/clones                     clone-status (all)
 * GET  /v1/clones/NAME                clone-status of one
 * POST /v1/clones[/NAME]/pause        clone-pause
 * POST /v1/clones[/NAME]/resume       clone-resume
 * PUT  /v1/clones[/NAME]/rate         clone-rate, body {"rate": "50M"}
 * GET  /metrics                       the Prometheus text format (no token with metrics-public)
 * GET  /ui                            the status page (static; it reads the API with the token)
 * </pre>
 *
 * Errors are {@code {"error": {"code": "...", "message": "..."}}} with the HTTP status that
 * fits: 400 a request the handler refused, 401 no or a wrong token (a wrong one answered only
 * after the {@link FailureThrottle} turn of its address), 404 no such path, 405 another method,
 * 413 a body over 1 MiB, 409 and 422 for a configuration change that cannot be made (see AdminCommands), 500 a failure of ours. Requests run on virtual threads; the JDK's
 * server closes connections idle for 30 s and requests that take over 10 s to arrive.
 */
public final class AdminApi implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminApi.class);
    static final int MAX_BODY = 1024 * 1024; // a configuration of a few thousand targets
    /** Where a running server says how to reach its API (URL and certificate fingerprint) for the local CLI. */
    public static final String ADVERT = "admin-api.json";

    static {
        // the JDK server's own limits (read once, when its first server is made): no slow-loris
        System.setProperty("sun.net.httpserver.maxReqTime", System.getProperty("sun.net.httpserver.maxReqTime", "10"));
        // no limit on the response: the JDK counts the handler's time in it (from the request's last byte),
        // and an export-diff or import-diff of a large volume runs for minutes; answers are small JSON
        System.setProperty("sun.net.httpserver.maxRspTime", System.getProperty("sun.net.httpserver.maxRspTime", "-1"));
        System.setProperty("sun.net.httpserver.idleInterval",
                System.getProperty("sun.net.httpserver.idleInterval", "30"));
        System.setProperty("sun.net.httpserver.maxConnections",
                System.getProperty("sun.net.httpserver.maxConnections", "256"));
    }

    private final HttpsServer server;
    private final ExecutorService executor;
    private final TokenStore tokens;
    private final FailureThrottle throttle;
    private final AdminSocket.Handler handler;
    private final ServerMetrics metrics;
    private final boolean metricsPublic;
    private Path advert;

    private AdminApi(HttpsServer server, ExecutorService executor, TokenStore tokens, FailureThrottle throttle,
                     AdminSocket.Handler handler, ServerMetrics metrics, boolean metricsPublic) {
        this.server = server;
        this.executor = executor;
        this.tokens = tokens;
        this.throttle = throttle;
        this.handler = handler;
        this.metrics = metrics;
        this.metricsPublic = metricsPublic;
    }

    /** Starts serving on {@code address} (port 0: any free one). */
    public static AdminApi start(InetSocketAddress address, TlsIdentity identity, TokenStore tokens,
                                 FailureThrottle throttle, AdminSocket.Handler handler, ServerMetrics metrics,
                                 boolean metricsPublic) throws IOException {
        HttpsServer server = HttpsServer.create(address, 64);
        SSLContext tls = identity.sslContext();
        server.setHttpsConfigurator(new HttpsConfigurator(tls) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = tls.getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                p.setNeedClientAuth(false);
                params.setSSLParameters(p);
            }
        });
        ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("admin-api-", 0).factory());
        server.setExecutor(executor);
        AdminApi api = new AdminApi(server, executor, tokens, throttle, handler, metrics, metricsPublic);
        server.createContext("/", api::exchange);
        server.start();
        LOG.info("admin API on https://{}/ (certificate SHA-256 {})", io.clonetarget.config.Endpoint.format(
                server.getAddress()), identity.fingerprint());
        return api;
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** The URL clients on this host use: a wildcard listen address is reached on loopback. */
    public URI url() {
        InetSocketAddress a = server.getAddress();
        InetAddress host = a.getAddress().isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : a.getAddress();
        String h = host instanceof java.net.Inet6Address ? "[" + host.getHostAddress() + "]" : host.getHostAddress();
        return URI.create("https://" + h + ":" + a.getPort() + "/");
    }

    /**
     * Writes {@value #ADVERT} into {@code stateDir} (URL and fingerprint, mode 0600), removed
     * again at {@link #close}, so that the CLI finds a server whose API listens elsewhere.
     */
    public void advertise(Path stateDir, TlsIdentity identity) throws IOException {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("url", url().toString());
        o.put("fingerprint", identity.fingerprint());
        o.put("pid", ProcessHandle.current().pid());
        Path file = stateDir.resolve(ADVERT);
        PrivateFiles.write(file, Json.MAPPER.writeValueAsBytes(o));
        advert = file;
    }

    private void exchange(HttpExchange ex) throws IOException {
        try (ex) {
            String peer = ex.getRemoteAddress().getAddress().getHostAddress();
            String path = ex.getRequestURI().getPath();
            if (path.equals("/ui") || path.startsWith("/ui/")) {
                page(ex, path);
                return;
            }
            boolean scrape = path.equals("/metrics");
            if (scrape && metricsPublic) {
                metrics(ex);
                return;
            }
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !auth.startsWith("Bearer ")) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Bearer");
                error(ex, 401, "unauthorized", "no bearer token (Authorization: Bearer TOKEN; the first token is in "
                        + "STATE_DIR/" + TokenStore.TOKEN + ")");
                return;
            }
            if (!authenticated(peer, auth.substring(7).strip())) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Bearer error=\"invalid_token\"");
                error(ex, 401, "unauthorized", "the token is not valid");
                return;
            }
            if (scrape) {
                metrics(ex);
            } else {
                route(ex);
            }
        } catch (RuntimeException e) {
            LOG.error("admin API request {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
            try {
                error(ex, 500, "internal", "the request failed inside the server; see its log");
            } catch (IOException | RuntimeException ignored) {
                // the answer was already under way
            }
        }
    }

    /** The status page's three static files: no data in them, so no token (the data needs one). */
    private static final java.util.Map<String, String[]> PAGE = java.util.Map.of(
            "/ui", new String[] {"status.html", "text/html; charset=utf-8"},
            "/ui/", new String[] {"status.html", "text/html; charset=utf-8"},
            "/ui/status.js", new String[] {"status.js", "text/javascript; charset=utf-8"},
            "/ui/status.css", new String[] {"status.css", "text/css; charset=utf-8"});

    private static void page(HttpExchange ex, String path) throws IOException {
        String[] file = PAGE.get(path);
        if (file == null) {
            error(ex, 404, "not_found", "no such path: " + path);
            return;
        }
        if (!ex.getRequestMethod().equals("GET")) {
            error(ex, 405, "method_not_allowed", ex.getRequestMethod() + " is not allowed on " + path);
            return;
        }
        byte[] body;
        try (InputStream in = AdminApi.class.getResourceAsStream(file[0])) {
            if (in == null) {
                throw new IllegalStateException("status page resource " + file[0] + " missing from the jar");
            }
            body = in.readAllBytes();
        }
        var h = ex.getResponseHeaders();
        h.set("Content-Type", file[1]);
        h.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "no-referrer");
        h.set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    private void metrics(HttpExchange ex) throws IOException {
        if (!ex.getRequestMethod().equals("GET")) {
            error(ex, 405, "method_not_allowed", ex.getRequestMethod() + " is not allowed on /metrics");
            return;
        }
        byte[] text = metrics.scrape();
        ex.getResponseHeaders().set("Content-Type", ServerMetrics.contentType());
        ex.sendResponseHeaders(200, text.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(text);
        }
    }

    private boolean authenticated(String peer, String token) {
        try {
            if (!throttle.awaitTurn(peer, null)) {
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        if (tokens.verify(token)) {
            return true;
        }
        throttle.failed(peer, null);
        LOG.warn("admin API: a wrong token from {}", peer);
        try {
            throttle.sleep(throttle.penaltyNanos(peer)); // the refusal itself is slow, not only the next try
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    private void route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        boolean pathKnown = false;
        for (AdminRoutes.Route r : AdminRoutes.ROUTES) {
            Matcher m = r.path().matcher(path);
            if (!m.matches()) {
                continue;
            }
            pathKnown = true;
            if (!r.method().equals(ex.getRequestMethod())) {
                continue;
            }
            ObjectNode request;
            try {
                request = body(ex);
            } catch (BodyException e) {
                error(ex, e.status, e.code, e.getMessage());
                return;
            }
            request.put("command", r.command());
            if (m.groupCount() >= 1 && m.group(1) != null) {
                request.put("name", m.group(1));
            }
            JsonNode result;
            try {
                result = handler.handle(request);
            } catch (AdminError e) {
                error(ex, e.status(), e.code(), e.getMessage());
                return;
            } catch (IllegalArgumentException e) {
                error(ex, 400, "bad_request", e.getMessage());
                return;
            }
            send(ex, 200, result);
            return;
        }
        if (pathKnown) {
            error(ex, 405, "method_not_allowed", ex.getRequestMethod() + " is not allowed on " + path);
        } else {
            error(ex, 404, "not_found", "no such path: " + path + " (see docs/operations.md, Admin API)");
        }
    }

    private static final class BodyException extends Exception {
        final int status;
        final String code;

        BodyException(int status, String code, String message) {
            super(message);
            this.status = status;
            this.code = code;
        }
    }

    private static ObjectNode body(HttpExchange ex) throws IOException, BodyException {
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        }
        if (bytes.length > MAX_BODY) {
            throw new BodyException(413, "too_large", "the request body is over " + MAX_BODY + " bytes");
        }
        if (bytes.length == 0) {
            return Json.MAPPER.createObjectNode();
        }
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(bytes);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BodyException(400, "bad_json", "the body is not JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode o)) {
            throw new BodyException(400, "bad_json", "the body must be a JSON object");
        }
        o.remove("command");
        o.remove("name");
        return o;
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ObjectNode e = o.putObject("error");
        e.put("code", code);
        e.put("message", message);
        send(ex, status, o);
    }

    private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = Json.MAPPER.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        if (advert != null) {
            try {
                Files.deleteIfExists(advert);
            } catch (IOException e) {
                LOG.warn("cannot remove {}: {}", advert, e.getMessage());
            }
        }
    }
}
