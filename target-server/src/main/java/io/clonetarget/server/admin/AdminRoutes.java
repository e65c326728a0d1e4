package io.clonetarget.server.admin;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The admin API's paths, and the admin command each one runs: the one table both the server
 * ({@link AdminApi}) and the client ({@link AdminHttpClient#call}) read, so the two cannot
 * disagree. A route with a name takes it from the path ({@code /v1/clones/NAME/pause}); the
 * same command without a name applies to all.
 */
final class AdminRoutes {
    /** A method and a path pattern (group 1, when present, is the name) for one command. */
    record Route(String method, Pattern path, String command, String template) {
        /** The path for this route, with {@code name} put in (null: the route without a name). */
        String path(String name) {
            return name == null ? template.replace("{/name}", "") : template.replace("{/name}", "/" + name);
        }
    }

    /** Volume names, TSIHs, iSCSI names (iqn.2026-11.com.example:disk1, eui., naa.) and snapshots (disk1@monday). */
    static final String NAME = "[A-Za-z0-9._:@-]{1,223}";

    static final List<Route> ROUTES = List.of(
            route("GET", "/v1/status", "status"),
            route("GET", "/v1/clones{/name}", "clone-status"),
            route("POST", "/v1/clones{/name}/pause", "clone-pause"),
            route("POST", "/v1/clones{/name}/resume", "clone-resume"),
            route("PUT", "/v1/clones{/name}/rate", "clone-rate"),
            route("GET", "/v1/volumes", "volume-list"),
            route("GET", "/v1/volumes{/name}", "volume-show"),
            route("GET", "/v1/targets", "target-list"),
            route("GET", "/v1/targets{/name}", "target-show"),
            route("GET", "/v1/sessions", "session-list"),
            route("GET", "/v1/sessions{/name}", "session-show"),
            route("POST", "/v1/sessions{/name}/logout", "session-logout"),
            route("GET", "/v1/config", "config-show"),
            route("POST", "/v1/config", "config-apply"),
            route("POST", "/v1/config/edits", "config-edit"),
            route("GET", "/v1/stats", "stats"),
            route("GET", "/v1/snapshots{/name}", "snapshot-list"),
            route("POST", "/v1/snapshots{/name}", "snapshot-create"),
            route("GET", "/v1/snapshot{/name}", "snapshot-show"),
            route("DELETE", "/v1/snapshot{/name}", "snapshot-delete"),
            route("POST", "/v1/snapshot{/name}/diff", "snapshot-diff"),
            route("POST", "/v1/snapshot{/name}/export-diff", "snapshot-export"),
            route("POST", "/v1/volumes{/name}/import-diff", "snapshot-import"),
            route("POST", "/v1/snapshot-streams/progress", "snapshot-progress"));

    private AdminRoutes() {
    }

    private static Route route(String method, String template, String command) {
        String regex = Pattern.quote(template).replace("{/name}", "\\E(?:/(" + NAME + "))?\\Q");
        return new Route(method, Pattern.compile(regex), command, template);
    }

    /** The route of a command. */
    static Route of(String command) {
        for (Route r : ROUTES) {
            if (r.command().equals(command)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no admin API route for command \"" + command + "\"");
    }
}
