package io.clonetarget.config;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An IP network: an address and a prefix length, written {@code 192.0.2.0/24}, {@code fd00::/8},
 * or as a single address ({@code 127.0.0.1}, {@code ::1}: the same as {@code /32} and {@code /128}).
 *
 * <p>Only literal addresses are read; a host name is refused, never looked up. The text is
 * strict so that it means the same to every reader: IPv4 is four decimal parts without leading
 * zeros ({@code 010.0.0.1} is octal to some tools), IPv6 has no brackets and no zone
 * ({@code %eth0}), an IPv4-mapped IPv6 network ({@code ::ffff:192.0.2.0/120}) is written as the
 * IPv4 network it means, and no bit may be set past the prefix ({@code 192.0.2.1/24} is refused:
 * the network is {@code 192.0.2.0/24}).
 *
 * <p>An IPv4 network contains IPv4 addresses, including IPv4-mapped IPv6 ones
 * ({@code ::ffff:192.0.2.7}, what a dual-stack socket reports for an IPv4 peer); an IPv6 network
 * contains the other IPv6 addresses. So {@code ::/0} does not admit IPv4 peers: list
 * {@code 0.0.0.0/0} too for that.
 */
public final class Network {
    private static final Pattern IPV4 = Pattern.compile("(0|[1-9]\\d{0,2})(\\.(0|[1-9]\\d{0,2})){3}");
    private static final Pattern IPV4_SHAPE = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
    private static final Pattern PREFIX = Pattern.compile("0|[1-9]\\d{0,2}");
    private static final String FORMS = "an IP address or a network such as 192.0.2.0/24 or fd00::/8";

    private final byte[] address;
    private final int prefixLength;

    private Network(byte[] address, int prefixLength) {
        this.address = address;
        this.prefixLength = prefixLength;
    }

    /**
     * Parses a network or a single address; white space around it is ignored.
     *
     * @throws IllegalArgumentException with a message saying what is wrong (and, for host bits
     *     set past the prefix, which network was probably meant)
     */
    public static Network parse(String text) {
        String t = text.strip();
        int slash = t.indexOf('/');
        String host = slash < 0 ? t : t.substring(0, slash);
        String prefixText = slash < 0 ? null : t.substring(slash + 1);
        byte[] bytes = literal(host, prefixText, text);
        int max = bytes.length * 8;
        int prefix = max;
        if (prefixText != null) {
            if (!PREFIX.matcher(prefixText).matches() || Integer.parseInt(prefixText) > max) {
                throw new IllegalArgumentException("\"" + text + "\": the prefix length must be a number from 0 to "
                        + max + (bytes.length == 4 ? " for IPv4" : " for IPv6"));
            }
            prefix = Integer.parseInt(prefixText);
        }
        byte[] network = masked(bytes, prefix);
        if (!Arrays.equals(network, bytes)) {
            throw new IllegalArgumentException("\"" + text + "\" has bits set past the /" + prefix
                    + " prefix; the network is " + new Network(network, prefix));
        }
        return new Network(network, prefix);
    }

    /** The bytes of an address literal (4 or 16), or a message naming what is wrong with it. */
    private static byte[] literal(String host, String prefixText, String text) {
        boolean v4 = IPV4.matcher(host).matches();
        if (!v4 && IPV4_SHAPE.matcher(host).matches() && host.matches("(.*\\.)?0\\d.*")) {
            throw new IllegalArgumentException("\"" + text + "\": leading zeros in an IPv4 address are ambiguous"
                    + " (octal to some tools); write " + host.replaceAll("(?<![0-9])0+(?=[0-9])", ""));
        }
        if (host.contains("%")) {
            throw new IllegalArgumentException("\"" + text + "\": an address with a zone (%...) is not a network");
        }
        InetAddress parsed = null;
        if (v4 || IPV6.matcher(host).matches()) {
            try {
                parsed = InetAddress.ofLiteral(host);
            } catch (IllegalArgumentException e) {
                // said below
            }
        }
        if (parsed == null) {
            throw new IllegalArgumentException("not a network: \"" + text + "\" (" + FORMS
                    + "; host names are not looked up)");
        }
        if (!v4 && parsed instanceof Inet4Address mapped) {
            String hint = mapped.getHostAddress();
            if (prefixText != null) {
                int p = PREFIX.matcher(prefixText).matches() ? Integer.parseInt(prefixText) : -1;
                hint = p >= 96 && p <= 128 ? new Network(masked(mapped.getAddress(), p - 96), p - 96).toString()
                        : "a.b.c.d/n";
            }
            throw new IllegalArgumentException("\"" + text + "\" is an IPv4-mapped IPv6 address; write it as IPv4: "
                    + hint);
        }
        return parsed.getAddress();
    }

    private static byte[] masked(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - 8 * i));
            out[i] &= (byte) (0xff << (8 - keep));
        }
        return out;
    }

    /** The network's first address (all bits past the prefix zero). */
    public InetAddress address() {
        try {
            return InetAddress.getByAddress(address);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e); // 4 or 16 bytes: cannot happen
        }
    }

    /** How many leading bits an address must share with {@link #address()}: 0 to 32, or 0 to 128. */
    public int prefixLength() {
        return prefixLength;
    }

    /** Whether this is an IPv6 network. */
    public boolean isIpv6() {
        return address.length == 16;
    }

    /**
     * Whether {@code a} is in this network. An IPv4-mapped IPv6 address counts as the IPv4
     * address it maps; an IPv6 address's zone is ignored.
     */
    public boolean contains(InetAddress a) {
        byte[] b = unmapped(Objects.requireNonNull(a, "address").getAddress());
        return b.length == address.length && Arrays.equals(masked(b, prefixLength), address);
    }

    /** The IPv4 address of an IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}); other addresses as they are. */
    private static byte[] unmapped(byte[] b) {
        if (b.length != 16 || b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
            return b;
        }
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return b;
            }
        }
        return Arrays.copyOfRange(b, 12, 16);
    }

    /**
     * The canonical text, always with the prefix: {@code 192.0.2.0/24}, {@code 127.0.0.1/32},
     * {@code fd00::/8}, {@code 2001:db8::1/128} (IPv6 as RFC 5952 has it: lower case, no
     * leading zeros, the longest run of zero groups as {@code ::}). {@link #parse} reads it back
     * to an equal network.
     */
    @Override
    public String toString() {
        return (address.length == 4 ? ipv4(address) : ipv6(address)) + "/" + prefixLength;
    }

    private static String ipv4(byte[] b) {
        return (b[0] & 0xff) + "." + (b[1] & 0xff) + "." + (b[2] & 0xff) + "." + (b[3] & 0xff);
    }

    private static String ipv6(byte[] b) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = (b[2 * i] & 0xff) << 8 | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLength = 1; // a single zero group is not shortened (RFC 5952 section 4.2.2)
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLength - 1;
                continue;
            }
            if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }

    /** Networks are equal when they have the same address and prefix length. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Network n && n.prefixLength == prefixLength && Arrays.equals(n.address, address);
    }

    /** Consistent with {@link #equals}. */
    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(address) + prefixLength;
    }
}
