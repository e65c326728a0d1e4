package io.clonetarget.server.scsi;

import java.util.HexFormat;

/**
 * One supported command: its opcode (and service action), CDB length, which CDB bits the device
 * server looks at (the CDB usage data of REPORT SUPPORTED OPERATION CODES), how it interacts
 * with reservations, and whether it is held back by a pending unit attention.
 *
 * @param serviceAction the service action, or -1 for opcodes without service actions
 */
record CommandInfo(int opcode, int serviceAction, String name, byte[] usage, Reservations.Access access,
                   boolean reportsUnitAttention, int nominalTimeoutSeconds) {

    static CommandInfo of(String name, String usageHex, Reservations.Access access) {
        byte[] usage = HexFormat.of().parseHex(usageHex.replace(" ", ""));
        return new CommandInfo(usage[0] & 0xff, -1, name, usage, access, true, 30);
    }

    static CommandInfo withAction(String name, int serviceAction, String usageHex, Reservations.Access access) {
        byte[] usage = HexFormat.of().parseHex(usageHex.replace(" ", ""));
        return new CommandInfo(usage[0] & 0xff, serviceAction, name, usage, access, true, 30);
    }

    CommandInfo noUnitAttention() {
        return new CommandInfo(opcode, serviceAction, name, usage, access, false, nominalTimeoutSeconds);
    }

    int cdbLength() {
        return usage.length;
    }

    boolean hasServiceAction() {
        return serviceAction >= 0;
    }
}
