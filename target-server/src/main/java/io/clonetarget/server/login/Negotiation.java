package io.clonetarget.server.login;

import io.clonetarget.server.pdu.TextSegment.Pair;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Operational key negotiation for one login, table-driven from RFC 7143 section 13.
 *
 * <p>{@link #answer} is a pure function of the offered pairs, {@link TargetSettings} and what was
 * agreed before in the same login; it returns the reply pairs. Keys answered NotUnderstood,
 * Reject or Irrelevant keep their defaults. {@link #result()} gives the parameters in force.
 *
 * <p>Not thread-safe: owned by the login of one connection.
 */
public final class Negotiation {
    static final String NOT_UNDERSTOOD = "NotUnderstood";
    static final String REJECT = "Reject";
    static final String IRRELEVANT = "Irrelevant";

    /** One row of the key table. */
    record Key(String name, KeyKind kind, long min, long max) {
    }

    static final Map<String, Key> KEYS = new HashMap<>();

    static {
        add("HeaderDigest", KeyKind.LIST, 0, 0);
        add("DataDigest", KeyKind.LIST, 0, 0);
        add("MaxConnections", KeyKind.NUMERIC_MIN, 1, 65535);
        add("InitialR2T", KeyKind.BOOLEAN_OR, 0, 0);
        add("ImmediateData", KeyKind.BOOLEAN_AND, 0, 0);
        add("MaxRecvDataSegmentLength", KeyKind.DECLARATIVE, 512, 16_777_215);
        add("MaxBurstLength", KeyKind.NUMERIC_MIN, 512, 16_777_215);
        add("FirstBurstLength", KeyKind.NUMERIC_MIN, 512, 16_777_215);
        add("DefaultTime2Wait", KeyKind.NUMERIC_MAX, 0, 3600);
        add("DefaultTime2Retain", KeyKind.NUMERIC_MIN, 0, 3600);
        add("MaxOutstandingR2T", KeyKind.NUMERIC_MIN, 1, 65535);
        add("DataPDUInOrder", KeyKind.BOOLEAN_OR, 0, 0);
        add("DataSequenceInOrder", KeyKind.BOOLEAN_OR, 0, 0);
        add("ErrorRecoveryLevel", KeyKind.NUMERIC_MIN, 0, 2);
        add("IFMarker", KeyKind.BOOLEAN_AND, 0, 0);
        add("OFMarker", KeyKind.BOOLEAN_AND, 0, 0);
        add("RDMAExtensions", KeyKind.BOOLEAN_AND, 0, 0);
        add("iSCSIProtocolLevel", KeyKind.NUMERIC_MIN, 0, 31);
        add("TaskReporting", KeyKind.LIST, 0, 0);
        add("InitiatorName", KeyKind.INITIATOR_DECLARATION, 0, 0);
        add("InitiatorAlias", KeyKind.INITIATOR_DECLARATION, 0, 0);
        add("TargetName", KeyKind.INITIATOR_DECLARATION, 0, 0);
        add("SessionType", KeyKind.INITIATOR_DECLARATION, 0, 0);
        add("TargetAlias", KeyKind.TARGET_ONLY, 0, 0);
        add("TargetAddress", KeyKind.TARGET_ONLY, 0, 0);
        add("TargetPortalGroupTag", KeyKind.TARGET_ONLY, 0, 0);
        add("OFMarkInt", KeyKind.IRRELEVANT, 0, 0);
        add("IFMarkInt", KeyKind.IRRELEVANT, 0, 0);
        add("SendTargets", KeyKind.IRRELEVANT, 0, 0);
        add("InitiatorRecvDataSegmentLength", KeyKind.IRRELEVANT, 0, 0);
        add("TargetRecvDataSegmentLength", KeyKind.IRRELEVANT, 0, 0);
    }

    private static void add(String name, KeyKind kind, long min, long max) {
        KEYS.put(name, new Key(name, kind, min, max));
    }

    private final TargetSettings ours;
    private boolean discovery;
    private final Map<String, String> agreed = new HashMap<>();
    private final Set<String> seen = new HashSet<>();
    private boolean declaredMaxRecv;

    public Negotiation(TargetSettings ours) {
        this.ours = ours;
    }

    /**
     * Answers the operational keys of one request. Security keys (AuthMethod, CHAP_*) are the
     * login state machine's and are skipped here.
     *
     * @throws LoginException INITIATOR_ERROR when a key is offered a second time in this login
     */
    public List<Pair> answer(List<Pair> offered) throws LoginException {
        List<Pair> reply = new ArrayList<>();
        for (Pair p : offered) {
            if (isSecurityKey(p.key())) {
                continue;
            }
            if (!seen.add(p.key())) {
                throw new LoginException(LoginStatus.INITIATOR_ERROR, "key " + io.clonetarget.server.log.LogText.of(p.key())
                        + " offered twice");
            }
            String answer = answerOne(p.key(), p.value());
            if (answer != null) {
                reply.add(new Pair(p.key(), answer));
            }
        }
        return reply;
    }

    /** Whether the key is one of the RFC's operational keys. */
    public static boolean isKnownKey(String key) {
        return KEYS.containsKey(key);
    }

    /** Whether the key belongs to the security stage (handled by authentication). */
    public static boolean isSecurityKey(String key) {
        return key.equals("AuthMethod") || key.startsWith("CHAP_");
    }

    /** The reply to one key, or null when none is due. Records the agreed value. */
    String answerOne(String name, String value) {
        Key key = KEYS.get(name);
        if (key == null) {
            return NOT_UNDERSTOOD;
        }
        return switch (key.kind()) {
            case LIST -> list(name, value);
            case BOOLEAN_AND, BOOLEAN_OR -> bool(key, value);
            case NUMERIC_MIN, NUMERIC_MAX -> numeric(key, value);
            case DECLARATIVE -> declare(key, value);
            case INITIATOR_DECLARATION -> null;
            case TARGET_ONLY -> REJECT;
            case IRRELEVANT -> IRRELEVANT;
        };
    }

    private String list(String name, String value) {
        List<String> acceptable = switch (name) {
            case "HeaderDigest" -> digestChoices(ours.headerDigest(discovery));
            case "DataDigest" -> digestChoices(ours.dataDigest(discovery));
            case "TaskReporting" -> List.of("RFC3720");
            default -> throw new IllegalStateException(name);
        };
        for (String offered : value.split(",", -1)) {
            if (acceptable.contains(offered)) {
                agreed.put(name, offered);
                return offered;
            }
        }
        return REJECT;
    }

    /** The session is a discovery session: its digests follow the discovery rules. */
    public void setDiscovery(boolean discovery) {
        this.discovery = discovery;
    }

    private static List<String> digestChoices(DigestUse policy) {
        return switch (policy) {
            case OFF -> List.of("None");
            case ALLOWED -> List.of("CRC32C", "None");
            case REQUIRED -> List.of("CRC32C");
        };
    }

    /**
     * Checks, once negotiation is over, that what this target requires was agreed: a required
     * digest the initiator refused, or never offered, ends the login.
     */
    public void checkRequirements() throws LoginException {
        SessionParameters p = result();
        String who = discovery ? "discovery sessions of this target require" : "this target requires";
        if (ours.headerDigest(discovery) == DigestUse.REQUIRED && !p.headerDigest()) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, who + " CRC32C header digests");
        }
        if (ours.dataDigest(discovery) == DigestUse.REQUIRED && !p.dataDigest()) {
            throw new LoginException(LoginStatus.INITIATOR_ERROR, who + " CRC32C data digests");
        }
    }

    private String bool(Key key, String value) {
        boolean offered;
        if (value.equals("Yes")) {
            offered = true;
        } else if (value.equals("No")) {
            offered = false;
        } else {
            return REJECT;
        }
        boolean mine = switch (key.name()) {
            case "InitialR2T" -> ours.initialR2T();
            case "ImmediateData" -> ours.immediateData();
            case "DataPDUInOrder", "DataSequenceInOrder" -> true;
            case "IFMarker", "OFMarker", "RDMAExtensions" -> false;
            default -> throw new IllegalStateException(key.name());
        };
        boolean result = key.kind() == KeyKind.BOOLEAN_AND ? offered && mine : offered || mine;
        String text = result ? "Yes" : "No";
        agreed.put(key.name(), text);
        return text;
    }

    private String numeric(Key key, String value) {
        long offered = parseNumber(value);
        if (offered < key.min() || offered > key.max()) {
            return REJECT;
        }
        long mine = switch (key.name()) {
            case "MaxConnections" -> 1;
            case "MaxBurstLength" -> ours.maxBurstLength();
            case "FirstBurstLength" -> ours.firstBurstLength();
            case "DefaultTime2Wait" -> ours.defaultTime2Wait();
            case "DefaultTime2Retain" -> ours.defaultTime2Retain();
            case "MaxOutstandingR2T" -> ours.maxOutstandingR2T();
            case "ErrorRecoveryLevel" -> 0;
            case "iSCSIProtocolLevel" -> 1;
            default -> throw new IllegalStateException(key.name());
        };
        long result = key.kind() == KeyKind.NUMERIC_MIN ? Math.min(offered, mine) : Math.max(offered, mine);
        agreed.put(key.name(), Long.toString(result));
        return Long.toString(result);
    }

    private String declare(Key key, String value) {
        long offered = parseNumber(value);
        if (offered < key.min() || offered > key.max()) {
            return REJECT;
        }
        agreed.put(key.name(), Long.toString(offered));
        declaredMaxRecv = true;
        return Integer.toString(ours.maxRecvDataSegmentLength());
    }

    /**
     * Parses a numerical value: decimal, or hex with 0x (RFC 7143 section 5.1). Returns -1 when
     * the text is not a number or does not fit 64 bits.
     */
    static long parseNumber(String value) {
        try {
            if (value.startsWith("0x") || value.startsWith("0X")) {
                return value.length() > 2 && value.length() <= 18 ? Long.parseUnsignedLong(value.substring(2), 16) : -1;
            }
            if (value.isEmpty() || value.length() > 18 || !value.chars().allMatch(Character::isDigit)) {
                return -1;
            }
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether our MaxRecvDataSegmentLength was declared (we add it ourselves otherwise). */
    public boolean declaredMaxRecvDataSegmentLength() {
        return declaredMaxRecv;
    }

    /** Our declaration of MaxRecvDataSegmentLength, to send when the initiator did not ask. */
    public Pair declareOurs() {
        declaredMaxRecv = true;
        return new Pair("MaxRecvDataSegmentLength", Integer.toString(ours.maxRecvDataSegmentLength()));
    }

    private boolean yes(String key, boolean defaultValue) {
        String v = agreed.get(key);
        return v == null ? defaultValue : v.equals("Yes");
    }

    private int number(String key, int defaultValue) {
        String v = agreed.get(key);
        return v == null ? defaultValue : Integer.parseInt(v);
    }

    /** The parameters in force: agreed values, RFC defaults for the rest. */
    public SessionParameters result() {
        int maxBurst = number("MaxBurstLength", 262_144);
        int firstBurst = Math.min(number("FirstBurstLength", 65_536), maxBurst);
        return new SessionParameters(
                "CRC32C".equals(agreed.get("HeaderDigest")),
                "CRC32C".equals(agreed.get("DataDigest")),
                number("MaxRecvDataSegmentLength", 8192),
                declaredMaxRecv ? ours.maxRecvDataSegmentLength() : 8192,
                maxBurst,
                firstBurst,
                yes("InitialR2T", true),
                yes("ImmediateData", true),
                number("MaxOutstandingR2T", 1),
                number("DefaultTime2Wait", 2),
                number("DefaultTime2Retain", 20),
                yes("DataPDUInOrder", true),
                yes("DataSequenceInOrder", true),
                number("ErrorRecoveryLevel", 0),
                number("MaxConnections", 1));
    }
}
