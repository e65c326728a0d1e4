package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NetworkTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "192.0.2.0/24 | 192.0.2.0/24",
        "127.0.0.1 | 127.0.0.1/32",
        "' 10.0.0.0/8 ' | 10.0.0.0/8",
        "0.0.0.0/0 | 0.0.0.0/0",
        "255.255.255.255/32 | 255.255.255.255/32",
        "fd00::/8 | fd00::/8",
        "::1 | ::1/128",
        "::/0 | ::/0",
        "FD00:0000:0000:0000:0000:0000:0000:0000/8 | fd00::/8",
        "2001:db8:0:0:1:0:0:1 | 2001:db8::1:0:0:1/128",
        "2001:db8:0:1:0:0:0:0/64 | 2001:db8:0:1::/64",
        "2001:0:0:1:0:0:0:1 | 2001:0:0:1::1/128",
        "2001:0:0:1:0:0:1:1 | 2001::1:0:0:1:1/128",
        "2001:db8:1:2:3:4:0:6 | 2001:db8:1:2:3:4:0:6/128",
        "::1.2.3.4 | ::102:304/128"})
    void parsesAndPrintsTheCanonicalText(String text, String canonical) {
        Network n = Network.parse(text);
        assertEquals(canonical, n.toString());
        assertEquals(n, Network.parse(n.toString()), "the canonical text reads back equal");
        assertEquals(n.hashCode(), Network.parse(n.toString()).hashCode());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "192.0.2.1/24 | \"192.0.2.1/24\" has bits set past the /24 prefix; the network is 192.0.2.0/24",
        "10.1.2.3/8 | \"10.1.2.3/8\" has bits set past the /8 prefix; the network is 10.0.0.0/8",
        "fd00::1/8 | \"fd00::1/8\" has bits set past the /8 prefix; the network is fd00::/8",
        "10.0.0.0/33 | \"10.0.0.0/33\": the prefix length must be a number from 0 to 32 for IPv4",
        "fd00::/129 | \"fd00::/129\": the prefix length must be a number from 0 to 128 for IPv6",
        "10.0.0.0/-1 | \"10.0.0.0/-1\": the prefix length must be a number from 0 to 32 for IPv4",
        "10.0.0.0/ | \"10.0.0.0/\": the prefix length must be a number from 0 to 32 for IPv4",
        "10.0.0.0/08 | \"10.0.0.0/08\": the prefix length must be a number from 0 to 32 for IPv4",
        "10.0.0.0/8/8 | \"10.0.0.0/8/8\": the prefix length must be a number from 0 to 32 for IPv4",
        "010.0.0.1 | \"010.0.0.1\": leading zeros in an IPv4 address are ambiguous (octal to some tools); write 10.0.0.1",
        "192.000.2.01/32 | \"192.000.2.01/32\": leading zeros in an IPv4 address are ambiguous (octal to some tools);"
            + " write 192.0.2.1",
        "fe80::1%eth0 | \"fe80::1%eth0\": an address with a zone (%...) is not a network",
        "::ffff:192.0.2.0/120 | \"::ffff:192.0.2.0/120\" is an IPv4-mapped IPv6 address; write it as IPv4: 192.0.2.0/24",
        "::ffff:192.0.2.7 | \"::ffff:192.0.2.7\" is an IPv4-mapped IPv6 address; write it as IPv4: 192.0.2.7",
        "::ffff:0:0/90 | \"::ffff:0:0/90\" is an IPv4-mapped IPv6 address; write it as IPv4: a.b.c.d/n"})
    void refusesWithAMessageThatSaysWhatIsMeant(String text, String message) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, () -> Network.parse(text)).getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"localhost", "example.com", "host.example/24", "''", "/24", "127.1", "1",
        "256.0.0.1", "1.2.3.4.5", "0x7f.0.0.1", "[::1]", "[::1]/128", "1:2:3:4:5:6:7:8:9", "fd00:::1", "fd00::g",
        "10.0.0.0 /8", "192.0.2.0/24,10.0.0.0/8", "*"})
    void refusesWhatIsNotAnAddressAndNeverLooksANameUp(String text) {
        String m = assertThrows(IllegalArgumentException.class, () -> Network.parse(text)).getMessage();
        assertTrue(m.startsWith("not a network: \"" + text + "\" (an IP address or a network such as 192.0.2.0/24 or"
                + " fd00::/8") || m.contains("prefix length"), m);
    }

    @Test
    void containsTheAddressesOfItsPrefix() {
        Network n = Network.parse("192.0.2.0/24");
        assertTrue(n.contains(InetAddress.ofLiteral("192.0.2.0")));
        assertTrue(n.contains(InetAddress.ofLiteral("192.0.2.255")));
        assertFalse(n.contains(InetAddress.ofLiteral("192.0.3.0")));
        assertFalse(n.contains(InetAddress.ofLiteral("192.0.1.255")));
        Network odd = Network.parse("10.0.0.0/9");
        assertTrue(odd.contains(InetAddress.ofLiteral("10.127.255.255")));
        assertFalse(odd.contains(InetAddress.ofLiteral("10.128.0.0")));
        assertTrue(Network.parse("0.0.0.0/0").contains(InetAddress.ofLiteral("203.0.113.9")));
        Network one = Network.parse("127.0.0.1");
        assertTrue(one.contains(InetAddress.ofLiteral("127.0.0.1")));
        assertFalse(one.contains(InetAddress.ofLiteral("127.0.0.2")));
        Network v6 = Network.parse("fd00::/8");
        assertTrue(v6.contains(InetAddress.ofLiteral("fd12:3456::1")));
        assertFalse(v6.contains(InetAddress.ofLiteral("fe00::1")));
        assertTrue(Network.parse("::1").contains(InetAddress.ofLiteral("::1")));
        assertTrue(Network.parse("fe80::/10").contains(InetAddress.ofLiteral("fe80::1%1")), "the zone is ignored");
    }

    @Test
    void anIpv4MappedAddressIsInTheIpv4NetworkAndOnlyThere() throws Exception {
        Network v4 = Network.parse("192.0.2.0/24");
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, 0, 2, 7};
        // what a dual-stack socket may hold for an IPv4 peer, kept as an Inet6Address
        Inet6Address six = Inet6Address.getByAddress(null, mapped, -1);
        assertTrue(v4.contains(six));
        assertTrue(v4.contains(InetAddress.ofLiteral("::ffff:192.0.2.7")));
        assertFalse(v4.contains(InetAddress.ofLiteral("::ffff:192.0.3.7")));
        assertFalse(Network.parse("::/0").contains(six), "an IPv6 network does not admit IPv4 peers");
        assertFalse(Network.parse("::/0").contains(InetAddress.ofLiteral("192.0.2.7")));
        assertFalse(v4.contains(InetAddress.ofLiteral("::c000:207")), "an IPv4-compatible address is IPv6");
        assertFalse(Network.parse("0.0.0.0/0").contains(InetAddress.ofLiteral("::1")));
    }

    @Test
    void exposesItsAddressAndPrefix() {
        Network n = Network.parse("2001:db8::/32");
        assertEquals(InetAddress.ofLiteral("2001:db8::"), n.address());
        assertEquals(32, n.prefixLength());
        assertTrue(n.isIpv6());
        assertFalse(Network.parse("10.0.0.0/8").isIpv6());
        assertEquals(Network.parse("10.0.0.0/8"), Network.parse("10.0.0.0/8"));
        assertFalse(Network.parse("10.0.0.0/8").equals(Network.parse("10.0.0.0/9")));
    }
}
