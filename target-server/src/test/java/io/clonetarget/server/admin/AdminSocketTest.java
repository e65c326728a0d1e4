package io.clonetarget.server.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminSocketTest {
    @TempDir
    Path dir;

    static JsonNode echo(JsonNode request) {
        if (request.path("command").asText().equals("boom")) {
            throw new IllegalArgumentException("unknown command \"boom\"");
        }
        return Json.MAPPER.createObjectNode().put("echo", request.path("command").asText());
    }

    static String raw(Path socket, String request) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            c.shutdownOutput();
            return new String(Channels.newInputStream(c).readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void answersOneRequestPerConnectionOwnerOnly() throws Exception {
        Path state = dir.resolve("state");
        try (AdminSocket admin = AdminSocket.open(state, AdminSocketTest::echo)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(admin.path())));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            assertEquals("status", AdminClient.call(admin.path(), "status", null).path("echo").asText());
            IOException refused = assertThrows(IOException.class, () -> AdminClient.call(admin.path(), "boom", null));
            assertEquals("unknown command \"boom\"", refused.getMessage());
            assertTrue(raw(admin.path(), "not json\n").contains("\"ok\":false"));
            assertTrue(raw(admin.path(), "[1,2]\n").contains("a request is a JSON object with a \\\"command\\\""));
            assertTrue(raw(admin.path(), "x".repeat(AdminSocket.MAX_REQUEST + 10)).contains("longer than"));
            assertEquals(Long.toString(ProcessHandle.current().pid()), Files.readString(state.resolve(AdminSocket.LOCK)).strip());
        }
        assertTrue(Files.notExists(state.resolve(AdminSocket.SOCKET)), "removed on close");
    }

    @Test
    void aClientMustSendItsRequestInTimeButACommandMayRunLonger() throws Exception {
        long limit = 300;
        try (AdminSocket admin = AdminSocket.open(dir, request -> {
            try {
                Thread.sleep(3 * limit); // a command that runs longer than a request may take to arrive
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Json.MAPPER.createObjectNode().put("done", request.path("command").asText());
        }, limit)) {
            // before: the connection was closed at the limit whatever the command did, and the answer lost
            assertEquals("export", AdminClient.call(admin.path(), "export", null).path("done").asText());
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(admin.path()));
                // sends nothing: cut off after the limit (readAllBytes returns at end of stream)
                assertEquals(0, Channels.newInputStream(c).readAllBytes().length);
            }
        }
    }

    @Test
    void aSecondServerCannotShareTheStateDirectoryAndAStaleSocketIsReplaced() throws Exception {
        try (AdminSocket first = AdminSocket.open(dir, AdminSocketTest::echo)) {
            IOException e = assertThrows(IOException.class, () -> AdminSocket.open(dir, AdminSocketTest::echo));
            assertTrue(e.getMessage().contains("another clonetarget server (pid " + ProcessHandle.current().pid()
                    + ") uses the state directory"), e.getMessage());
        }
        Files.writeString(dir.resolve(AdminSocket.SOCKET), "left by a server that died");
        try (AdminSocket again = AdminSocket.open(dir, AdminSocketTest::echo)) {
            assertEquals("x", AdminClient.call(again.path(), "x", null).path("echo").asText());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(again.path())));
        }
    }

    @Test
    void aLockFileLeftWithAWiderModeIsMadeOwnerOnly() throws Exception {
        Path lock = Files.writeString(dir.resolve(AdminSocket.LOCK), "123\n");
        Files.setPosixFilePermissions(lock, PosixFilePermissions.fromString("rw-rw-rw-"));
        try (AdminSocket admin = AdminSocket.open(dir, AdminSocketTest::echo)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(lock)));
        }
    }

    /** Java cannot change its own umask, so a child JVM runs under umask 000 and reports the modes it got. */
    @Test
    void underUmask000TheStateDirectoryLockAndSocketAreOwnerOnly() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Path state = dir.resolve("state");
        Process p = new ProcessBuilder("sh", "-c", "umask 000 && exec \"$0\" -cp \"$1\" " + UmaskProbe.class.getName()
                + " \"$2\"", java, System.getProperty("java.class.path"), state.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        assertTrue(output.contains("state rwx------\n"), output);
        assertTrue(output.contains(AdminSocket.LOCK + " rw-------\n"), output);
        assertTrue(output.contains(AdminSocket.SOCKET + " rw-------\n"), output);
        assertTrue(output.contains("entries [" + AdminSocket.SOCKET + ", " + AdminSocket.LOCK + "]"),
                "no private bind directory left: " + output);
    }

    @Test
    void noServerIsAClearError() {
        AdminClient.NotRunningException e = assertThrows(AdminClient.NotRunningException.class,
                () -> AdminClient.call(dir.resolve("admin.sock"), "status", null));
        assertTrue(e.getMessage().contains("no clonetarget server is running there"), e.getMessage());
    }
}
