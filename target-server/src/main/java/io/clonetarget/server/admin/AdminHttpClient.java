package io.clonetarget.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A client of the {@link AdminApi} that trusts exactly one certificate: the one whose SHA-256
 * fingerprint it was given (pinned, as the server printed it at its first start). Any other
 * certificate, signed by whoever, ends the handshake. Host names are not checked: the pin is
 * stronger than a name. Thread-safe.
 */
public final class AdminHttpClient {
    /** The server answered with an error (its HTTP status, code and message). */
    public static final class ApiException extends IOException {
        private final int status;
        private final String code;

        ApiException(int status, String code, String message) {
            super(message);
            this.status = status;
            this.code = code;
        }

        public int status() {
            return status;
        }

        public String code() {
            return code;
        }
    }

    /** The server's certificate is not the pinned one. */
    public static final class PinMismatchException extends IOException {
        PinMismatchException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient http;

    public AdminHttpClient(URI base, String fingerprint, String token) {
        this.base = base;
        this.token = token;
        try {
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, new TrustManager[] {new Pinned(TlsIdentity.normalize(fingerprint))}, new SecureRandom());
            this.http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(10)).build();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Runs an admin command (as {@link AdminClient#call} does over the local socket): its
     * route, the {@code "name"} field into the path, the other fields as the body.
     */
    public JsonNode call(String command, com.fasterxml.jackson.databind.node.ObjectNode fields) throws IOException {
        AdminRoutes.Route route = AdminRoutes.of(command);
        com.fasterxml.jackson.databind.node.ObjectNode body = fields == null ? Json.MAPPER.createObjectNode()
                : fields.deepCopy();
        JsonNode nameNode = body.remove("name");
        String name = nameNode == null || nameNode.isNull() ? null : nameNode.asText();
        if (name != null && !name.matches(AdminRoutes.NAME)) {
            throw new ApiException(400, "bad_request", "no volume, target or session named \"" + name + "\"");
        }
        String path = route.path(name);
        return send(route.method(), path, route.method().equals("GET") || body.isEmpty() ? null : body,
                LONG_RUNNING.contains(command) ? null : REQUEST_TIMEOUT);
    }

    /** How long an answer may take, but for the commands that stream a volume (minutes, for a large one). */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    static final java.util.Set<String> LONG_RUNNING = java.util.Set.of("snapshot-export", "snapshot-import");

    public JsonNode get(String path) throws IOException {
        return send("GET", path, null);
    }

    public JsonNode post(String path, JsonNode body) throws IOException {
        return send("POST", path, body);
    }

    public JsonNode put(String path, JsonNode body) throws IOException {
        return send("PUT", path, body);
    }

    /** Sends a request; returns the answer's JSON, or throws the server's error. */
    public JsonNode send(String method, String path, JsonNode body) throws IOException {
        return send(method, path, body, REQUEST_TIMEOUT);
    }

    private JsonNode send(String method, String path, JsonNode body, Duration timeout) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).header("Accept", "application/json");
        if (timeout != null) {
            b.timeout(timeout);
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
            b.method(method, HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body)));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<byte[]> response;
        try {
            response = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (SSLHandshakeException e) {
            if (pinMismatch(e)) {
                throw new PinMismatchException("the server at " + base + " presented another certificate than the pinned "
                        + "one: " + rootMessage(e) + ". If the server's state directory was replaced on purpose, pin the "
                        + "new fingerprint it printed at its start", e);
            }
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        JsonNode answer;
        try {
            answer = response.body().length == 0 ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(response.body());
        } catch (IOException e) {
            throw new IOException("the server answered " + response.statusCode() + " with something that is not JSON", e);
        }
        if (response.statusCode() / 100 != 2) {
            JsonNode err = answer.path("error");
            throw new ApiException(response.statusCode(), err.path("code").asText("http_" + response.statusCode()),
                    err.path("message").asText("the server answered " + response.statusCode()));
        }
        return answer;
    }

    private static boolean pinMismatch(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertificateException && String.valueOf(t.getMessage()).contains("pinned")) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }

    /** Trusts the one certificate with the pinned fingerprint. */
    private static final class Pinned extends X509ExtendedTrustManager {
        private final String fingerprint;

        Pinned(String fingerprint) {
            this.fingerprint = fingerprint;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("no server certificate");
            }
            String got = TlsIdentity.normalize(TlsIdentity.fingerprint(chain[0]));
            if (!got.equals(fingerprint)) {
                throw new CertificateException("certificate SHA-256 " + TlsIdentity.fingerprint(chain[0])
                        + " is not the pinned one");
            }
            chain[0].checkValidity();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a client trust manager only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("a client trust manager only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a client trust manager only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
