package io.clonetarget.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.clonetarget.config.ByteSize;
import io.clonetarget.config.ConfigChange;
import io.clonetarget.config.ConfigDiff;
import io.clonetarget.config.ConfigException;
import io.clonetarget.config.ConfigFiles;
import io.clonetarget.config.LunConfig;
import io.clonetarget.config.ServerConfig;
import io.clonetarget.config.VolumeConfig;
import io.clonetarget.server.admin.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigEditsTest {
    private static final String T = "iqn.2026-12.com.example:t";
    private static final String H1 = "iqn.2026-12.com.example:h1";

    private static ServerConfig base() throws ConfigException {
        return ConfigFiles.parse("""
                [[volume]]
                name = "a"
                path = "/srv/a.img"
                size = "1G"

                [[volume]]
                name = "b"
                path = "/srv/b.img"
                size = "1G"

                [[target]]
                iqn = "%s"
                [[target.lun]]
                lun = 0
                volume = "a"
                """.formatted(T), "test");
    }

    private static List<String> plan(ServerConfig before, ServerConfig after) {
        return ConfigDiff.between(before, after).stream().map(ConfigChange::describe).toList();
    }

    @Test
    void lunMapTakesTheLowestFreeNumberAndIsIdempotent() throws ConfigException {
        ServerConfig c = base();
        ServerConfig mapped = ConfigEdits.lunMap(c, T, null, "b", null);
        assertEquals(List.of("+ lun 1 of " + T + ": volume b"), plan(c, mapped));
        assertSame(mapped, ConfigEdits.lunMap(mapped, T, null, "b", null), "mapping what is mapped changes nothing");
        assertSame(mapped, ConfigEdits.lunMap(mapped, T, 1, "b", null));
        IllegalArgumentException taken = assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.lunMap(c, T, 0, "b", null));
        assertEquals("lun 0 of " + T + " is volume a; unmap it first or pick another number", taken.getMessage());
        assertEquals("no volume named \"x\"", assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.lunMap(c, T, null, "x", null)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.lunMap(c, "iqn.2026-12.com.example:none", null, "a", null)).getMessage()
                .startsWith("no target named"));
        // the result is a valid configuration
        ConfigFiles.validate(mapped, "edit", io.clonetarget.config.ConfigCheck.NONE);
    }

    @Test
    void anInitiatorsFirstOwnMapStartsAsTheDefaultOneAndUnmappingIsIdempotent() throws ConfigException {
        ServerConfig c = base();
        ServerConfig own = ConfigEdits.lunMap(c, T, 3, "b", H1);
        assertEquals(List.of("+ lun map of " + H1 + " on " + T, "+ lun 0 of " + T + " (map of " + H1 + "): volume a",
                "+ lun 3 of " + T + " (map of " + H1 + "): volume b"), plan(c, own),
                "host1 keeps what it saw: its LUN 0 stays volume a");
        ConfigFiles.validate(own, "edit", io.clonetarget.config.ConfigCheck.NONE); // a in two maps of one target
        assertEquals("volume a is already lun 0 of " + T + " (map of " + H1 + "); a volume appears once in a map",
                assertThrows(IllegalArgumentException.class, () -> ConfigEdits.lunMap(own, T, 5, "a", H1)).getMessage());
        ServerConfig copyOnly = ConfigEdits.lunMap(c, T, null, "a", H1);
        assertEquals(List.of("+ lun map of " + H1 + " on " + T, "+ lun 0 of " + T + " (map of " + H1 + "): volume a"),
                plan(c, copyOnly));
        ServerConfig unmapped = ConfigEdits.lunUnmap(ConfigEdits.lunUnmap(own, T, 3, H1), T, 0, H1);
        assertEquals(List.of(), unmapped.target(T).initiator(H1).luns(), "the map stays, empty: it sees no LUN");
        assertSame(unmapped, ConfigEdits.lunUnmap(unmapped, T, 3, H1));
        assertSame(c, ConfigEdits.lunUnmap(c, T, 9, null));
    }

    @Test
    void deletingAnExportedVolumeNeedsForceWhichUnmapsItEverywhere() throws ConfigException {
        // host1's own map: LUN 0 (copied from the default map) and LUN 5 are a and b
        ServerConfig c = ConfigEdits.lunMap(base(), T, 5, "b", H1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.volumeDelete(c, "a", false));
        assertEquals("volume a is exported as lun 0 of " + T + ", lun 0 of " + T + " (map of " + H1
                + "); unmap it first, or use --force to unmap it too", e.getMessage());
        ServerConfig gone = ConfigEdits.volumeDelete(c, "a", true);
        assertEquals(List.of("- volume a", "- lun 0 of " + T + ": volume a",
                "- lun 0 of " + T + " (map of " + H1 + "): volume a"), plan(c, gone));
        assertSame(gone, ConfigEdits.volumeDelete(gone, "a", false), "deleting what is gone changes nothing");
    }

    @Test
    void createIsIdempotentButRefusesAnotherVolumeUnderTheSameName() throws ConfigException {
        ServerConfig c = base();
        VolumeConfig same = VolumeConfig.file("a", "/srv/a.img", ByteSize.parse("1G"));
        assertSame(c, ConfigEdits.volumeCreate(c, same));
        assertEquals("volume a exists with other settings (/srv/a.img); pick another name, or delete it first",
                assertThrows(IllegalArgumentException.class, () -> ConfigEdits.volumeCreate(c,
                        VolumeConfig.file("a", "/srv/other.img", null))).getMessage());
        assertSame(c, ConfigEdits.targetCreate(c, T, null));
        ServerConfig deleted = ConfigEdits.targetDelete(c, T);
        assertEquals(1, c.targets().size());
        assertEquals(null, deleted.target(T));
        assertSame(deleted, ConfigEdits.targetDelete(deleted, T), "deleting twice is deleting once");
    }

    @Test
    void aclPortalsAndChapEdits() throws ConfigException {
        ServerConfig c = base();
        ServerConfig acl = ConfigEdits.acl(ConfigEdits.acl(c, T, H1, null, true, false), T, null, "192.0.2.0/24", true,
                false);
        assertEquals(List.of("+ allowed-initiators of " + T + ": " + H1, "+ allowed-networks of " + T + ": 192.0.2.0/24"),
                plan(c, acl));
        assertSame(acl, ConfigEdits.acl(acl, T, H1, null, true, false));
        assertEquals("give an initiator name or a network (not both)", assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.acl(c, T, H1, "192.0.2.0/24", true, false)).getMessage());
        assertEquals("removing the last allowed initiator of " + T + " opens it to every initiator name; use --force if "
                + "that is meant", assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.acl(acl, T, H1, null, false, false)).getMessage());
        assertEquals(List.of(), ConfigEdits.acl(acl, T, H1, null, false, true).target(T).allowedInitiators());
        ServerConfig portals = ConfigEdits.portals(c, "[::1]:3260", true);
        assertEquals(List.of("+ portal [::1]:3260"), plan(c, portals));
        assertEquals("portal 127.0.0.1:3260 is the last one; add another first", assertThrows(
                IllegalArgumentException.class, () -> ConfigEdits.portals(c, "127.0.0.1:3260", false)).getMessage());
        ServerConfig chap = ConfigEdits.chapSet(c, T, new io.clonetarget.config.ChapConfig("u", "a-long-secret-1", null,
                null, null, null));
        assertEquals(List.of("+ chap of " + T + " (user u)"), plan(c, chap));
        assertEquals(List.of("+ chap of discovery (user u)"), plan(c, ConfigEdits.chapSet(c, null, chap.target(T).chap())));
    }

    @Test
    void editRequestsNameTheirMissingFields() {
        var request = Json.MAPPER.createObjectNode().put("edit", "lun-map").put("target", T);
        assertEquals("the edit needs \"volume\"", assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.of(request).apply(base())).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ConfigEdits.of(
                Json.MAPPER.createObjectNode().put("edit", "nonsense"))).getMessage().startsWith("unknown edit \"nonsense\""));
    }

    @Test
    void cloneSetChangesOnlyTheRate() throws ConfigException {
        ServerConfig c = ConfigEdits.volumeCreate(base(), VolumeConfig.clone("c", "/srv/base.img", "/srv/c.img", null));
        ServerConfig fast = ConfigEdits.cloneSet(c, "c", ByteSize.parse("50M"));
        assertEquals(List.of("~ volume c hydration.rate: 0 -> 50M"), plan(c, fast));
        assertEquals("volume a is not a clone", assertThrows(IllegalArgumentException.class,
                () -> ConfigEdits.cloneSet(c, "a", ByteSize.parse("1M"))).getMessage());
        assertEquals(new LunConfig(0, "a"), c.target(T).luns().getFirst());
    }
}
