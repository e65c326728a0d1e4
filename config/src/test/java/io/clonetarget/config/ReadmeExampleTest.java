package io.clonetarget.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The configuration file README.md shows is one this code reads, and means what it says. */
class ReadmeExampleTest {
    @Test
    void theReadmesConfigurationFileIsValid() throws Exception {
        String readme = Files.readString(Path.of("../README.md"));
        int start = readme.indexOf("```toml\n");
        assertTrue(start >= 0, "README.md shows a TOML file");
        String toml = readme.substring(start + 8, readme.indexOf("```", start + 8));
        ServerConfig c = ConfigFiles.parse(toml, "README.md");
        assertEquals(2, c.volumes().size());
        TargetConfig t = c.targets().getFirst();
        assertEquals("host1", c.discovery().user());
        assertEquals(java.util.List.of("192.0.2.0/24"), t.allowedNetworks());
        assertEquals("vm1", t.initiator("iqn.1993-08.org.debian:01:host2").luns().getFirst().volume());
    }
}
