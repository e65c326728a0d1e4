package io.clonetarget.server.login;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * CHAP for iSCSI (RFC 1994, RFC 7143 section 12.1.3): response = H(identifier || secret ||
 * challenge). Algorithms by CHAP_A code: 5 MD5 (what Windows speaks), 7 SHA-256 and
 * 8 SHA3-256 (RFC 7143 update for modern Linux). Binary values are hex ({@code 0x}) or base64
 * ({@code 0b}).
 */
public final class Chap {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** CHAP_A algorithms this target implements. */
    public enum Algorithm {
        MD5(5, "MD5", 16),
        SHA_256(7, "SHA-256", 32),
        SHA3_256(8, "SHA3-256", 32);

        private final int code;
        private final String jcaName;
        private final int length;

        Algorithm(int code, String jcaName, int length) {
            this.code = code;
            this.jcaName = jcaName;
            this.length = length;
        }

        public int code() {
            return code;
        }

        /** Digest length; challenges are made this long. */
        public int length() {
            return length;
        }

        MessageDigest newDigest() {
            try {
                return MessageDigest.getInstance(jcaName);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(jcaName + " missing from the JDK", e);
            }
        }
    }

    private Chap() {
    }

    /** The first algorithm of the initiator's CHAP_A list we implement, or null. */
    public static Algorithm choose(String offeredList) {
        for (String item : offeredList.split(",", -1)) {
            long code = Negotiation.parseNumber(item.trim());
            for (Algorithm a : Algorithm.values()) {
                if (a.code == code) {
                    return a;
                }
            }
        }
        return null;
    }

    /** A fresh random challenge. */
    public static byte[] challenge(Algorithm algorithm) {
        byte[] c = new byte[Math.max(16, algorithm.length())];
        RANDOM.nextBytes(c);
        return c;
    }

    /** A fresh random identifier (0-255). */
    public static int identifier() {
        return RANDOM.nextInt(256);
    }

    /** H(identifier || secret || challenge). */
    public static byte[] response(Algorithm algorithm, int identifier, byte[] secret, byte[] challenge) {
        MessageDigest md = algorithm.newDigest();
        md.update((byte) identifier);
        md.update(secret);
        md.update(challenge);
        return md.digest();
    }

    /** Constant-time check of a received response. */
    public static boolean verify(Algorithm algorithm, int identifier, byte[] secret, byte[] challenge, byte[] received) {
        return MessageDigest.isEqual(response(algorithm, identifier, secret, challenge), received);
    }

    /**
     * Decodes a binary value ({@code 0x} hex or {@code 0b} base64).
     *
     * @throws IllegalArgumentException when the text is neither
     */
    public static byte[] decode(String value) {
        if (value.length() > 2 && (value.startsWith("0x") || value.startsWith("0X"))) {
            String hex = value.substring(2);
            if (hex.length() % 2 == 1) {
                hex = "0" + hex;
            }
            return HexFormat.of().parseHex(hex);
        }
        if (value.length() > 2 && (value.startsWith("0b") || value.startsWith("0B"))) {
            return Base64.getDecoder().decode(value.substring(2));
        }
        throw new IllegalArgumentException("not a 0x or 0b binary value");
    }

    /** Encodes as {@code 0x} followed by lower-case hex. */
    public static String encode(byte[] value) {
        return "0x" + HexFormat.of().formatHex(value);
    }
}
