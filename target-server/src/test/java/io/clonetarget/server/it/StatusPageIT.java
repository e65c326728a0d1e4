package io.clonetarget.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.server.Volumes;
import io.clonetarget.server.admin.TokenStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin API's status page, rendered by headless Chromium (Debian's chromium). */
class StatusPageIT {
    static final Duration T = Duration.ofSeconds(90);
    @TempDir
    Path dir;

    private static List<String> chromium(Path profile, String... args) {
        List<String> cmd = new ArrayList<>(List.of("chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--ignore-certificate-errors", "--no-first-run", "--user-data-dir=" + profile,
                "--virtual-time-budget=6000", "--window-size=1280,1000"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void thePageShowsTargetsSessionsAndHydrationWithTheTokenAndNothingWithout() throws Exception {
        Tools.require("chromium", "chromium");
        Path golden = dir.resolve("golden.img");
        CloneIT.randomImage(golden, CloneIT.SIZE, 11);
        ServerConfig config = TestTarget.config(dir, List.of(CloneIT.clone(golden, dir.resolve("clone.img"), "64K",
                CloneIT.rate("4M", false, false))), List.of(new LunConfig(0, "c0")));
        try (TestTarget t = TestTarget.start(dir, config, Volumes::open); RawInitiator session = new RawInitiator(t.port())) {
            session.login(TestTarget.IQN);
            String token = Files.readString(dir.resolve(TokenStore.TOKEN)).strip();
            String page = "https://127.0.0.1:" + t.server.adminApi().getPort() + "/ui";
            Path shot = dir.resolve("status.png");
            Tools.Result dom = Tools.run(T, chromium(dir.resolve("profile"), "--dump-dom", page + "#token=" + token));
            String html = dom.output();
            assertTrue(html.contains(TestTarget.IQN), "the target is listed:\n" + html);
            assertTrue(html.contains("iqn.2026-11.io.clonetarget:raw"), "the session is listed");
            assertTrue(html.matches("(?s).*<td class=\"hydrated\"><span class=\"bar\"><span style=\"width: [0-9.]+%;\">"
                    + "</span></span>[0-9.]+%</td>.*"), "the clone has a progress bar:\n" + html);
            assertTrue(html.contains("Lines: c0"), "the rate plot has the clone's line");
            assertTrue(!html.contains("Cannot read the admin API"), html);

            Tools.Result picture = Tools.run(T, chromium(dir.resolve("profile2"), "--screenshot=" + shot,
                    page + "#token=" + token));
            assertEquals(0, picture.exitCode(), picture.output());
            assertTrue(Files.size(shot) > 20_000, "a screenshot of the rendered page: " + Files.size(shot) + " bytes");

            String without = Tools.run(T, chromium(dir.resolve("profile3"), "--dump-dom", page)).output();
            assertTrue(without.contains("id=\"login\"") && !without.contains("id=\"login\" hidden"),
                    "without a token the page asks for one");
            assertTrue(!without.contains(TestTarget.IQN), "and shows no data");
        }
    }
}
