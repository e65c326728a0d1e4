package io.clonetarget.server.login;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;


import io.clonetarget.server.pdu.TextSegment.Pair;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NegotiationTest {
    private static String answer(String key, String value) {
        return new Negotiation(TargetSettings.defaults()).answerOne(key, value);
    }

    /** Every RFC 7143 key with its selection rule, against the fast defaults. */
    @ParameterizedTest(name = "{0}={1} -> {2}")
    @CsvSource(delimiter = '|', value = {
        "HeaderDigest|CRC32C,None|CRC32C",
        "HeaderDigest|None,CRC32C|None",
        "HeaderDigest|None|None",
        "HeaderDigest|MD5,CRC32C|CRC32C",
        "HeaderDigest|MD5|Reject",
        "DataDigest|CRC32C|CRC32C",
        "MaxConnections|8|1",
        "MaxConnections|0|Reject",
        "InitialR2T|No|No",
        "InitialR2T|Yes|Yes",
        "InitialR2T|maybe|Reject",
        "ImmediateData|Yes|Yes",
        "ImmediateData|No|No",
        "MaxRecvDataSegmentLength|65536|262144",
        "MaxRecvDataSegmentLength|511|Reject",
        "MaxRecvDataSegmentLength|16777216|Reject",
        "MaxRecvDataSegmentLength|0x10000|262144",
        "MaxBurstLength|16776192|16776192",
        "MaxBurstLength|262144|262144",
        "MaxBurstLength|abc|Reject",
        "FirstBurstLength|1048576|262144",
        "FirstBurstLength|65536|65536",
        "DefaultTime2Wait|0|2",
        "DefaultTime2Wait|10|10",
        "DefaultTime2Wait|3601|Reject",
        "DefaultTime2Retain|0|0",
        "DefaultTime2Retain|60|20",
        "MaxOutstandingR2T|1|1",
        "MaxOutstandingR2T|64|16",
        "DataPDUInOrder|No|Yes",
        "DataPDUInOrder|Yes|Yes",
        "DataSequenceInOrder|No|Yes",
        "ErrorRecoveryLevel|2|0",
        "ErrorRecoveryLevel|3|Reject",
        "IFMarker|Yes|No",
        "OFMarker|No|No",
        "OFMarkInt|2048~8192|Irrelevant",
        "IFMarkInt|2048|Irrelevant",
        "RDMAExtensions|Yes|No",
        "iSCSIProtocolLevel|2|1",
        "TaskReporting|ResponseFence,RFC3720|RFC3720",
        "TargetAlias|x|Reject",
        "TargetAddress|1.2.3.4|Reject",
        "TargetPortalGroupTag|1|Reject",
        "SendTargets|All|Irrelevant",
        "X-com.example.Foo|bar|NotUnderstood",
        "X#Foo|bar|NotUnderstood",
        "UnknownKey|1|NotUnderstood"})
    void keys(String key, String offered, String expected) {
        assertEquals(expected, answer(key, offered));
    }

    @Test
    void declarationsGetNoReply() {
        assertNull(answer("InitiatorName", "iqn.1993-08.org.debian:01:x"));
        assertNull(answer("InitiatorAlias", "host"));
        assertNull(answer("SessionType", "Normal"));
        assertNull(answer("TargetName", "iqn.2026-11.io.clonetarget:x"));
    }

    @Test
    void digestsCanBeRequiredOrForbidden() throws LoginException {
        TargetSettings d = TargetSettings.defaults();
        TargetSettings required = new TargetSettings(d.maxRecvDataSegmentLength(), d.maxBurstLength(),
                d.firstBurstLength(), false, true, 16, 2, 20, DigestUse.REQUIRED, DigestUse.OFF, 256);
        assertEquals("Reject", new Negotiation(required).answerOne("HeaderDigest", "None"));
        assertEquals("CRC32C", new Negotiation(required).answerOne("HeaderDigest", "None,CRC32C"));
        assertEquals("None", new Negotiation(required).answerOne("DataDigest", "CRC32C,None"));
        assertEquals("Reject", new Negotiation(required).answerOne("DataDigest", "CRC32C"));
        Negotiation refused = new Negotiation(required);
        refused.answer(List.of(new Pair("HeaderDigest", "None")));
        assertEquals(LoginStatus.INITIATOR_ERROR, assertThrows(LoginException.class, refused::checkRequirements).status());
        Negotiation silent = new Negotiation(required);
        assertThrows(LoginException.class, silent::checkRequirements, "not offering it at all is no way around it");
        Negotiation agreed = new Negotiation(required);
        agreed.answer(List.of(new Pair("HeaderDigest", "CRC32C")));
        agreed.checkRequirements();
    }

    @Test
    void resultUsesRfcDefaultsForKeysNotOffered() throws LoginException {
        Negotiation n = new Negotiation(TargetSettings.defaults());
        n.answer(List.of(new Pair("HeaderDigest", "None")));
        SessionParameters p = n.result();
        assertTrue(p.initialR2T(), "InitialR2T defaults to Yes");
        assertTrue(p.immediateData());
        assertEquals(8192, p.initiatorMaxRecvDataSegmentLength());
        assertEquals(262_144, p.maxBurstLength());
        assertEquals(65_536, p.firstBurstLength());
        assertEquals(1, p.maxOutstandingR2T());
        assertFalse(n.declaredMaxRecvDataSegmentLength());
    }

    @Test
    void linuxProposalGivesTheFastParameters() throws LoginException {
        Negotiation n = new Negotiation(TargetSettings.defaults());
        List<Pair> reply = n.answer(List.of(new Pair("HeaderDigest", "None"), new Pair("DataDigest", "None"),
                new Pair("InitialR2T", "No"), new Pair("ImmediateData", "Yes"),
                new Pair("MaxRecvDataSegmentLength", "262144"), new Pair("MaxBurstLength", "16776192"),
                new Pair("FirstBurstLength", "262144"), new Pair("MaxOutstandingR2T", "1"),
                new Pair("ErrorRecoveryLevel", "0"), new Pair("MaxConnections", "1")));
        assertEquals(10, reply.size(), "every negotiated key is answered");
        SessionParameters p = n.result();
        assertFalse(p.initialR2T());
        assertEquals(262_144, p.firstBurstLength());
        assertEquals(16_776_192, p.maxBurstLength());
        assertEquals(262_144, p.targetMaxRecvDataSegmentLength());
        assertEquals(262_144, p.initiatorMaxRecvDataSegmentLength());
    }

    @Test
    void firstBurstNeverExceedsMaxBurst() throws LoginException {
        Negotiation n = new Negotiation(TargetSettings.defaults());
        n.answer(List.of(new Pair("MaxBurstLength", "4096"), new Pair("FirstBurstLength", "65536")));
        assertEquals(4096, n.result().firstBurstLength());
    }

    @Test
    void aKeyOfferedTwiceEndsTheLogin() throws LoginException {
        Negotiation n = new Negotiation(TargetSettings.defaults());
        n.answer(List.of(new Pair("MaxBurstLength", "4096")));
        LoginException e = assertThrows(LoginException.class,
                () -> n.answer(List.of(new Pair("MaxBurstLength", "8192"))));
        assertEquals(LoginStatus.INITIATOR_ERROR, e.status());
    }

    @Test
    void numbers() {
        assertEquals(65536, Negotiation.parseNumber("65536"));
        assertEquals(255, Negotiation.parseNumber("0xff"));
        assertEquals(-1, Negotiation.parseNumber("-5"));
        assertEquals(-1, Negotiation.parseNumber(""));
        assertEquals(-1, Negotiation.parseNumber("0x"));
        assertEquals(-1, Negotiation.parseNumber("99999999999999999999"));
    }
}
