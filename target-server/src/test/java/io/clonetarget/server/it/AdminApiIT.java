package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.server.admin.AdminHttpClient;
import io.clonetarget.server.admin.AdminHttpClient.ApiException;
import io.clonetarget.server.admin.Json;
import io.clonetarget.server.admin.TlsIdentity;
import io.clonetarget.server.admin.TokenStore;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTPS admin API against a real server: tokens, pinning, errors, persistence (issue 8). */
class AdminApiIT {
    @TempDir
    Path dir;

    private static String fingerprint(Path stateDir) throws Exception {
        return TlsIdentity.loadOrCreate(stateDir, java.util.List.of()).fingerprint();
    }

    private static URI base(TestTarget t) {
        return URI.create("https://127.0.0.1:" + t.server.adminApi().getPort() + "/");
    }

    @Test
    void tokensAreRequiredAndWrongOnesAreAnsweredSlowly() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1)) {
            Path tokenFile = dir.resolve(TokenStore.TOKEN);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)));
            String token = Files.readString(tokenFile).strip();
            assertTrue(!Files.readString(dir.resolve(TokenStore.HASHES)).contains(token), "no token in the hash file");
            String pin = fingerprint(dir);

            ApiException none = assertThrows(ApiException.class, () -> new AdminHttpClient(base(t), pin, null).get("/v1/status"));
            assertEquals(401, none.status());
            assertEquals("unauthorized", none.code());

            AdminHttpClient wrong = new AdminHttpClient(base(t), pin, "ct_" + "x".repeat(43));
            for (long atLeastMillis : new long[] {1000, 2000}) {
                long start = System.nanoTime();
                ApiException e = assertThrows(ApiException.class, () -> wrong.get("/v1/status"));
                long took = (System.nanoTime() - start) / 1_000_000;
                assertEquals(401, e.status());
                assertTrue(took >= atLeastMillis, "a wrong token is refused after " + atLeastMillis + " ms, not " + took);
            }

            AdminHttpClient ok = new AdminHttpClient(base(t), pin, token);
            JsonNode status = ok.get("/v1/status");
            assertEquals(ProcessHandle.current().pid(), status.path("pid").asLong());
            assertEquals(t.portal(), status.path("listen").path(0).asText());
            assertTrue(ok.get("/v1/clones").isArray());
        }
    }

    @Test
    void errorsCarryACodeAndAMessage() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1)) {
            AdminHttpClient api = new AdminHttpClient(base(t), fingerprint(dir),
                    Files.readString(dir.resolve(TokenStore.TOKEN)).strip());
            ApiException missing = assertThrows(ApiException.class, () -> api.get("/v1/nothing-here"));
            assertEquals(404, missing.status());
            assertEquals("not_found", missing.code());
            ApiException method = assertThrows(ApiException.class, () -> api.send("DELETE", "/v1/status", null));
            assertEquals(405, method.status());
            ApiException noClone = assertThrows(ApiException.class, () -> api.get("/v1/clones/vm9"));
            assertEquals(400, noClone.status());
            assertTrue(noClone.getMessage().contains("no clone volume named \"vm9\""), noClone.getMessage());
            ApiException big = assertThrows(ApiException.class, () -> api.put("/v1/clones/rate",
                    Json.MAPPER.createObjectNode().put("rate", "x".repeat(1_100_000))));
            assertEquals(413, big.status());
            ApiException notObject = assertThrows(ApiException.class, () -> api.put("/v1/clones/rate",
                    Json.MAPPER.createArrayNode()));
            assertEquals(400, notObject.status());
            assertEquals("bad_json", notObject.code());
        }
    }

    @Test
    void theCertificatePersistsAndAClientPinningAnotherRefusesTheServer() throws Exception {
        String first;
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1)) {
            first = fingerprint(dir);
        }
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1)) {
            assertEquals(first, fingerprint(dir), "the same certificate after a restart");
            String token = Files.readString(dir.resolve(TokenStore.TOKEN)).strip();
            assertTrue(new AdminHttpClient(base(t), first.toLowerCase(), token).get("/v1/status").has("pid"),
                    "a pin matches whatever its case");
            String other = fingerprint(dir.resolve("elsewhere"));
            assertNotEquals(first, other);
            AdminHttpClient.PinMismatchException e = assertThrows(AdminHttpClient.PinMismatchException.class,
                    () -> new AdminHttpClient(base(t), other, token).get("/v1/status"));
            assertTrue(e.getMessage().contains("pinned"), e.getMessage());
        }
    }

    private static String scrape(TestTarget t, String token) throws Exception {
        java.net.http.HttpResponse<String> r = insecure().send(java.net.http.HttpRequest.newBuilder(
                base(t).resolve("/metrics")).headers(token == null ? new String[] {"Accept", "text/plain"}
                        : new String[] {"Authorization", "Bearer " + token}).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + "\n" + r.body();
    }

    /** A client that trusts any certificate, as curl -k: only for scraping on loopback in this test. */
    private static java.net.http.HttpClient insecure() throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509ExtendedTrustManager() {
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) { }
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) { }
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a, java.net.Socket s) { }
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a, java.net.Socket s) { }
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a, javax.net.ssl.SSLEngine e) { }
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a, javax.net.ssl.SSLEngine e) { }
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        }}, null);
        return java.net.http.HttpClient.newBuilder().sslContext(ctx).build();
    }

    @Test
    void metricsCountCommandsBytesAndLoginsAndNeedTheTokenUnlessPublic() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1)) {
            String token = Files.readString(dir.resolve(TokenStore.TOKEN)).strip();
            try (RawInitiator i = new RawInitiator(t.port())) {
                i.login(TestTarget.IQN);
                assertEquals(0, i.write10(0, 0, new byte[8192], false).status());
                for (int n = 0; n < 3; n++) {
                    assertEquals(0, i.read10(0, 0, 16).status());
                }
                String text = scrape(t, token);
                assertTrue(text.startsWith("200\n"), text);
                String lun = "op=\"read\",target=\"" + TestTarget.IQN + "\",volume=\"v0\"";
                assertTrue(text.contains("clonetarget_lun_commands_total{" + lun + "} 3.0"), text);
                assertTrue(text.contains("clonetarget_lun_bytes_total{" + lun + "} 24576.0"), text);
                assertTrue(text.contains("clonetarget_lun_bytes_total{op=\"write\",target=\""
                        + TestTarget.IQN + "\",volume=\"v0\"} 8192.0"), text);
                assertTrue(text.contains("clonetarget_lun_command_seconds_count{" + lun + "} 3"), text);
                assertTrue(text.contains("clonetarget_logins_total{reason=\"\",result=\"success\"} 1.0"), text);
                assertTrue(text.contains("clonetarget_session_commands_total{initiator="), text);
            }
            assertTrue(scrape(t, null).startsWith("401\n"), "no token, no metrics");
        }
        java.nio.file.Path other = dir.resolve("public");
        Files.createDirectories(other);
        io.clonetarget.config.ServerConfig base = TestTarget.config(other, TestTarget.oneFile(other, 1 << 20),
                java.util.List.of(new io.clonetarget.config.LunConfig(0, "v0")));
        io.clonetarget.config.ServerConfig open = new io.clonetarget.config.ServerConfig(base.server(), null, null,
                base.volumes(), base.targets(), new io.clonetarget.config.AdminSection("127.0.0.1:0", true));
        try (TestTarget t = TestTarget.start(other, open, io.clonetarget.server.Volumes::open)) {
            String text = scrape(t, null);
            assertTrue(text.startsWith("200\n") && text.contains("# TYPE clonetarget_lun_commands_total counter"), text);
        }
    }

    @Test
    void theSessionCommandsListShowAndEndSessionsThroughTheApi() throws Exception {
        try (TestTarget t = TestTarget.start(dir, 1 << 20, 1); RawInitiator i = new RawInitiator(t.port())) {
            i.login(TestTarget.IQN);
            String state = dir.toString();
            Object[] r = CloneIT.cli("session", "list", "--output", "json", "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            JsonNode list = Json.MAPPER.readTree(r[1].toString());
            assertEquals(1, list.size(), list.toString());
            assertEquals(TestTarget.IQN, list.get(0).path("target").asText());
            int tsih = list.get(0).path("tsih").asInt();

            r = CloneIT.cli("session", "list", "--state-dir", state);
            assertTrue(r[1].toString().startsWith("TSIH") && r[1].toString().contains(TestTarget.IQN), r[1].toString());
            r = CloneIT.cli("session", "show", Integer.toString(tsih), "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            assertTrue(r[1].toString().contains("max_burst_length"), "the negotiated keys: " + r[1]);

            r = CloneIT.cli("session", "show", "abc", "--state-dir", state);
            assertEquals(io.clonetarget.server.cli.ExitCodes.USAGE, r[0], r[2].toString());
            r = CloneIT.cli("session", "show", "999", "--state-dir", state);
            assertEquals(io.clonetarget.server.cli.ExitCodes.FAILURE, r[0]);
            assertTrue(r[2].toString().contains("no session with TSIH 999"), r[2].toString());

            r = CloneIT.cli("session", "logout", Integer.toString(tsih), "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            assertTrue(i.closedByTarget(), "the session's connection is closed");
            r = CloneIT.cli("session", "list", "--state-dir", state);
            assertEquals("no sessions\n", r[1].toString());
        }
    }

    @Test
    void volumeAndTargetCommandsShowWhatIsServedAndNoSecret() throws Exception {
        io.clonetarget.config.ServerConfig base = TestTarget.config(dir, TestTarget.oneFile(dir, 1 << 20),
                java.util.List.of(new io.clonetarget.config.LunConfig(0, "v0")));
        io.clonetarget.config.TargetConfig guarded = new io.clonetarget.config.TargetConfig(TestTarget.IQN, null,
                java.util.List.of("iqn.1993-08.org.debian:01:host1"),
                new io.clonetarget.config.ChapConfig("host1", "secretsecret12", null, null, null, null),
                base.targets().getFirst().luns());
        io.clonetarget.config.ServerConfig config = new io.clonetarget.config.ServerConfig(base.server(), null, null,
                base.volumes(), java.util.List.of(guarded), base.admin());
        try (TestTarget t = TestTarget.start(dir, config, io.clonetarget.server.Volumes::open)) {
            String state = dir.toString();
            Object[] r = CloneIT.cli("volume", "list", "--output", "json", "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            JsonNode v = Json.MAPPER.readTree(r[1].toString()).get(0);
            assertEquals("v0", v.path("name").asText());
            assertEquals(1 << 20, v.path("size").asLong());
            assertEquals(TestTarget.IQN, v.path("exported_as").get(0).path("target").asText());
            r = CloneIT.cli("volume", "list", "--state-dir", state);
            assertTrue(r[1].toString().startsWith("NAME") && r[1].toString().contains(TestTarget.IQN + " lun 0"),
                    r[1].toString());
            r = CloneIT.cli("volume", "show", "v0", "--state-dir", state);
            assertTrue(r[1].toString().contains("block_size") && r[1].toString().contains("exported_as[0].lun"),
                    r[1].toString());
            r = CloneIT.cli("volume", "show", "nope", "--state-dir", state);
            assertEquals(io.clonetarget.server.cli.ExitCodes.FAILURE, r[0]);
            assertTrue(r[2].toString().contains("no volume named \"nope\""), r[2].toString());

            r = CloneIT.cli("target", "show", TestTarget.IQN, "--output", "json", "--state-dir", state);
            assertEquals(0, r[0], r[2].toString());
            JsonNode target = Json.MAPPER.readTree(r[1].toString());
            assertEquals("v0", target.path("luns").get(0).path("volume").asText());
            assertEquals("host1", target.path("chap_user").asText());
            assertTrue(!r[1].toString().contains("secretsecret12"), "no secret in the answer: " + r[1]);
            r = CloneIT.cli("target", "list", "--state-dir", state);
            assertTrue(r[1].toString().contains(TestTarget.IQN) && r[1].toString().contains("0=v0"), r[1].toString());
        }
    }
}
