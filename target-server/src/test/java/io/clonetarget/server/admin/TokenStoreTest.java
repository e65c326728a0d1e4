package io.clonetarget.server.admin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenStoreTest {
    @TempDir
    Path dir;

    @Test
    void theFirstTokenIsWrittenOnceOwnerOnlyAndTheHashFileHoldsNoToken() throws Exception {
        TokenStore store = TokenStore.loadOrCreate(dir);
        Path tokenFile = dir.resolve(TokenStore.TOKEN);
        Path hashes = dir.resolve(TokenStore.HASHES);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(hashes)));
        String token = Files.readString(tokenFile).strip();
        assertTrue(token.startsWith("ct_") && token.length() == 46, token);
        String stored = Files.readString(hashes);
        assertFalse(stored.contains(token), "the hash file holds no token");
        assertFalse(stored.contains(token.substring(3, 20)), "not even part of it");
        assertTrue(stored.contains("initial $argon2id$v=19$m=19456,t=2,p=1$"), stored);

        assertTrue(store.verify(token));
        assertFalse(store.verify(token + "x"));
        assertFalse(store.verify("ct_" + "A".repeat(43)));
        assertFalse(store.verify(""));
        assertFalse(store.verify(null));

        Files.delete(tokenFile);
        TokenStore restarted = TokenStore.loadOrCreate(dir);
        assertTrue(restarted.verify(token), "the hash survives a restart");
        assertFalse(Files.exists(tokenFile), "the token is written once, never again");
    }

    @Test
    void addedTokensHaveNamesOfTheirOwnAndAllVerify() throws Exception {
        TokenStore store = TokenStore.loadOrCreate(dir);
        String ci = store.add("ci-runner");
        assertEquals(List.of("initial", "ci-runner"), store.names());
        assertTrue(TokenStore.loadOrCreate(dir).verify(ci));
        assertThrows(IllegalArgumentException.class, () -> store.add("ci-runner"));
        assertThrows(IllegalArgumentException.class, () -> store.add("no spaces"));
    }

    @Test
    void theHashFollowsItsStoredParameters() {
        byte[] salt = "saltsaltsaltsalt".getBytes(StandardCharsets.US_ASCII);
        byte[] pw = "ct_token".getBytes(StandardCharsets.US_ASCII);
        byte[] a = TokenStore.argon2(pw, salt, 64, 1, 1, 32);
        assertArrayEquals(a, TokenStore.argon2(pw, salt, 64, 1, 1, 32), "deterministic");
        assertNotEquals(List.of(a), List.of(TokenStore.argon2(pw, salt, 128, 1, 1, 32)));
        TokenStore.Hashed h = new TokenStore.Hashed("x", 64, 1, 1, salt, a);
        TokenStore.Hashed parsed = TokenStore.parseLine("x " + h.phc());
        assertTrue(parsed.matches(pw), "a line read back checks the same token");
        assertFalse(parsed.matches("ct_other".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void aDamagedHashFileNamesTheLine() throws Exception {
        TokenStore.loadOrCreate(dir);
        Path hashes = dir.resolve(TokenStore.HASHES);
        Files.writeString(hashes, Files.readString(hashes) + "broken $argon2i$v=19$m=1,t=1,p=1$AA$AA\n");
        IOException e = assertThrows(IOException.class, () -> TokenStore.loadOrCreate(dir));
        assertTrue(e.getMessage().contains("line 3") && e.getMessage().contains("Argon2id"), e.getMessage());
        for (String bad : List.of("x", "x $argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                "x $argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA", "x $argon2id$v=19$q=1$c2FsdHNhbHQ$aGFzaA")) {
            assertThrows(IllegalArgumentException.class, () -> TokenStore.parseLine(bad), bad);
        }
    }
}
