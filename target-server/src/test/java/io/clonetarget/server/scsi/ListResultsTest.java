package io.clonetarget.server.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Copy results per nexus and list identifier: what is kept, and what is never forgotten. */
class ListResultsTest {
    final ListResults<String> results = new ListResults<>(3, "running"::equals);

    @Test
    void theOldestFinishedResultGoesFirstAndARunningOneNever() throws Exception {
        results.begin(FakeTask.NEXUS, 1, "running");
        results.begin(FakeTask.NEXUS, 2, "running");
        results.finish(FakeTask.NEXUS, 2, "done 2");
        results.begin(FakeTask.NEXUS, 3, "running");
        results.finish(FakeTask.NEXUS, 3, "done 3");
        results.begin(FakeTask.NEXUS, 4, "running"); // forgets 2, the oldest finished: 1 still runs
        assertEquals("running", results.get(FakeTask.NEXUS, 1));
        assertNull(results.get(FakeTask.NEXUS, 2));
        assertEquals("done 3", results.get(FakeTask.NEXUS, 3));
        results.begin(FakeTask.NEXUS, 5, "running"); // forgets 3
        ScsiException full = assertThrows(ScsiException.class, () -> results.begin(FakeTask.NEXUS, 6, "running"));
        assertEquals(Asc.INSUFFICIENT_RESOURCES.asc(), full.sense().asc(), "three running: nothing may be forgotten");
        ScsiException again = assertThrows(ScsiException.class, () -> results.begin(FakeTask.NEXUS, 1, "running"));
        assertEquals(Asc.OPERATION_IN_PROGRESS.ascq(), again.sense().ascq());
        results.finish(FakeTask.NEXUS, 1, "done 1");
        assertEquals("done 1", results.get(FakeTask.NEXUS, 1));
        assertNull(results.get(FakeTask.OTHER, 1), "another nexus has its own");
        results.forget(FakeTask.NEXUS);
        assertNull(results.get(FakeTask.NEXUS, 1));
    }
}
