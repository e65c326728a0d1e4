package io.clonetarget.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * CHAP secrets kept in files ({@code secret-file}, {@code mutual-secret-file}): read, and
 * refused when other users could read or change them. A secret file may be readable by its
 * group (a group the server runs in), never by others.
 */
public final class SecretFiles {
    static final int MIN_LENGTH = 12;
    static final int MAX_LENGTH = 255;

    private SecretFiles() {
    }

    /** A secret file that cannot be used; the message names the field. */
    public static final class SecretFileException extends IOException {
        SecretFileException(String message) {
            super(message);
        }
    }

    /**
     * The secret in {@code file}, without surrounding white space (a trailing newline).
     *
     * @param field the key that names the file, for the message ({@code target[0].chap.secret-file})
     * @throws SecretFileException when the file is missing, unreadable, open to other users, or
     *     holds a secret of the wrong length
     */
    public static String read(String field, Path file) throws SecretFileException {
        try {
            PosixFileAttributes attributes = Files.readAttributes(file, PosixFileAttributes.class);
            if (!attributes.isRegularFile()) {
                throw new SecretFileException(field + ": " + file + " is not a regular file");
            }
            Set<PosixFilePermission> mode = attributes.permissions();
            boolean othersRead = mode.contains(PosixFilePermission.OTHERS_READ);
            boolean othersWrite = mode.contains(PosixFilePermission.OTHERS_WRITE);
            if (othersRead || othersWrite) {
                throw new SecretFileException(field + ": " + file + " is "
                        + (othersRead && othersWrite ? "readable and writable" : othersRead ? "readable" : "writable")
                        + " by other users (" + PosixFilePermissions.toString(mode) + "); a CHAP secret must not be:"
                        + " chmod 600 " + file);
            }
        } catch (NoSuchFileException e) {
            throw new SecretFileException(field + ": " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new SecretFileException(field + ": no permission to read " + file);
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: there are no such permission bits to check
        } catch (SecretFileException e) {
            throw e;
        } catch (IOException e) {
            throw new SecretFileException(field + ": cannot read " + file + ": " + e.getMessage());
        }
        String secret;
        try {
            secret = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (CharacterCodingException e) {
            throw new SecretFileException(field + ": " + file + " is not UTF-8 text");
        } catch (AccessDeniedException e) {
            throw new SecretFileException(field + ": no permission to read " + file);
        } catch (IOException e) {
            throw new SecretFileException(field + ": cannot read " + file + ": " + e.getMessage());
        }
        if (secret.length() < MIN_LENGTH || secret.length() > MAX_LENGTH) {
            throw new SecretFileException(field + ": " + file + " holds " + secret.length() + " characters; CHAP "
                    + "secrets need " + MIN_LENGTH + " to " + MAX_LENGTH + " (Windows accepts 12 to 16)");
        }
        return secret;
    }

    /** Every problem of the secret files a configuration names, each as {@code field.path: message}. */
    public static List<String> check(ServerConfig config) {
        List<String> problems = new ArrayList<>();
        if (config.discovery() != null) {
            check("discovery", config.discovery(), problems);
        }
        for (int i = 0; i < config.targets().size(); i++) {
            ChapConfig chap = config.targets().get(i).chap();
            if (chap != null) {
                check("target[" + i + "].chap", chap, problems);
            }
        }
        return problems;
    }

    private static void check(String at, ChapConfig chap, List<String> problems) {
        String secret = secret(at + ".secret-file", chap.secretFile(), chap.secret(), problems);
        String mutual = secret(at + ".mutual-secret-file", chap.mutualSecretFile(), chap.mutualSecret(), problems);
        if (secret != null && secret.equals(mutual) && (chap.secretFile() != null || chap.mutualSecretFile() != null)) {
            problems.add(at + ".mutual-secret" + (chap.mutualSecretFile() != null ? "-file" : "")
                    + ": must differ from the secret (initiators refuse equal secrets)");
        }
    }

    /** The secret, from the file when there is one; null when there is none or it cannot be read. */
    private static String secret(String field, String file, String inline, List<String> problems) {
        if (file == null) {
            return inline;
        }
        try {
            return read(field, Path.of(file));
        } catch (SecretFileException e) {
            problems.add(e.getMessage());
            return null;
        } catch (java.nio.file.InvalidPathException e) {
            problems.add(field + ": not a file name: \"" + file + "\"");
            return null;
        }
    }
}
