package io.clonetarget.server.scsi;

import java.nio.ByteBuffer;

/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4 section 6.35) over {@link CommandTable}, less the
 * commands a unit does not offer (WRITE ATOMIC(16) without power-safe atomic writes).
 */
final class SupportedOperations {
    private static final int TIMEOUTS_LENGTH = 12;

    private SupportedOperations() {
    }

    static ByteBuffer report(ScsiTask task, java.util.function.Predicate<CommandInfo> offered) throws ScsiException {
        ByteBuffer cdb = task.cdb();
        boolean timeouts = Cdb.bit(cdb, 2, 7);
        int option = Cdb.u8(cdb, 2) & 0x07;
        int opcode = Cdb.u8(cdb, 3);
        int action = Cdb.u16(cdb, 4);
        int allocation = (int) Math.min(Integer.MAX_VALUE, Cdb.u32(cdb, 6));
        ByteBuffer out;
        switch (option) {
            case 0 -> out = all(timeouts, offered);
            case 1 -> {
                if (CommandTable.hasServiceActions(opcode)) {
                    throw ScsiException.invalidCdbField(3, -1);
                }
                out = one(offer(CommandTable.lookup(opcode, -1), offered), timeouts);
            }
            case 2 -> {
                if (!CommandTable.hasServiceActions(opcode)) {
                    throw ScsiException.invalidCdbField(3, -1);
                }
                out = one(action > 0x1f ? null : offer(CommandTable.lookup(opcode, action), offered), timeouts);
            }
            case 3 -> out = one(offer(CommandTable.hasServiceActions(opcode)
                    ? (action > 0x1f ? null : CommandTable.lookup(opcode, action))
                    : CommandTable.lookup(opcode, -1), offered), timeouts);
            default -> throw ScsiException.invalidCdbField(2, 2);
        }
        return ModePages.copyOut(task, out.flip(), allocation);
    }

    private static CommandInfo offer(CommandInfo c, java.util.function.Predicate<CommandInfo> offered) {
        return c == null || !offered.test(c) ? null : c;
    }

    private static ByteBuffer all(boolean timeouts, java.util.function.Predicate<CommandInfo> offered) {
        int each = 8 + (timeouts ? TIMEOUTS_LENGTH : 0);
        java.util.List<CommandInfo> commands = CommandTable.COMMANDS.stream().filter(offered).toList();
        ByteBuffer b = ByteBuffer.allocate(4 + each * commands.size());
        b.putInt(each * commands.size());
        for (CommandInfo c : commands) {
            b.put((byte) c.opcode()).put((byte) 0).putShort((short) Math.max(0, c.serviceAction()));
            b.put((byte) 0).put((byte) ((timeouts ? 0x02 : 0) | (c.hasServiceAction() ? 0x01 : 0)));
            b.putShort((short) c.cdbLength());
            if (timeouts) {
                putTimeouts(b, c);
            }
        }
        return b;
    }

    private static ByteBuffer one(CommandInfo c, boolean timeouts) {
        if (c == null) {
            ByteBuffer b = ByteBuffer.allocate(4);
            b.put(1, (byte) 0x01);
            return b.position(4);
        }
        ByteBuffer b = ByteBuffer.allocate(4 + c.cdbLength() + (timeouts ? TIMEOUTS_LENGTH : 0));
        b.put((byte) 0).put((byte) ((timeouts ? 0x80 : 0) | 0x03)).putShort((short) c.cdbLength());
        b.put(c.usage());
        if (c.hasServiceAction()) {
            b.put(4 + 1, (byte) ((c.usage()[1] & 0xe0) | c.serviceAction()));
        }
        if (timeouts) {
            putTimeouts(b, c);
        }
        return b;
    }

    private static void putTimeouts(ByteBuffer b, CommandInfo c) {
        b.putShort((short) 0x0a).put((byte) 0).put((byte) 0);
        b.putInt(c.nominalTimeoutSeconds()).putInt(c.nominalTimeoutSeconds() * 2);
    }
}
