package io.clonetarget.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.clonetarget.server.admin.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** Options every command that talks to a running server takes: which server, and the output format. */
final class ServerOptions {
    @Option(names = "--state-dir", paramLabel = "DIR", description = "The server's state directory. Default: "
            + "the default server's, else the demo's.")
    Path stateDir;

    @Option(names = "--api", paramLabel = "URL", description = "The server's admin API (https://HOST:PORT/); "
            + "default: the one of the state directory's server. Also CLONETARGET_API.")
    java.net.URI api;

    @Option(names = "--fingerprint", paramLabel = "SHA256", description = "The SHA-256 fingerprint the API's "
            + "certificate must have (with --api). Also CLONETARGET_FINGERPRINT.")
    String fingerprint;

    @Option(names = "--token-file", paramLabel = "FILE", description = "A file holding the API token. Default: "
            + "CLONETARGET_TOKEN, else the state directory's admin.token.")
    Path tokenFile;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json.")
    String output = "table";

    JsonNode call(CommandLine cl, String command, ObjectNode fields) throws IOException {
        if (!output.equals("table") && !output.equals("json")) {
            throw new CommandLine.ParameterException(cl, "--output: \"" + output + "\" is not table or json");
        }
        return ServerLink.open(stateDir, api, fingerprint, tokenFile).call(command, fields);
    }

    /** Prints {@code result} as JSON, or with {@code table} when the output is a table. */
    void print(PrintWriter out, JsonNode result, java.util.function.Function<JsonNode, String> table)
            throws IOException {
        out.print(output.equals("json") ? Json.MAPPER.writeValueAsString(result) + "\n" : table.apply(result));
        out.flush();
    }
}
