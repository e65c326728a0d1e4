package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.server.admin.AdminApi;
import io.clonetarget.server.admin.AdminClient;
import io.clonetarget.server.admin.AdminHttpClient;
import io.clonetarget.server.admin.Json;
import io.clonetarget.server.admin.TokenStore;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How a CLI command reaches a running server. Through its HTTPS admin API when it can:
 *
 * <ol>
 *   <li>{@code --api URL} (or {@code CLONETARGET_API}): that server, whose certificate must have
 *       the fingerprint of {@code --fingerprint} (or {@code CLONETARGET_FINGERPRINT});
 *   <li>else the server of the state directory ({@code --state-dir}, else the default server's,
 *       else the demo's): it says where its API listens and which certificate it has in
 *       {@value AdminApi#ADVERT}, a file only its user can read.
 * </ol>
 *
 * The token comes from {@code CLONETARGET_TOKEN}, else {@code --token-file}, else the state
 * directory's {@value TokenStore#TOKEN}; never from the command line. A server whose API is off
 * is reached over its local socket instead.
 */
final class ServerLink {
    private final AdminHttpClient api;
    private final Path socket;

    private ServerLink(AdminHttpClient api, Path socket) {
        this.api = api;
        this.socket = socket;
    }

    static ServerLink open(Path stateDir, URI apiUrl, String fingerprint, Path tokenFile) throws IOException {
        return open(stateDir, apiUrl, fingerprint, tokenFile, System.getenv());
    }

    static ServerLink open(Path stateDir, URI apiUrl, String fingerprint, Path tokenFile, Map<String, String> env)
            throws IOException {
        URI url = apiUrl != null ? apiUrl : envUri(env);
        String pin = fingerprint != null ? fingerprint : env.get("CLONETARGET_FINGERPRINT");
        if (url != null) {
            if (pin == null || pin.isBlank()) {
                throw new IOException("--api needs the server's certificate fingerprint: --fingerprint or "
                        + "CLONETARGET_FINGERPRINT (the server logs it at every start)");
            }
            return new ServerLink(new AdminHttpClient(url, pin, token(env, tokenFile, null)), null);
        }
        List<Path> dirs = new ArrayList<>();
        for (Path s : StateDirs.socketCandidates(stateDir)) {
            dirs.add(s.getParent());
        }
        for (Path dir : dirs) {
            Path advert = dir.resolve(AdminApi.ADVERT);
            if (Files.exists(advert)) {
                JsonNode a;
                try {
                    a = Json.MAPPER.readTree(Files.readAllBytes(advert));
                } catch (IOException e) {
                    throw new IOException("cannot read " + advert + ": " + e.getMessage(), e);
                }
                URI advertised = URI.create(a.path("url").asText());
                return new ServerLink(new AdminHttpClient(advertised, pin != null ? pin : a.path("fingerprint").asText(),
                        token(env, tokenFile, dir)), null);
            }
        }
        return new ServerLink(null, StateDirs.socket(stateDir));
    }

    private static URI envUri(Map<String, String> env) throws IOException {
        String v = env.get("CLONETARGET_API");
        if (v == null || v.isBlank()) {
            return null;
        }
        try {
            return URI.create(v.endsWith("/") ? v : v + "/");
        } catch (IllegalArgumentException e) {
            throw new IOException("CLONETARGET_API: \"" + v + "\" is not a URL (https://HOST:PORT/)");
        }
    }

    private static String token(Map<String, String> env, Path tokenFile, Path stateDir) throws IOException {
        String t = env.get("CLONETARGET_TOKEN");
        if (t != null && !t.isBlank()) {
            return t.strip();
        }
        Path file = tokenFile != null ? tokenFile : stateDir == null ? null : stateDir.resolve(TokenStore.TOKEN);
        if (file == null || !Files.isReadable(file)) {
            throw new IOException("no admin API token: set CLONETARGET_TOKEN or --token-file"
                    + (file == null ? "" : " (" + file + " is not there or not readable)"));
        }
        return Files.readString(file, StandardCharsets.US_ASCII).strip();
    }

    /** Runs an admin command on the server and returns its result. */
    JsonNode call(String command, ObjectNode fields) throws IOException {
        if (api == null) {
            return AdminClient.call(socket, command, fields);
        }
        try {
            return api.call(command, fields);
        } catch (ConnectException e) {
            throw new AdminClient.NotRunningException("no clonetarget admin API answers (" + e.getMessage()
                    + "); is the server running? A server that was killed leaves " + AdminApi.ADVERT + " behind");
        }
    }
}
