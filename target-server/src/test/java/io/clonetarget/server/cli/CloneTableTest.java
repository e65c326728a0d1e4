package io.clonetarget.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.clonetarget.server.admin.Json;
import io.clonetarget.storage.clone.CloneStatus;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloneTableTest {
    static JsonNode statuses(CloneStatus... s) {
        return Json.MAPPER.valueToTree(List.of(s));
    }

    static CloneStatus status(String name, long hydrated, long errors, String state, boolean complete) {
        return new CloneStatus(name, "file /golden.img", 1L << 30, 65536, 16384, hydrated, hydrated * 65536, 2,
                50L << 20, 12, errors, errors > 0 ? 3 : 0, errors > 0 ? "reading x: connection refused" : null, "rw",
                state, false, complete, 7);
    }

    @Test
    void barsEtasAndSizes() {
        assertEquals("[#####.....]", CloneTable.bar(0.5, 10));
        assertEquals("[..........]", CloneTable.bar(-1, 10));
        assertEquals("[##########]", CloneTable.bar(1.5, 10));
        assertEquals("0:01:05", CloneTable.eta(65));
        assertEquals("27:46:40", CloneTable.eta(100_000));
        assertEquals("-", CloneTable.eta(-1));
    }

    @Test
    void aTableWithProgressRateEtaAndTheLastError() {
        String t = CloneTable.render(statuses(status("vm1", 8192, 0, "hydrating", false),
                status("vm2", 16384, 5, "complete", true), status("vm3", 100, 4, "retrying", false)), 0);
        List<String> lines = t.lines().toList();
        assertEquals(5, lines.size(), t);
        assertTrue(lines.get(0).startsWith("NAME") && lines.get(0).contains("HYDRATED") && lines.get(0).endsWith("MODE"), t);
        assertTrue(lines.get(1).contains("[##########..........]  50.0%") && lines.get(1).contains("50 MiB/s")
                && lines.get(1).contains("0:00:12") && lines.get(1).contains("hydrating"), lines.get(1));
        assertTrue(lines.get(2).contains("100.0%") && lines.get(2).contains("done"), lines.get(2));
        assertEquals("vm3: last source error: reading x: connection refused (3 regions to retry)", lines.get(4));
        int column = lines.get(0).indexOf(" RATE ") + 1;
        assertEquals(column, lines.get(1).indexOf("50 MiB/s"), "columns line up");
        assertEquals("no clone volumes on this server\n", CloneTable.render(statuses(), 80));
    }

    @Test
    void theBarFillsAWideTerminal() {
        String wide = CloneTable.render(statuses(status("vm1", 8192, 0, "hydrating", false)), 160);
        assertTrue(wide.contains("[" + "#".repeat(25) + ".".repeat(25) + "]"), wide);
        assertTrue(CloneTable.allComplete(statuses(status("a", 16384, 0, "complete", true))));
        assertFalse(CloneTable.allComplete(statuses(status("a", 16384, 0, "complete", true),
                status("b", 1, 0, "hydrating", false))));
    }

    @Test
    void progressLineForLongWork() {
        StringWriter w = new StringWriter();
        Progress p = new Progress(new PrintWriter(w), "comparing", 1L << 30, true);
        assertEquals("comparing [###############...............]  50.0%  512 MiB of 1 GiB  256 MiB/s  ETA 0:00:02",
                p.line(512L << 20, 2_000_000_000L));
        p.update(1L << 30);
        p.finish();
        assertTrue(w.toString().startsWith("\rcomparing [") && w.toString().endsWith("\n"), w.toString());
        StringWriter quiet = new StringWriter();
        Progress off = new Progress(new PrintWriter(quiet), "x", 10, false);
        off.update(5);
        off.finish();
        assertEquals("", quiet.toString(), "nothing when not a terminal");
    }
}
