package io.clonetarget.server.login;

import io.clonetarget.server.log.LogText;
import io.clonetarget.server.pdu.TextSegment.Pair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashMap;

/**
 * The login state machine of one connection (RFC 7143 sections 6.3 and 7.1.3).
 *
 * <p>Each complete request (after any continuation PDUs were joined) goes to {@link #process};
 * it either returns the {@link Step} to answer with, or throws a {@link LoginException} whose
 * status ends the login. Security comes first: a target with CHAP credentials only lets an
 * initiator leave the security stage after a verified CHAP response. Operational keys go to
 * {@link Negotiation}.
 *
 * <p>Whoever has not proved who they are learns nothing from how they were refused: on a
 * target with CHAP, an initiator name the target does not admit goes through the CHAP exchange
 * and fails it exactly as a wrong secret does (02/01; the log says which it was). Every check
 * of identity waits its turn at the {@link FailureThrottle}, and every failed one is counted
 * there.
 *
 * <p>Not thread-safe: owned by the connection's reader thread.
 */
public final class Login {
    /** What to answer: stage fields, the transit bit, keys, and whether login is now complete. */
    public record Step(boolean transit, Stage csg, Stage nsg, List<Pair> keys, boolean complete) {
    }

    private enum Auth { NOT_STARTED, NONE, CHAP_WAIT_ALGORITHM, CHAP_WAIT_RESPONSE, DONE }

    private final LoginContext context;
    private final String source;
    private final java.net.InetAddress address;
    private final Negotiation negotiation;
    private Stage stage;
    private boolean first = true;
    private long isid;
    private int tsih;
    private int cid;
    private String initiatorName;
    private String initiatorAlias;
    private boolean discovery;
    private LoginTarget target;
    private Auth auth = Auth.NOT_STARTED;
    private Chap.Algorithm algorithm;
    private int chapIdentifier;
    private byte[] chapChallenge;
    private boolean portalTagSent;
    private String authenticatedAs;
    private String notAdmitted; // why the initiator may not use the CHAP target, told only as a CHAP failure
    private boolean turnTaken; // one turn at the throttle per login, however many checks it has

    /**
     * @param address the initiator's address: what the throttle counts and network rules check
     */
    public Login(LoginContext context, java.net.InetAddress address) {
        this.context = context;
        this.address = address;
        this.source = address.getHostAddress();
        this.negotiation = new Negotiation(context.settings());
    }

    /** Handles one complete login request. */
    public Step process(LoginRequest req, List<Pair> pairs) throws LoginException {
        if (req.versionMin() > 0 || req.versionMax() < req.versionMin()) {
            throw new LoginException(LoginStatus.UNSUPPORTED_VERSION,
                    "version range " + req.versionMin() + ".." + req.versionMax() + " excludes 0");
        }
        Stage csg = Stage.of(req.csg());
        Stage nsg = Stage.of(req.nsg());
        if (csg == null || csg == Stage.FULL_FEATURE) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, "invalid current stage " + req.csg());
        }
        if (req.transit() && (nsg == null || nsg.code() <= csg.code())) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR,
                    "invalid stage transition " + req.csg() + " -> " + req.nsg());
        }
        Map<String, String> keys = toMap(pairs);
        if (first) {
            begin(req, keys);
        } else {
            if (req.isid() != isid || req.tsih() != tsih || req.cid() != cid) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "ISID, TSIH or CID changed during login");
            }
            if (csg != stage) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR,
                        "request in stage " + csg + " while login is in stage " + stage);
            }
            for (String k : List.of("InitiatorName", "SessionType", "TargetName")) {
                if (keys.containsKey(k)) {
                    throw new LoginException(LoginStatus.INITIATOR_ERROR, LogText.of(k) + " declared twice");
                }
            }
        }
        stage = csg;
        List<Pair> reply = new ArrayList<>();
        if (first) {
            first = false;
            if (!discovery) {
                reply.add(new Pair("TargetPortalGroupTag", Integer.toString(context.portalGroupTag())));
                portalTagSent = true;
            }
        }

        ChapCredentials required = discovery ? context.discoveryChap() : target.chap();
        if (csg == Stage.SECURITY) {
            security(keys, required, reply);
        } else {
            if (required != null && auth != Auth.DONE) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                        "target requires CHAP but the initiator skipped the security stage");
            }
            for (String k : keys.keySet()) {
                if (Negotiation.isSecurityKey(k)) {
                    reply.add(new Pair(k, Negotiation.IRRELEVANT));
                }
            }
        }
        reply.addAll(negotiation.answer(pairs));

        boolean securityDone = auth == Auth.DONE || (required == null && auth != Auth.CHAP_WAIT_ALGORITHM
                && auth != Auth.CHAP_WAIT_RESPONSE);
        if (!req.transit() || (csg == Stage.SECURITY && !securityDone)) {
            if (csg == Stage.OPERATIONAL && !negotiation.declaredMaxRecvDataSegmentLength()) {
                reply.add(negotiation.declareOurs());
            }
            return new Step(false, csg, csg, reply, false);
        }
        if (csg == Stage.SECURITY && required == null && auth == Auth.NOT_STARTED) {
            auth = Auth.NONE;
        }
        Stage next = nsg;
        if (next == Stage.FULL_FEATURE && !negotiation.declaredMaxRecvDataSegmentLength()) {
            reply.add(negotiation.declareOurs());
        }
        if (next == Stage.FULL_FEATURE) {
            negotiation.checkRequirements();
        }
        stage = next;
        return new Step(true, csg, next, reply, next == Stage.FULL_FEATURE);
    }

    private void begin(LoginRequest req, Map<String, String> keys) throws LoginException {
        isid = req.isid();
        tsih = req.tsih();
        cid = req.cid();
        initiatorName = keys.get("InitiatorName");
        if (initiatorName == null || initiatorName.isEmpty()) {
            throw new LoginException(LoginStatus.MISSING_PARAMETER, "no InitiatorName in the first login request");
        }
        initiatorAlias = keys.get("InitiatorAlias");
        String type = keys.getOrDefault("SessionType", "Normal");
        switch (type) {
            case "Normal" -> discovery = false;
            case "Discovery" -> discovery = true;
            default -> throw new LoginException(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, "SessionType="
                    + LogText.of(type));
        }
        negotiation.setDiscovery(discovery);
        if (!discovery) {
            String name = keys.get("TargetName");
            if (name == null || name.isEmpty()) {
                throw new LoginException(LoginStatus.MISSING_PARAMETER, "no TargetName for a normal session");
            }
            awaitTurn();
            target = context.findTarget(name).orElse(null);
            if (target == null) {
                context.throttle().failed(source, initiatorName);
                throw new LoginException(LoginStatus.NOT_FOUND, "no target named " + LogText.of(name));
            }
            if (!target.admits(initiatorName, address)) {
                String why = LogText.of(initiatorName) + " is not allowed on " + name;
                if (target.chap() == null) {
                    context.throttle().failed(source, initiatorName);
                    throw new LoginException(LoginStatus.AUTHORIZATION_FAILURE, why);
                }
                notAdmitted = why;
            }
        }
    }

    private void security(Map<String, String> keys, ChapCredentials required, List<Pair> reply) throws LoginException {
        String methods = keys.get("AuthMethod");
        if (methods != null) {
            if (auth != Auth.NOT_STARTED) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "AuthMethod negotiated twice");
            }
            String want = required != null ? "CHAP" : "None";
            if (!Arrays.asList(methods.split(",", -1)).contains(want)) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                        "initiator offered AuthMethod=" + methods + ", target requires " + want);
            }
            reply.add(new Pair("AuthMethod", want));
            auth = required != null ? Auth.CHAP_WAIT_ALGORITHM : Auth.NONE;
            if (required != null) {
                return;
            }
        }
        String chapA = keys.get("CHAP_A");
        if (chapA != null) {
            if (auth != Auth.CHAP_WAIT_ALGORITHM) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "CHAP_A out of sequence");
            }
            algorithm = Chap.choose(chapA);
            if (algorithm == null) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "no supported CHAP_A in "
                        + LogText.of(chapA));
            }
            chapIdentifier = Chap.identifier();
            chapChallenge = Chap.challenge(algorithm);
            reply.add(new Pair("CHAP_A", Integer.toString(algorithm.code())));
            reply.add(new Pair("CHAP_I", Integer.toString(chapIdentifier)));
            reply.add(new Pair("CHAP_C", Chap.encode(chapChallenge)));
            auth = Auth.CHAP_WAIT_RESPONSE;
            return;
        }
        if (keys.containsKey("CHAP_N") || keys.containsKey("CHAP_R")) {
            if (auth != Auth.CHAP_WAIT_RESPONSE) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "CHAP response out of sequence");
            }
            verifyChap(keys, required, reply);
            return;
        }
        if (auth == Auth.CHAP_WAIT_ALGORITHM || auth == Auth.CHAP_WAIT_RESPONSE) {
            return;
        }
        if (required != null && auth == Auth.NOT_STARTED && keys.keySet().stream().anyMatch(Negotiation::isSecurityKey)) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, "CHAP keys before AuthMethod");
        }
    }

    private void verifyChap(Map<String, String> keys, ChapCredentials required, List<Pair> reply) throws LoginException {
        String name = keys.get("CHAP_N");
        String response = keys.get("CHAP_R");
        if (name == null || response == null) {
            throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "CHAP_N and CHAP_R must come together");
        }
        awaitTurn();
        byte[] received;
        try {
            received = Chap.decode(response);
        } catch (IllegalArgumentException e) {
            context.throttle().failed(source, initiatorName);
            throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "malformed CHAP_R: " + e.getMessage());
        }
        boolean proved = name.equals(required.user())
                && Chap.verify(algorithm, chapIdentifier, required.secret(), chapChallenge, received);
        ChapCredentials ownSecret = discovery ? context.discoveryMutualChap() : target.mutualChap();
        if (proved && ownSecret != null
                && Chap.verify(algorithm, chapIdentifier, ownSecret.secret(), chapChallenge, received)) {
            // RFC 7143 section 12.1.3: a response equal to the one we would compute with our own secret is a
            // failure, so one secret never authenticates both directions (the configuration check sees
            // inline secrets only, not two secret files that hold the same one)
            context.throttle().failed(source, initiatorName);
            throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "CHAP user " + LogText.of(name)
                    + " answered with the target's own mutual secret; the two secrets must differ");
        }
        if (!proved || notAdmitted != null) {
            context.throttle().failed(source, initiatorName);
            throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, proved
                    ? notAdmitted + " (answered as a CHAP failure)"
                    : "CHAP authentication failed for user " + LogText.of(name));
        }
        context.throttle().succeeded(initiatorName);
        String idText = keys.get("CHAP_I");
        String challengeText = keys.get("CHAP_C");
        if (idText != null || challengeText != null) {
            ChapCredentials mutual = discovery ? context.discoveryMutualChap() : target.mutualChap();
            if (idText == null || challengeText == null) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "mutual CHAP needs both CHAP_I and CHAP_C");
            }
            if (mutual == null) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE,
                        "initiator asked for mutual CHAP, no target credentials configured");
            }
            long id = Negotiation.parseNumber(idText);
            byte[] challenge;
            try {
                challenge = Chap.decode(challengeText);
            } catch (IllegalArgumentException e) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "malformed CHAP_C: " + e.getMessage());
            }
            if (id < 0 || id > 255) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "invalid mutual CHAP_I " + LogText.of(idText));
            }
            if (challenge.length < algorithm.length() || challenge.length > 1024) {
                // a short challenge lets a recorded answer be replayed or a dictionary be built
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "mutual CHAP_C of " + challenge.length
                        + " bytes; it must be " + algorithm.length() + " to 1024 bytes for " + algorithm);
            }
            if (Arrays.equals(challenge, chapChallenge)) {
                throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "initiator reflected our CHAP challenge");
            }
            reply.add(new Pair("CHAP_N", mutual.user()));
            reply.add(new Pair("CHAP_R", Chap.encode(
                    Chap.response(algorithm, (int) id, mutual.secret(), challenge))));
        }
        auth = Auth.DONE;
        authenticatedAs = name;
    }

    private void awaitTurn() throws LoginException {
        if (turnTaken) {
            return;
        }
        turnTaken = true;
        boolean turn;
        try {
            turn = context.throttle().awaitTurn(source, initiatorName);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoginException(LoginStatus.TARGET_ERROR, "interrupted while waiting to check the login");
        }
        if (!turn) {
            throw new LoginException(LoginStatus.AUTHENTICATION_FAILURE, "too many failed logins from " + source
                    + " or as " + LogText.of(initiatorName) + "; refused without checking (docs/operations.md)");
        }
    }

    private static Map<String, String> toMap(List<Pair> pairs) throws LoginException {
        Map<String, String> map = new LinkedHashMap<>();
        for (Pair p : pairs) {
            if (map.put(p.key(), p.value()) != null) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "key " + LogText.of(p.key())
                        + " appears twice in one request");
            }
        }
        return map;
    }

    /** The negotiated parameters (valid once {@link Step#complete()}). */
    public SessionParameters parameters() {
        return negotiation.result();
    }

    public long isid() {
        return isid;
    }

    public int tsih() {
        return tsih;
    }

    public int cid() {
        return cid;
    }

    public String initiatorName() {
        return initiatorName;
    }

    public String initiatorAlias() {
        return initiatorAlias;
    }

    public boolean discovery() {
        return discovery;
    }

    /** The target of a normal session (null for discovery). */
    public LoginTarget target() {
        return target;
    }

    /** The CHAP user the initiator proved, or null. */
    public String authenticatedAs() {
        return authenticatedAs;
    }

    /** Whether the first response carried the portal group tag (normal sessions must). */
    public boolean portalTagSent() {
        return portalTagSent;
    }

    /** Whether the first request has been seen (so ISID and names are known). */
    public boolean started() {
        return !first;
    }
}
