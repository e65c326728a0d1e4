package io.clonetarget.server.scsi;

import io.clonetarget.server.scsi.Reservations.Access;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The commands a block logical unit supports, in opcode order. {@link BlockLogicalUnit}
 * dispatches on the same opcodes; a test checks that the two agree.
 */
final class CommandTable {
    static final List<CommandInfo> COMMANDS = List.of(
            CommandInfo.of("TEST UNIT READY", "00 00 00 00 00 04", Access.PR_ALLOWED),
            CommandInfo.of("REQUEST SENSE", "03 01 00 00 ff 04", Access.UNRESTRICTED).noUnitAttention(),
            CommandInfo.of("READ(6)", "08 1f ff ff ff 04", Access.READ),
            CommandInfo.of("WRITE(6)", "0a 1f ff ff ff 04", Access.WRITE),
            CommandInfo.of("INQUIRY", "12 01 ff ff ff 04", Access.UNRESTRICTED).noUnitAttention(),
            CommandInfo.of("MODE SELECT(6)", "15 11 00 00 ff 04", Access.WRITE),
            CommandInfo.of("RESERVE(6)", "16 00 00 00 00 04", Access.OWN_RULES),
            CommandInfo.of("RELEASE(6)", "17 00 00 00 00 04", Access.OWN_RULES),
            CommandInfo.of("MODE SENSE(6)", "1a 08 ff ff ff 04", Access.READ),
            CommandInfo.of("START STOP UNIT", "1b 01 00 0f f7 04", Access.WRITE),
            CommandInfo.of("PREVENT ALLOW MEDIUM REMOVAL", "1e 00 00 00 03 04", Access.READ),
            CommandInfo.of("READ CAPACITY(10)", "25 00 00 00 00 00 00 00 00 04", Access.PR_ALLOWED),
            CommandInfo.of("READ(10)", "28 f8 ff ff ff ff 1f ff ff 04", Access.READ),
            CommandInfo.of("WRITE(10)", "2a f8 ff ff ff ff 1f ff ff 04", Access.WRITE),
            CommandInfo.of("WRITE AND VERIFY(10)", "2e f6 ff ff ff ff 1f ff ff 04", Access.WRITE),
            CommandInfo.of("VERIFY(10)", "2f f6 ff ff ff ff 1f ff ff 04", Access.READ),
            CommandInfo.of("PRE-FETCH(10)", "34 02 ff ff ff ff 1f ff ff 04", Access.READ),
            CommandInfo.of("SYNCHRONIZE CACHE(10)", "35 02 ff ff ff ff 1f ff ff 04", Access.WRITE),
            CommandInfo.of("READ DEFECT DATA(10)", "37 00 1f 00 00 00 00 ff ff 04", Access.READ),
            CommandInfo.of("WRITE SAME(10)", "41 f8 ff ff ff ff 1f ff ff 04", Access.WRITE),
            CommandInfo.of("UNMAP", "42 01 00 00 00 00 1f ff ff 04", Access.WRITE),
            CommandInfo.withAction("SANITIZE", 0x01, "48 bf 00 00 00 00 00 ff ff 04", Access.WRITE),
            CommandInfo.withAction("SANITIZE", 0x02, "48 bf 00 00 00 00 00 ff ff 04", Access.WRITE),
            CommandInfo.withAction("SANITIZE", 0x03, "48 bf 00 00 00 00 00 ff ff 04", Access.WRITE),
            CommandInfo.withAction("SANITIZE", 0x1f, "48 bf 00 00 00 00 00 ff ff 04", Access.WRITE),
            CommandInfo.of("LOG SENSE", "4d 01 ff ff 00 ff ff ff ff 04", Access.PR_ALLOWED),
            CommandInfo.of("MODE SELECT(10)", "55 11 00 00 00 00 00 ff ff 04", Access.WRITE),
            CommandInfo.of("MODE SENSE(10)", "5a 18 ff ff 00 00 00 ff ff 04", Access.READ),
            CommandInfo.withAction("PERSISTENT RESERVE IN", 0x00, "5e 1f 00 00 00 00 00 ff ff 04", Access.PR_ALLOWED),
            CommandInfo.withAction("PERSISTENT RESERVE IN", 0x01, "5e 1f 00 00 00 00 00 ff ff 04", Access.PR_ALLOWED),
            CommandInfo.withAction("PERSISTENT RESERVE IN", 0x02, "5e 1f 00 00 00 00 00 ff ff 04", Access.PR_ALLOWED),
            CommandInfo.withAction("PERSISTENT RESERVE IN", 0x03, "5e 1f 00 00 00 00 00 ff ff 04", Access.PR_ALLOWED),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x00, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x01, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x02, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x03, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x04, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x05, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("PERSISTENT RESERVE OUT", 0x06, "5f 1f ff 00 00 ff ff ff ff 04", Access.OWN_RULES),
            CommandInfo.withAction("EXTENDED COPY(LID1)", 0x00, "83 1f 00 00 00 00 00 00 00 00 ff ff ff ff 00 04", Access.WRITE),
            CommandInfo.withAction("POPULATE TOKEN", 0x10, "83 1f 00 00 00 00 ff ff ff ff ff ff ff ff 00 04", Access.READ),
            CommandInfo.withAction("WRITE USING TOKEN", 0x11, "83 1f 00 00 00 00 ff ff ff ff ff ff ff ff 00 04", Access.WRITE),
            CommandInfo.withAction("RECEIVE COPY RESULTS", 0x00, "84 1f ff 00 00 00 00 00 00 00 ff ff ff ff 00 04", Access.READ),
            CommandInfo.withAction("RECEIVE COPY RESULTS", 0x03, "84 1f 00 00 00 00 00 00 00 00 ff ff ff ff 00 04", Access.READ),
            CommandInfo.withAction("RECEIVE ROD TOKEN INFORMATION", 0x07, "84 1f ff ff ff ff 00 00 00 00 ff ff ff ff 00 04", Access.READ),
            CommandInfo.of("READ(16)", "88 f8 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.READ),
            CommandInfo.of("COMPARE AND WRITE", "89 f8 ff ff ff ff ff ff ff ff 00 00 00 ff 1f 04", Access.WRITE),
            CommandInfo.of("WRITE(16)", "8a f8 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("ORWRITE(16)", "8b f8 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("WRITE AND VERIFY(16)", "8e f6 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("VERIFY(16)", "8f f6 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.READ),
            CommandInfo.of("PRE-FETCH(16)", "90 02 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.READ),
            CommandInfo.of("SYNCHRONIZE CACHE(16)", "91 02 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("WRITE SAME(16)", "93 f9 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("WRITE ATOMIC(16)", "9c f8 ff ff ff ff ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.withAction("READ CAPACITY(16)", 0x10, "9e 1f 00 00 00 00 00 00 00 00 ff ff ff ff 00 04", Access.PR_ALLOWED),
            CommandInfo.withAction("GET LBA STATUS", 0x12, "9e 1f ff ff ff ff ff ff ff ff ff ff ff ff 00 04", Access.READ),
            CommandInfo.of("REPORT LUNS", "a0 00 ff 00 00 00 ff ff ff ff 00 04", Access.UNRESTRICTED).noUnitAttention(),
            CommandInfo.withAction("REPORT TARGET PORT GROUPS", 0x0a, "a3 ea 00 00 00 00 ff ff ff ff 00 04", Access.UNRESTRICTED),
            CommandInfo.withAction("REPORT SUPPORTED OPERATION CODES", 0x0c, "a3 1f 87 ff ff ff ff ff ff ff 00 04", Access.UNRESTRICTED),
            CommandInfo.of("READ(12)", "a8 f8 ff ff ff ff ff ff ff ff 1f 04", Access.READ),
            CommandInfo.of("WRITE(12)", "aa f8 ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("WRITE AND VERIFY(12)", "ae f6 ff ff ff ff ff ff ff ff 1f 04", Access.WRITE),
            CommandInfo.of("VERIFY(12)", "af f6 ff ff ff ff ff ff ff ff 1f 04", Access.READ),
            CommandInfo.of("READ DEFECT DATA(12)", "b7 1f 00 00 00 00 ff ff ff ff 00 04", Access.READ));

    private static final int[] SERVICE_ACTION_OPCODES = {0x48, 0x5e, 0x5f, 0x83, 0x84, 0x9e, 0xa3};
    /** By opcode, then by service action (index 0 for opcodes without service actions). */
    private static final CommandInfo[][] BY_OPCODE = new CommandInfo[256][];

    static {
        for (CommandInfo c : COMMANDS) {
            if (BY_OPCODE[c.opcode()] == null) {
                BY_OPCODE[c.opcode()] = new CommandInfo[c.hasServiceAction() ? 32 : 1];
            }
            BY_OPCODE[c.opcode()][Math.max(0, c.serviceAction())] = c;
        }
    }

    private CommandTable() {
    }

    /** Whether the opcode carries a service action in byte 1. */
    static boolean hasServiceActions(int opcode) {
        for (int op : SERVICE_ACTION_OPCODES) {
            if (op == opcode) {
                return true;
            }
        }
        return false;
    }

    /** The entry for a CDB, or null when the opcode (or its service action) is not supported. */
    static CommandInfo lookup(ByteBuffer cdb) {
        int opcode = Cdb.opcode(cdb);
        CommandInfo[] row = BY_OPCODE[opcode];
        if (row == null) {
            return null;
        }
        return row.length == 1 ? row[0] : row[Cdb.u8(cdb, 1) & 0x1f];
    }

    static CommandInfo lookup(int opcode, int action) {
        CommandInfo[] row = BY_OPCODE[opcode & 0xff];
        if (row == null) {
            return null;
        }
        if (row.length == 1) {
            return row[0];
        }
        return action >= 0 && action < 32 ? row[action] : null;
    }

    /** Any entry for the opcode (used to tell "unsupported service action" from "unsupported opcode"). */
    static boolean knowsOpcode(int opcode) {
        return BY_OPCODE[opcode & 0xff] != null;
    }
}
