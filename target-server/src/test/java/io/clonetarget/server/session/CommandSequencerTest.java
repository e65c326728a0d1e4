package io.clonetarget.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandSequencerTest {
    @Test
    void inOrderCommandsRunAndAdvance() throws Exception {
        CommandSequencer s = new CommandSequencer(10, 128);
        List<Integer> ran = new ArrayList<>();
        assertEquals(CommandSequencer.Verdict.RAN, s.submit(10, false, () -> ran.add(10)));
        assertEquals(11, s.expCmdSn());
        assertEquals(10 + 128, s.maxCmdSn());
        assertEquals(List.of(10), ran);
    }

    @Test
    void gapsAreHeldUntilFilled() throws Exception {
        CommandSequencer s = new CommandSequencer(1, 128);
        List<Integer> ran = new ArrayList<>();
        assertEquals(CommandSequencer.Verdict.HELD, s.submit(3, false, () -> ran.add(3)));
        assertEquals(CommandSequencer.Verdict.HELD, s.submit(2, false, () -> ran.add(2)));
        assertEquals(1, s.expCmdSn());
        s.submit(1, false, () -> ran.add(1));
        assertEquals(List.of(1, 2, 3), ran);
        assertEquals(4, s.expCmdSn());
        assertEquals(0, s.heldCount());
    }

    @Test
    void outsideTheWindowAndDuplicatesAreIgnored() throws Exception {
        CommandSequencer s = new CommandSequencer(100, 16);
        int max = s.maxCmdSn();
        assertEquals(115, max);
        assertFalse(s.accepts(max + 1, false));
        assertEquals(CommandSequencer.Verdict.IGNORED, s.submit(max + 1, false, () -> { }));
        assertEquals(CommandSequencer.Verdict.IGNORED, s.submit(99, false, () -> { }));
        s.submit(102, false, () -> { });
        assertFalse(s.accepts(102, false), "already held");
        assertTrue(s.accepts(99, true), "immediate commands are not windowed");
        assertEquals(100, s.expCmdSn());
    }

    @Test
    void immediateCommandsDoNotAdvance() throws Exception {
        CommandSequencer s = new CommandSequencer(5, 8);
        List<String> ran = new ArrayList<>();
        s.submit(5, true, () -> ran.add("i"));
        assertEquals(5, s.expCmdSn());
        assertEquals(List.of("i"), ran);
    }

    @Test
    void windowNarrowsWithRunningCommandsButNeverShrinksBelowWhatWasAdvertised() throws Exception {
        CommandSequencer s = new CommandSequencer(1, 4);
        assertEquals(4, s.maxCmdSn());
        for (int i = 1; i <= 4; i++) {
            s.started();
            s.submit(i, false, () -> { });
        }
        assertEquals(5, s.expCmdSn());
        assertEquals(4, s.maxCmdSn(), "window closed (MaxCmdSN = ExpCmdSN - 1), still not below 4");
        s.finished();
        s.finished();
        assertEquals(6, s.maxCmdSn());
    }

    @Test
    void serialArithmeticWrapsAround() throws Exception {
        CommandSequencer s = new CommandSequencer(0xffff_fffe, 8);
        List<Integer> ran = new ArrayList<>();
        s.submit(0, false, () -> ran.add(0));
        s.submit(0xffff_ffff, false, () -> ran.add(-1));
        s.submit(0xffff_fffe, false, () -> ran.add(-2));
        assertEquals(List.of(-2, -1, 0), ran);
        assertEquals(1, s.expCmdSn());
    }
}
