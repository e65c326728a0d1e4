package io.clonetarget.config;

/**
 * One difference between two configurations, as {@link ConfigDiff} finds it: something added,
 * removed or changed. Secrets never appear in it: a changed secret reads {@code (changed)}.
 *
 * @param op what happens to it
 * @param kind what it is
 * @param target the target it belongs to (an IQN), or null for portals, volumes, settings and
 *     discovery CHAP
 * @param initiator for a LUN or LUN map: the initiator whose own map it is, null for the default map
 * @param lun for a LUN: its number
 * @param name what it is called: a portal's address, a volume's name, an allowed initiator name or
 *     network, a setting's path ({@code iscsi.max-burst-length}); null where {@code target} and
 *     {@code lun} say it
 * @param field for a change inside a volume, target or CHAP entry: the key path ({@code hydration.rate})
 * @param before the old value as text (null for an addition)
 * @param after the new value as text (null for a removal)
 */
public record ConfigChange(Op op, Kind kind, String target, String initiator, Integer lun, String name, String field,
                           String before, String after) {
    /** What happens. */
    public enum Op {
        ADD("+"), REMOVE("-"), CHANGE("~");

        private final String sign;

        Op(String sign) {
            this.sign = sign;
        }

        /** The plan's marker: {@code +}, {@code -} or {@code ~}. */
        public String sign() {
            return sign;
        }
    }

    /** What changes. */
    public enum Kind {
        /** A listen address ({@code server.listen}). */
        PORTAL,
        /** A volume, or one of its keys. */
        VOLUME,
        /** A target, or its alias. */
        TARGET,
        /** An entry of a target's allowed-initiators or allowed-networks ({@code field} says which). */
        ACCESS,
        /** CHAP credentials of a target, or of discovery ({@code target} null). */
        CHAP,
        /** An initiator's own LUN map appears or goes (its LUNs are listed as LUN changes). */
        LUN_MAP,
        /** A LUN of a map. */
        LUN,
        /** Any other key: {@code server.*}, {@code iscsi.*}, {@code admin.*}. */
        SETTING
    }

    /** One line of a plan: {@code + lun 3 of iqn...:db -> volume data2 (for iqn...:host1)}. */
    public String describe() {
        StringBuilder sb = new StringBuilder(op.sign()).append(' ');
        switch (kind) {
            case LUN -> {
                sb.append("lun ").append(lun).append(" of ").append(target);
                if (initiator != null) {
                    sb.append(" (map of ").append(initiator).append(')');
                }
                switch (op) {
                    case ADD -> sb.append(": volume ").append(after);
                    case REMOVE -> sb.append(": volume ").append(before);
                    case CHANGE -> sb.append(": volume ").append(before).append(" -> ").append(after);
                }
                return sb.toString();
            }
            case LUN_MAP -> {
                return sb.append("lun map of ").append(initiator).append(" on ").append(target).toString();
            }
            case ACCESS -> {
                return sb.append(field).append(" of ").append(target).append(": ").append(name).toString();
            }
            case CHAP -> sb.append("chap of ").append(target == null ? "discovery" : target);
            case TARGET -> sb.append("target ").append(target);
            case PORTAL -> sb.append("portal ").append(name);
            case VOLUME -> sb.append("volume ").append(name);
            case SETTING -> sb.append(name);
        }
        if (field != null) {
            sb.append(' ').append(field);
        }
        if (op == Op.CHANGE) {
            sb.append(": ").append(show(before)).append(" -> ").append(show(after));
        } else if (op == Op.ADD && after != null && !after.isEmpty()) {
            sb.append(" (").append(after).append(')');
        }
        return sb.toString();
    }

    private static String show(String value) {
        return value == null ? "(none)" : value;
    }

    /** What it is as one phrase for messages: {@code lun 3 of iqn...:db}, {@code volume data2}. */
    public String subject() {
        return switch (kind) {
            case LUN -> "lun " + lun + " of " + target + (initiator == null ? "" : " (map of " + initiator + ")");
            case LUN_MAP -> "lun map of " + initiator + " on " + target;
            case ACCESS -> field + " of " + target + ": " + name;
            case CHAP -> "chap of " + (target == null ? "discovery" : target);
            case TARGET -> "target " + target;
            case PORTAL -> "portal " + name;
            case VOLUME -> "volume " + name + (field == null ? "" : " " + field);
            case SETTING -> name;
        };
    }

}
