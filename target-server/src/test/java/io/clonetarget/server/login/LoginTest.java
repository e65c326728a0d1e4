package io.clonetarget.server.login;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.server.auth.FailureThrottle;
import io.clonetarget.server.pdu.TextSegment.Pair;
import io.clonetarget.storage.testing.ManualClock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LoginTest {
    static final String IQN = "iqn.2026-11.io.clonetarget:t";
    static final String INITIATOR = "iqn.1993-08.org.debian:01:host";

    record Target(String name, ChapCredentials chap, ChapCredentials mutualChap, String only) implements LoginTarget {
        @Override
        public boolean admits(String initiatorName, java.net.InetAddress from) {
            return only == null || only.equals(initiatorName);
        }
    }

    static final String SOURCE = "192.0.2.7";

    static Login login(LoginContext context) {
        return new Login(context, java.net.InetAddress.ofLiteral(SOURCE));
    }

    static LoginContext context(Target target) {
        return context(target, new FailureThrottle(new ManualClock(), FailureThrottle.TYPING_FAILURES));
    }


    static LoginContext context(Target target, FailureThrottle throttle) {
        return new LoginContext() {
            @Override
            public FailureThrottle throttle() {
                return throttle;
            }

            @Override
            public TargetSettings settings() {
                return TargetSettings.defaults();
            }

            @Override
            public int portalGroupTag() {
                return 1;
            }

            @Override
            public Optional<? extends LoginTarget> findTarget(String name) {
                return target.name().equals(name) ? Optional.of(target) : Optional.empty();
            }

            @Override
            public ChapCredentials discoveryChap() {
                return null;
            }

            @Override
            public ChapCredentials discoveryMutualChap() {
                return null;
            }
        };
    }

    static LoginRequest req(boolean transit, int csg, int nsg) {
        return new LoginRequest(transit, false, csg, nsg, 0, 0, 0x80123456789AL, 0, 7, 1, 1, 0);
    }

    static List<Pair> pairs(String... kv) {
        List<Pair> list = new ArrayList<>();
        for (int i = 0; i < kv.length; i += 2) {
            list.add(new Pair(kv[i], kv[i + 1]));
        }
        return list;
    }

    static Map<String, String> map(List<Pair> pairs) {
        Map<String, String> m = new HashMap<>();
        pairs.forEach(p -> m.put(p.key(), p.value()));
        return m;
    }

    @Test
    void loginWithoutAuthenticationStraightToFullFeature() throws Exception {
        Login login = login(context(new Target(IQN, null, null, null)));
        Login.Step s = login.process(req(true, 1, 3), pairs("InitiatorName", INITIATOR, "TargetName", IQN,
                "SessionType", "Normal", "MaxRecvDataSegmentLength", "262144", "InitialR2T", "No"));
        assertTrue(s.transit());
        assertTrue(s.complete());
        assertEquals(Stage.FULL_FEATURE, s.nsg());
        Map<String, String> reply = map(s.keys());
        assertEquals("1", reply.get("TargetPortalGroupTag"), "the first response of a normal session");
        assertEquals("262144", reply.get("MaxRecvDataSegmentLength"));
        assertEquals("No", reply.get("InitialR2T"));
        assertFalse(login.parameters().initialR2T());
    }

    @Test
    void securityStageWithNoneThenOperational() throws Exception {
        Login login = login(context(new Target(IQN, null, null, null)));
        Login.Step s = login.process(req(true, 0, 1), pairs("InitiatorName", INITIATOR, "TargetName", IQN,
                "AuthMethod", "CHAP,None"));
        assertEquals("None", map(s.keys()).get("AuthMethod"));
        assertTrue(s.transit());
        assertEquals(Stage.OPERATIONAL, s.nsg());
        Login.Step s2 = login.process(req(true, 1, 3), pairs("HeaderDigest", "CRC32C,None"));
        assertTrue(s2.complete());
        assertEquals("CRC32C", map(s2.keys()).get("HeaderDigest"));
        assertTrue(login.parameters().headerDigest());
        assertTrue(map(s2.keys()).containsKey("MaxRecvDataSegmentLength"), "declared before full feature");
    }

    @Test
    void unknownTargetAndMissingNamesAreRefused() {
        Login login = login(context(new Target(IQN, null, null, null)));
        assertEquals(LoginStatus.NOT_FOUND, assertThrows(LoginException.class, () -> login.process(req(true, 1, 3),
                pairs("InitiatorName", INITIATOR, "TargetName", IQN + "x"))).status());
        assertEquals(LoginStatus.MISSING_PARAMETER, assertThrows(LoginException.class, () -> login(context(new Target(IQN, null, null, null))).process(req(true, 1, 3), pairs("TargetName", IQN))).status());
        assertEquals(LoginStatus.MISSING_PARAMETER, assertThrows(LoginException.class, () -> login(context(new Target(IQN, null, null, null))).process(req(true, 1, 3),
                pairs("InitiatorName", INITIATOR))).status());
        assertEquals(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, assertThrows(LoginException.class, () -> login(context(new Target(IQN, null, null, null))).process(req(true, 1, 3),
                pairs("InitiatorName", INITIATOR, "SessionType", "Fancy"))).status());
    }

    @Test
    void namesFromTheWireReachMessagesEscapedAndCapped() {
        Login login = login(context(new Target(IQN, null, null, "iqn.1993-08.org.debian:01:other")));
        String forged = "iqn.2026-11.evil:x\n2026-12-01T00:00:00Z [INFO] Connection - login from 10.0.0.1" + "z".repeat(8000);
        LoginException e = assertThrows(LoginException.class, () -> login.process(req(true, 1, 3),
                pairs("InitiatorName", forged, "TargetName", IQN)));
        assertFalse(e.getMessage().contains("\n"), "no raw newline: " + e.getMessage());
        assertTrue(e.getMessage().contains("evil:x\\n2026"), e.getMessage());
        assertTrue(e.getMessage().length() < 400, "capped: " + e.getMessage().length() + " characters");
    }

    @Test
    void accessControlRefusesOtherInitiators() {
        Login login = login(context(new Target(IQN, null, null, "iqn.1993-08.org.debian:01:other")));
        assertEquals(LoginStatus.AUTHORIZATION_FAILURE, assertThrows(LoginException.class,
                () -> login.process(req(true, 1, 3), pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status());
    }

    @Test
    void discoverySessionNeedsNoTarget() throws Exception {
        Login login = login(context(new Target(IQN, null, null, null)));
        Login.Step s = login.process(req(true, 1, 3), pairs("InitiatorName", INITIATOR, "SessionType", "Discovery"));
        assertTrue(s.complete());
        assertTrue(login.discovery());
        assertFalse(map(s.keys()).containsKey("TargetPortalGroupTag"));
    }

    @Test
    void versionOutsideZeroIsRefused() {
        Login login = login(context(new Target(IQN, null, null, null)));
        LoginRequest r = new LoginRequest(true, false, 1, 3, 2, 1, 1, 0, 0, 0, 0, 0);
        assertEquals(LoginStatus.UNSUPPORTED_VERSION, assertThrows(LoginException.class,
                () -> login.process(r, pairs("InitiatorName", INITIATOR))).status());
    }

    @Test
    void invalidStageTransitionsAreRefused() {
        Login login = login(context(new Target(IQN, null, null, null)));
        assertEquals(LoginStatus.INITIATOR_ERROR, assertThrows(LoginException.class,
                () -> login.process(req(true, 1, 0), pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status());
        assertEquals(LoginStatus.INITIATOR_ERROR, assertThrows(LoginException.class, () -> login(context(new Target(IQN, null, null, null))).process(req(true, 1, 2),
                pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status());
        assertEquals(LoginStatus.INITIATOR_ERROR, assertThrows(LoginException.class, () -> login(context(new Target(IQN, null, null, null))).process(req(false, 3, 3),
                pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status());
    }

    @Test
    void chapIsRequiredWhenConfigured() {
        Target t = new Target(IQN, ChapCredentials.of("host", "secretsecret12"), null, null);
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> login(context(t)).process(req(true, 1, 3),
                        pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status(), "skipping security");
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> login(context(t)).process(req(true, 0, 1),
                        pairs("InitiatorName", INITIATOR, "TargetName", IQN, "AuthMethod", "None"))).status());
    }

    private static Map<String, String> chapExchange(Login login, String algorithms) throws Exception {
        Login.Step s1 = login.process(req(true, 0, 1), pairs("InitiatorName", INITIATOR, "TargetName", IQN,
                "AuthMethod", "CHAP,None"));
        assertEquals("CHAP", map(s1.keys()).get("AuthMethod"));
        assertFalse(s1.transit(), "no transit before CHAP is done");
        Login.Step s2 = login.process(req(false, 0, 1), pairs("CHAP_A", algorithms));
        assertFalse(s2.transit());
        return map(s2.keys());
    }

    @Test
    void chapWithMutualAuthentication() throws Exception {
        ChapCredentials initiator = ChapCredentials.of("host", "secretsecret12");
        ChapCredentials target = ChapCredentials.of("tgt", "othersecret123");
        Login login = login(context(new Target(IQN, initiator, target, null)));
        Map<String, String> challenge = chapExchange(login, "7,5");
        assertEquals("7", challenge.get("CHAP_A"), "the first algorithm of the list both support");
        Chap.Algorithm a = Chap.Algorithm.SHA_256;
        int id = Integer.parseInt(challenge.get("CHAP_I"));
        byte[] c = Chap.decode(challenge.get("CHAP_C"));
        assertEquals(32, c.length);
        byte[] response = Chap.response(a, id, initiator.secret(), c);
        byte[] myChallenge = new byte[32];
        myChallenge[0] = 42;
        Login.Step s3 = login.process(req(true, 0, 1), pairs("CHAP_N", "host", "CHAP_R", Chap.encode(response),
                "CHAP_I", "9", "CHAP_C", Chap.encode(myChallenge)));
        assertTrue(s3.transit());
        Map<String, String> proof = map(s3.keys());
        assertEquals("tgt", proof.get("CHAP_N"));
        assertEquals(Chap.encode(Chap.response(a, 9, target.secret(), myChallenge)), proof.get("CHAP_R"));
        assertEquals("host", login.authenticatedAs());
    }

    @Test
    void chapWrongResponseOrNameFails() throws Exception {
        ChapCredentials initiator = ChapCredentials.of("host", "secretsecret12");
        Login login = login(context(new Target(IQN, initiator, null, null)));
        Map<String, String> challenge = chapExchange(login, "5");
        byte[] wrong = Chap.response(Chap.Algorithm.MD5, Integer.parseInt(challenge.get("CHAP_I")),
                "wrongsecret12".getBytes(), Chap.decode(challenge.get("CHAP_C")));
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> login.process(req(true, 0, 1), pairs("CHAP_N", "host", "CHAP_R", Chap.encode(wrong)))).status());
    }

    @Test
    void chapReflectedChallengeAndUnconfiguredMutualFail() throws Exception {
        ChapCredentials initiator = ChapCredentials.of("host", "secretsecret12");
        Login login = login(context(new Target(IQN, initiator, ChapCredentials.of("t", "othersecret123"), null)));
        Map<String, String> ch = chapExchange(login, "5");
        byte[] c = Chap.decode(ch.get("CHAP_C"));
        byte[] r = Chap.response(Chap.Algorithm.MD5, Integer.parseInt(ch.get("CHAP_I")), initiator.secret(), c);
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> login.process(req(true, 0, 1), pairs("CHAP_N", "host", "CHAP_R", Chap.encode(r),
                        "CHAP_I", "1", "CHAP_C", ch.get("CHAP_C")))).status(), "reflection");

        Login noMutual = login(context(new Target(IQN, initiator, null, null)));
        Map<String, String> ch2 = chapExchange(noMutual, "5");
        byte[] r2 = Chap.response(Chap.Algorithm.MD5, Integer.parseInt(ch2.get("CHAP_I")), initiator.secret(),
                Chap.decode(ch2.get("CHAP_C")));
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> noMutual.process(req(true, 0, 1), pairs("CHAP_N", "host", "CHAP_R", Chap.encode(r2),
                        "CHAP_I", "1", "CHAP_C", "0x0102030405060708"))).status());
    }

    @Test
    void unsupportedChapAlgorithmFails() throws Exception {
        Login login = login(context(new Target(IQN, ChapCredentials.of("h", "secretsecret12"), null, null)));
        login.process(req(true, 0, 1), pairs("InitiatorName", INITIATOR, "TargetName", IQN, "AuthMethod", "CHAP"));
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, assertThrows(LoginException.class,
                () -> login.process(req(false, 0, 1), pairs("CHAP_A", "6,99"))).status());
    }

    @Test
    void declaringNamesAgainIsRefused() throws Exception {
        Login login = login(context(new Target(IQN, null, null, null)));
        login.process(req(false, 1, 3), pairs("InitiatorName", INITIATOR, "TargetName", IQN));
        assertThrows(LoginException.class, () -> login.process(req(true, 1, 3), pairs("InitiatorName", INITIATOR)));
    }

    @Test
    void aRequiredDigestThatIsNotAgreedEndsTheLogin() {
        TargetSettings d = TargetSettings.defaults();
        TargetSettings required = new TargetSettings(d.maxRecvDataSegmentLength(), d.maxBurstLength(),
                d.firstBurstLength(), false, true, 16, 2, 20, DigestUse.REQUIRED,
                DigestUse.ALLOWED, 256);
        LoginContext base = context(new Target(IQN, null, null, null));
        LoginContext ctx = new LoginContext() {
            @Override public TargetSettings settings() { return required; }
            @Override public int portalGroupTag() { return 1; }
            @Override public Optional<? extends LoginTarget> findTarget(String name) { return base.findTarget(name); }
            @Override public ChapCredentials discoveryChap() { return null; }
            @Override public ChapCredentials discoveryMutualChap() { return null; }
            @Override public FailureThrottle throttle() { return base.throttle(); }
        };
        LoginException e = assertThrows(LoginException.class, () -> login(ctx).process(req(true, 1, 3),
                pairs("InitiatorName", INITIATOR, "TargetName", IQN, "HeaderDigest", "None")));
        assertEquals(LoginStatus.INITIATOR_ERROR, e.status());
    }

    /** Runs the CHAP exchange to the response; returns what the login threw, or null when it passed. */
    private static LoginException chapLogin(LoginContext ctx, ChapCredentials proof) throws Exception {
        Login login = login(ctx);
        try {
            Map<String, String> ch = chapExchange(login, "5");
            byte[] r = Chap.response(Chap.Algorithm.MD5, Integer.parseInt(ch.get("CHAP_I")), proof.secret(),
                    Chap.decode(ch.get("CHAP_C")));
            login.process(req(true, 0, 1), pairs("CHAP_N", proof.user(), "CHAP_R", Chap.encode(r)));
            return null;
        } catch (LoginException e) {
            return e;
        }
    }

    @Test
    void aNameTheChapTargetDoesNotAdmitFailsExactlyLikeAWrongSecret() throws Exception {
        // before: 02/02 right after the first request, before any CHAP, telling a prober which names are allowed
        ChapCredentials right = ChapCredentials.of("host", "secretsecret12");
        ChapCredentials wrong = ChapCredentials.of("host", "wrongsecret123");
        Target t = new Target(IQN, right, null, "iqn.1993-08.org.debian:01:other");
        LoginException withRightSecret = chapLogin(context(t), right);
        LoginException withWrongSecret = chapLogin(context(t), wrong);
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, withRightSecret.status());
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, withWrongSecret.status());
        assertTrue(withRightSecret.getMessage().contains("is not allowed on"), "the log says why: "
                + withRightSecret.getMessage());
        Target admitting = new Target(IQN, right, null, INITIATOR);
        assertEquals(null, chapLogin(context(admitting), right), "the admitted name with the right secret passes");
    }

    @Test
    void aTargetWithoutChapStillRefusesOtherNamesAsAnAuthorizationFailure() {
        Login login = login(context(new Target(IQN, null, null, "iqn.1993-08.org.debian:01:other")));
        assertEquals(LoginStatus.AUTHORIZATION_FAILURE, assertThrows(LoginException.class,
                () -> login.process(req(true, 1, 3), pairs("InitiatorName", INITIATOR, "TargetName", IQN))).status());
    }

    @Test
    void mutualChapRefusesAChallengeShorterThanTheDigest() throws Exception {
        // before: a one-byte CHAP_C was answered, so a recorded answer could be replayed
        ChapCredentials initiator = ChapCredentials.of("host", "secretsecret12");
        Target t = new Target(IQN, initiator, ChapCredentials.of("tgt", "othersecret123"), null);
        for (int length : new int[] {1, 15, 16, 1024, 1025}) {
            Login login = login(context(t));
            Map<String, String> ch = chapExchange(login, "5");
            byte[] r = Chap.response(Chap.Algorithm.MD5, Integer.parseInt(ch.get("CHAP_I")), initiator.secret(),
                    Chap.decode(ch.get("CHAP_C")));
            byte[] mine = new byte[length];
            java.util.Arrays.fill(mine, (byte) 7);
            List<Pair> answer = pairs("CHAP_N", "host", "CHAP_R", Chap.encode(r), "CHAP_I", "3", "CHAP_C", Chap.encode(mine));
            if (length >= 16 && length <= 1024) {
                assertTrue(login.process(req(true, 0, 1), answer).transit(), length + " bytes are enough");
            } else {
                LoginException e = assertThrows(LoginException.class, () -> login.process(req(true, 0, 1), answer));
                assertEquals(LoginStatus.AUTHENTICATION_FAILURE, e.status(), length + " bytes");
            }
        }
    }

    @Test
    void wrongSecretsFromOneAddressWaitLongerEachTime() throws Exception {
        // before: 1,000 wrong secrets were answered in 1.6 s
        ManualClock clock = new ManualClock();
        FailureThrottle throttle = new FailureThrottle(clock, FailureThrottle.TYPING_FAILURES);
        ChapCredentials right = ChapCredentials.of("host", "secretsecret12");
        Target t = new Target(IQN, right, null, null);
        long[] waits = new long[8];
        for (int i = 0; i < waits.length; i++) {
            long before = clock.slept();
            assertEquals(LoginStatus.AUTHENTICATION_FAILURE,
                    chapLogin(context(t, throttle), ChapCredentials.of("host", "guess" + i + "guessguess")).status());
            waits[i] = (clock.slept() - before) / 1_000_000_000L;
        }
        assertEquals(List.of(0L, 0L, 0L, 1L, 2L, 4L, 8L, 8L), java.util.Arrays.stream(waits).boxed().toList());
        long before = clock.slept();
        assertEquals(null, chapLogin(context(t, throttle), right), "the right secret still passes, in its turn");
        assertEquals(8, (clock.slept() - before) / 1_000_000_000L);
    }
}
