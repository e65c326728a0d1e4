package io.clonetarget.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsIdentityTest {
    @TempDir
    Path dir;

    @Test
    void theFirstStartMakesAPrivateSelfSignedIdentityThatLaterStartsKeep() throws Exception {
        TlsIdentity first = TlsIdentity.loadOrCreate(dir, List.of("192.0.2.10", "admin.example"));
        Path file = dir.resolve(TlsIdentity.FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        X509Certificate cert = first.certificate();
        cert.verify(cert.getPublicKey()); // self-signed
        cert.checkValidity();
        String sans = String.valueOf(cert.getSubjectAlternativeNames());
        for (String name : List.of("127.0.0.1", "localhost", "192.0.2.10", "admin.example")) {
            assertTrue(sans.contains(name), name + " in " + sans);
        }
        assertTrue(first.fingerprint().matches("([0-9A-F]{2}:){31}[0-9A-F]{2}"), first.fingerprint());

        TlsIdentity again = TlsIdentity.loadOrCreate(dir, List.of());
        assertEquals(first.fingerprint(), again.fingerprint(), "the certificate persists across restarts");
        assertNotEquals(first.fingerprint(), TlsIdentity.loadOrCreate(dir.resolve("other"), List.of()).fingerprint());
        assertEquals("TLS", again.sslContext().getProtocol());
    }

    @Test
    void aDamagedOrExposedIdentityIsRefusedWithHowToStartOver() throws Exception {
        TlsIdentity.loadOrCreate(dir, List.of());
        Path file = dir.resolve(TlsIdentity.FILE);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        IOException exposed = assertThrows(IOException.class, () -> TlsIdentity.loadOrCreate(dir, List.of()));
        assertTrue(exposed.getMessage().contains("chmod 600"), exposed.getMessage());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        Files.write(file, new byte[] {1, 2, 3});
        IOException damaged = assertThrows(IOException.class, () -> TlsIdentity.loadOrCreate(dir, List.of()));
        assertTrue(damaged.getMessage().contains(file.toString()) && damaged.getMessage().contains("remove it"),
                damaged.getMessage());
        assertEquals(3, Files.size(file), "a damaged identity is never replaced silently");
    }

    @Test
    void fingerprintsCompareWhateverTheirSpelling() {
        assertEquals("AB01CD", TlsIdentity.normalize("ab:01:cd"));
        assertEquals("AB01CD", TlsIdentity.normalize("AB01CD"));
    }
}
