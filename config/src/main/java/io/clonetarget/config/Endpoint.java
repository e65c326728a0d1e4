package io.clonetarget.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/** A portal address: {@code 192.0.2.1:3260}, {@code [::1]:3260}, {@code 0.0.0.0:3260}; the port defaults to 3260. */
public final class Endpoint {
    public static final int DEFAULT_PORT = 3260;

    private Endpoint() {
    }

    /**
     * Parses an address with an IP literal (host names are refused: a portal binds an address).
     *
     * @throws IllegalArgumentException with a message saying what is wrong
     */
    public static InetSocketAddress parse(String text) {
        String t = text.trim();
        String host;
        String port = null;
        if (t.startsWith("[")) {
            int close = t.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("missing ']' in \"" + text + "\"");
            }
            host = t.substring(1, close);
            String rest = t.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("expected ':port' after ']' in \"" + text + "\"");
                }
                port = rest.substring(1);
            }
        } else {
            int colon = t.lastIndexOf(':');
            if (colon >= 0 && t.indexOf(':') != colon) {
                throw new IllegalArgumentException("IPv6 addresses need brackets: \"[" + t + "]:3260\"");
            }
            host = colon < 0 ? t : t.substring(0, colon);
            port = colon < 0 ? null : t.substring(colon + 1);
        }
        int portNumber = DEFAULT_PORT;
        if (port != null) {
            try {
                portNumber = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a port number: \"" + port + "\"");
            }
            if (portNumber < 0 || portNumber > 65535) {
                throw new IllegalArgumentException("port " + portNumber + " outside 0..65535");
            }
        }
        if (!isIpLiteral(host)) {
            throw new IllegalArgumentException("not an IP address: \"" + host + "\"");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), portNumber);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: \"" + host + "\"");
        }
    }

    private static boolean isIpLiteral(String host) {
        if (host.isEmpty()) {
            return false;
        }
        if (host.contains(":")) {
            return host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.' || c == '%');
        }
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    /** The text form that {@link #parse} reads back. */
    public static String format(InetSocketAddress address) {
        String host = address.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
