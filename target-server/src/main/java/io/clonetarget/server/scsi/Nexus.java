package io.clonetarget.server.scsi;

/**
 * An I_T nexus: the initiator port and the target port a command travels between. Unit
 * attentions and reservations are kept per nexus.
 *
 * @param initiatorName the initiator's iSCSI name
 * @param initiatorPort the initiator port name, {@code <name>,i,0x<ISID>}
 * @param targetName the target's iSCSI name
 * @param relativeTargetPort the relative target port identifier (the portal group tag)
 */
public record Nexus(String initiatorName, String initiatorPort, String targetName, int relativeTargetPort) {

    public static Nexus of(String initiatorName, long isid, String targetName, int portalGroupTag) {
        return new Nexus(initiatorName, String.format("%s,i,0x%012x", initiatorName, isid), targetName, portalGroupTag);
    }

    /** The target port name, {@code <name>,t,0x<TPGT>}. */
    public String targetPort() {
        return String.format("%s,t,0x%04x", targetName, relativeTargetPort);
    }
}
