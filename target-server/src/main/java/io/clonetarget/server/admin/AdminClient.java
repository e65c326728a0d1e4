package io.clonetarget.server.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Talks to a running server over its {@link AdminSocket}. */
public final class AdminClient {
    private AdminClient() {
    }

    /** Thrown when no server answers on the socket; the message says what to check. */
    public static final class NotRunningException extends IOException {
        public NotRunningException(String message) {
            super(message);
        }
    }

    /**
     * Sends {@code command} (with optional extra fields) and returns the result.
     *
     * @throws NotRunningException when nothing listens on {@code socket}
     * @throws IOException with the server's error message when it refuses the request
     */
    public static JsonNode call(Path socket, String command, ObjectNode fields) throws IOException {
        if (!Files.exists(socket)) {
            throw new NotRunningException("no clonetarget server is running there (" + socket + " does not exist)");
        }
        ObjectNode request = fields == null ? Json.MAPPER.createObjectNode() : fields.deepCopy();
        request.put("command", command);
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                channel.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new NotRunningException("no clonetarget server answers on " + socket + " (" + e.getMessage()
                        + "); it may have stopped");
            }
            channel.write(java.nio.ByteBuffer.wrap(Json.MAPPER.writeValueAsBytes(request)));
            channel.write(java.nio.ByteBuffer.wrap(new byte[]{'\n'}));
            channel.shutdownOutput();
            InputStream in = Channels.newInputStream(channel);
            JsonNode answer = Json.MAPPER.readTree(in.readAllBytes());
            if (answer == null || !answer.isObject()) {
                throw new IOException("the server sent no answer");
            }
            if (!answer.path("ok").asBoolean(false)) {
                throw new AdminHttpClient.ApiException(answer.path("status").asInt(400),
                        answer.path("code").asText("bad_request"), answer.path("error").asText("the server refused the request"));
            }
            return answer.path("result");
        }
    }
}
