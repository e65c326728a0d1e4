package io.clonetarget.server.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Bearer tokens of the admin API, kept only as Argon2id hashes in {@value #HASHES} (one line per
 * token: its name and a PHC string such as {@code $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH}).
 * On the first start, when there are no hashes, a token is made, its hash stored, and the token
 * itself written once to {@value #TOKEN} (mode 0600) for the local CLI; it is never written
 * again, so deleting that file after copying the token elsewhere is safe.
 *
 * <p>Checking a token costs an Argon2id evaluation (19 MiB, 2 passes, the OWASP minimum; tens
 * of milliseconds). A token that matched is remembered by its SHA-256 for the life of the
 * process, so a client's later requests are cheap; a wrong token is never remembered, so every
 * guess pays the full price. Thread-safe: the token list is replaced, never changed.
 */
public final class TokenStore {
    public static final String HASHES = "admin-tokens";
    public static final String TOKEN = "admin.token";
    static final int MEMORY_KIB = 19_456;
    static final int ITERATIONS = 2;
    static final int PARALLELISM = 1;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final String PREFIX = "ct_";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getDecoder();

    /** One stored token: its name and the parameters, salt and hash of its Argon2id. */
    record Hashed(String name, int memoryKib, int iterations, int parallelism, byte[] salt, byte[] hash) {
        String phc() {
            return "$argon2id$v=19$m=" + memoryKib + ",t=" + iterations + ",p=" + parallelism + "$"
                    + B64.encodeToString(salt) + "$" + B64.encodeToString(hash);
        }

        boolean matches(byte[] token) {
            return MessageDigest.isEqual(hash, argon2(token, salt, memoryKib, iterations, parallelism, hash.length));
        }
    }

    private final Path file;
    private volatile List<Hashed> tokens;
    private final Set<String> verified = ConcurrentHashMap.newKeySet();
    private boolean created;

    private TokenStore(Path file, List<Hashed> tokens) {
        this.file = file;
        this.tokens = List.copyOf(tokens);
    }

    /**
     * Loads the hashes from {@code stateDir}; when there are none yet, makes the first token and
     * writes it to {@value #TOKEN}.
     */
    public static TokenStore loadOrCreate(Path stateDir) throws IOException {
        Path file = stateDir.resolve(HASHES);
        if (Files.exists(file)) {
            TokenStore store = new TokenStore(file, parse(file));
            if (!store.tokens.isEmpty()) {
                return store;
            }
        }
        TokenStore store = new TokenStore(file, List.of());
        String token = store.add("initial");
        PrivateFiles.write(stateDir.resolve(TOKEN), (token + "\n").getBytes(StandardCharsets.US_ASCII));
        store.created = true;
        return store;
    }

    /** Makes a new token called {@code name}, stores its hash and returns the token (shown once). */
    public synchronized String add(String name) throws IOException {
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("a token name is 1 to 64 of A-Z a-z 0-9 . _ -, not '" + name + "'");
        }
        for (Hashed h : tokens) {
            if (h.name().equals(name)) {
                throw new IllegalArgumentException("a token called " + name + " exists");
            }
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] hash = argon2(token.getBytes(StandardCharsets.US_ASCII), salt, MEMORY_KIB, ITERATIONS, PARALLELISM,
                HASH_BYTES);
        List<Hashed> next = new ArrayList<>(tokens);
        next.add(new Hashed(name, MEMORY_KIB, ITERATIONS, PARALLELISM, salt, hash));
        save(next);
        tokens = List.copyOf(next);
        return token;
    }

    /** Whether {@code token} is one of the stored tokens. */
    public boolean verify(String token) {
        if (token == null || token.isEmpty() || token.length() > 256) {
            return false;
        }
        byte[] bytes = token.getBytes(StandardCharsets.UTF_8);
        String key = sha256(bytes);
        if (verified.contains(key)) {
            return true;
        }
        for (Hashed h : tokens) {
            if (h.matches(bytes)) {
                verified.add(key);
                return true;
            }
        }
        return false;
    }

    /** Whether this load made the first token (and wrote {@value #TOKEN}). */
    public boolean created() {
        return created;
    }

    /** The names of the stored tokens. */
    public List<String> names() {
        return tokens.stream().map(Hashed::name).toList();
    }

    private void save(List<Hashed> list) throws IOException {
        StringBuilder text = new StringBuilder("# clonetarget admin API tokens: name and Argon2id hash (never the token)\n");
        for (Hashed h : list) {
            text.append(h.name()).append(' ').append(h.phc()).append('\n');
        }
        PrivateFiles.write(file, text.toString().getBytes(StandardCharsets.US_ASCII));
    }

    static List<Hashed> parse(Path file) throws IOException {
        PrivateFiles.checkPrivate(file);
        List<Hashed> list = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            try {
                list.add(parseLine(line));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + " line " + (i + 1) + ": " + e.getMessage()
                        + " (expected: NAME $argon2id$v=19$m=M,t=T,p=P$SALT$HASH)", e);
            }
        }
        return list;
    }

    static Hashed parseLine(String line) {
        String[] parts = line.split(" ", 2);
        if (parts.length != 2) {
            throw new IllegalArgumentException("no hash after the name");
        }
        String[] f = parts[1].split("\\$", -1);
        if (f.length != 6 || !f[0].isEmpty() || !f[1].equals("argon2id") || !f[2].equals("v=19")) {
            throw new IllegalArgumentException("not an Argon2id (v=19) hash");
        }
        int m = -1;
        int t = -1;
        int p = -1;
        for (String kv : f[3].split(",")) {
            String[] e = kv.split("=", 2);
            int v;
            try {
                v = e.length == 2 ? Integer.parseInt(e[1]) : -1;
            } catch (NumberFormatException x) {
                v = -1;
            }
            switch (e[0]) {
                case "m" -> m = v;
                case "t" -> t = v;
                case "p" -> p = v;
                default -> throw new IllegalArgumentException("unknown Argon2 parameter " + e[0]);
            }
        }
        if (m < 8 || m > 4_194_304 || t < 1 || t > 100 || p < 1 || p > 64) {
            throw new IllegalArgumentException("Argon2 parameters out of range: " + f[3]);
        }
        byte[] salt;
        byte[] hash;
        try {
            salt = B64D.decode(f[4]);
            hash = B64D.decode(f[5]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("salt or hash is not base64");
        }
        if (salt.length < 8 || hash.length < 16 || hash.length > 64) {
            throw new IllegalArgumentException("salt or hash too short");
        }
        return new Hashed(parts[0], m, t, p, salt, hash);
    }

    static byte[] argon2(byte[] password, byte[] salt, int memoryKib, int iterations, int parallelism, int length) {
        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(memoryKib)
                .withIterations(iterations)
                .withParallelism(parallelism)
                .withSalt(salt)
                .build());
        byte[] out = new byte[length];
        gen.generateBytes(password, out);
        return out;
    }

    private static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
