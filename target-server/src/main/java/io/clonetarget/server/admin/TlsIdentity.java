package io.clonetarget.server.admin;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The admin API's TLS identity: an EC P-256 key and a self-signed certificate, made on first
 * start into the state directory ({@value #FILE}, a PKCS#12 store of mode 0600) and kept across
 * restarts, so that clients can pin the certificate's SHA-256 fingerprint (trust on first use,
 * as SSH does). The store's password is fixed: what protects the key is the file's mode, as
 * for an SSH host key. Immutable once loaded; thread-safe.
 */
public final class TlsIdentity {
    public static final String FILE = "admin-tls.p12";
    static final String ALIAS = "admin";
    private static final char[] STORE_PASSWORD = "clonetarget-admin".toCharArray();
    private static final Duration VALIDITY = Duration.ofDays(3650);

    private final KeyStore store;
    private final X509Certificate certificate;

    private TlsIdentity(KeyStore store, X509Certificate certificate) {
        this.store = store;
        this.certificate = certificate;
    }

    /**
     * Loads the identity from {@code stateDir}, or makes one there when there is none.
     *
     * @param names host names and addresses the certificate is for, besides localhost,
     *     127.0.0.1 and ::1 (e.g. the listen address)
     * @throws IOException when the file exists but is not a usable identity (the message says
     *     how to start over), or cannot be written
     */
    public static TlsIdentity loadOrCreate(Path stateDir, List<String> names) throws IOException {
        Path file = stateDir.resolve(FILE);
        if (Files.exists(file)) {
            return load(file);
        }
        TlsIdentity made = create(names);
        PrivateFiles.write(file, made.encode());
        return made;
    }

    static TlsIdentity load(Path file) throws IOException {
        PrivateFiles.checkPrivate(file);
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(new ByteArrayInputStream(Files.readAllBytes(file)), STORE_PASSWORD);
            if (!(ks.getKey(ALIAS, STORE_PASSWORD) instanceof PrivateKey)
                    || !(ks.getCertificate(ALIAS) instanceof X509Certificate cert)) {
                throw new IOException(file + " holds no admin key and certificate (entry '" + ALIAS + "')");
            }
            return new TlsIdentity(ks, cert);
        } catch (GeneralSecurityException | IOException e) {
            throw new IOException("cannot use the admin API's TLS identity " + file + ": " + e.getMessage()
                    + "; to start over, remove it (a new certificate is made at the next start and every client"
                    + " must pin its new fingerprint)", e);
        }
    }

    static TlsIdentity create(List<String> names) throws IOException {
        try {
            KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
            gen.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = gen.generateKeyPair();
            Instant now = Instant.now();
            X500Name subject = new X500Name("CN=clonetarget admin API");
            BigInteger serial = new BigInteger(127, new SecureRandom());
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(VALIDITY)), subject, pair.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            builder.addExtension(Extension.subjectAlternativeName, false, subjectAltNames(names));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(ALIAS, pair.getPrivate(), STORE_PASSWORD, new Certificate[] {cert});
            return new TlsIdentity(ks, cert);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make a TLS certificate for the admin API: " + e.getMessage(), e);
        }
    }

    private static GeneralNames subjectAltNames(List<String> names) {
        List<GeneralName> list = new ArrayList<>();
        List<String> all = new ArrayList<>(List.of("localhost", "127.0.0.1", "::1"));
        for (String n : names) {
            if (!all.contains(n)) {
                all.add(n);
            }
        }
        for (String n : all) {
            boolean address = n.indexOf(':') >= 0 || n.chars().allMatch(c -> c == '.' || Character.isDigit(c));
            if (address) {
                try {
                    // a literal, never a lookup: only strings that look like addresses get here
                    list.add(new GeneralName(GeneralName.iPAddress, InetAddress.ofLiteral(n).getHostAddress()));
                } catch (IllegalArgumentException e) {
                    // not an address after all (e.g. an odd host name): leave it out
                }
            } else if (!n.isEmpty() && !n.equals("0.0.0.0")) {
                list.add(new GeneralName(GeneralName.dNSName, n));
            }
        }
        return new GeneralNames(list.toArray(GeneralName[]::new));
    }

    private byte[] encode() throws IOException {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            store.store(out, STORE_PASSWORD);
            return out.toByteArray();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot encode the admin TLS identity", e);
        }
    }

    /** A server-side TLS context (TLS 1.3 and 1.2, as the JDK negotiates) with this identity. */
    public SSLContext sslContext() {
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, STORE_PASSWORD);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK refused the admin TLS identity", e);
        }
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /** The SHA-256 fingerprint of the certificate, upper-case hex pairs joined by colons. */
    public String fingerprint() {
        return fingerprint(certificate);
    }

    public static String fingerprint(Certificate cert) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A fingerprint as users may type it (any case, colons or not), for comparison. */
    public static String normalize(String fingerprint) {
        return fingerprint.replace(":", "").replace(" ", "").toUpperCase(Locale.ROOT);
    }
}
