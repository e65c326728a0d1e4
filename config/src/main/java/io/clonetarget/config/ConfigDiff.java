package io.clonetarget.config;

import io.clonetarget.config.ConfigChange.Kind;
import io.clonetarget.config.ConfigChange.Op;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The structural difference between a running configuration and a desired one: portals,
 * volumes and their keys, targets, access lists, CHAP, LUN maps and every other setting.
 *
 * <p>A target or volume that appears or goes is one change (its contents are implied); inside
 * targets and volumes that stay, every difference is its own change, so a plan shows exactly
 * what moves. LUN maps compare by LUN number; lists of names and networks compare as sets. The
 * schema {@code version} is not a difference. Pure and thread-safe.
 */
public final class ConfigDiff {
    private ConfigDiff() {
    }

    /** What changes when {@code running} becomes {@code desired}, in a stable order. */
    public static List<ConfigChange> between(ServerConfig running, ServerConfig desired) {
        List<ConfigChange> out = new ArrayList<>();
        sets(Kind.PORTAL, null, null, running.server().listen(), desired.server().listen(), out);
        settings("server", running.server(), desired.server(), Set.of("listen"), out);
        settings("iscsi", running.iscsi(), desired.iscsi(), Set.of(), out);
        settings("admin", running.admin(), desired.admin(), Set.of(), out);
        chap(null, running.discovery(), desired.discovery(), out);
        volumes(running, desired, out);
        targets(running, desired, out);
        return out;
    }

    private static void volumes(ServerConfig running, ServerConfig desired, List<ConfigChange> out) {
        for (VolumeConfig v : running.volumes()) {
            if (desired.volume(v.name()) == null) {
                out.add(new ConfigChange(Op.REMOVE, Kind.VOLUME, null, null, null, v.name(), null, summary(v), null));
            }
        }
        for (VolumeConfig v : desired.volumes()) {
            VolumeConfig old = running.volume(v.name());
            if (old == null) {
                out.add(new ConfigChange(Op.ADD, Kind.VOLUME, null, null, null, v.name(), null, null, summary(v)));
            } else {
                fields(old, v, "", (field, before, after) -> out.add(new ConfigChange(Op.CHANGE, Kind.VOLUME, null,
                        null, null, v.name(), field, before, after)));
            }
        }
    }

    /** A volume in a few words: {@code clone of /srv/base.img into /srv/c.img}. */
    private static String summary(VolumeConfig v) {
        if (v.type() == VolumeType.CLONE) {
            return "clone of " + v.source() + " into " + v.path();
        }
        return "file " + v.path() + (v.size() == null ? "" : ", " + v.size()) + (v.readOnly() ? ", read-only" : "");
    }

    private static void targets(ServerConfig running, ServerConfig desired, List<ConfigChange> out) {
        for (TargetConfig t : running.targets()) {
            if (desired.target(t.iqn()) == null) {
                out.add(new ConfigChange(Op.REMOVE, Kind.TARGET, t.iqn(), null, null, null, null, lunCount(t), null));
            }
        }
        for (TargetConfig t : desired.targets()) {
            TargetConfig old = running.target(t.iqn());
            if (old == null) {
                out.add(new ConfigChange(Op.ADD, Kind.TARGET, t.iqn(), null, null, null, null, null, lunCount(t)));
                continue;
            }
            if (!Objects.equals(old.alias(), t.alias())) {
                out.add(new ConfigChange(Op.CHANGE, Kind.TARGET, t.iqn(), null, null, null, "alias", old.alias(),
                        t.alias()));
            }
            sets(Kind.ACCESS, t.iqn(), "allowed-initiators", old.allowedInitiators(), t.allowedInitiators(), out);
            sets(Kind.ACCESS, t.iqn(), "allowed-networks", old.allowedNetworks(), t.allowedNetworks(), out);
            chap(t.iqn(), old.chap(), t.chap(), out);
            luns(t.iqn(), null, old.luns(), t.luns(), out);
            for (InitiatorConfig i : old.initiators()) {
                if (t.initiator(i.name()) == null) {
                    out.add(new ConfigChange(Op.REMOVE, Kind.LUN_MAP, t.iqn(), i.name(), null, null, null, null, null));
                    luns(t.iqn(), i.name(), i.luns(), List.of(), out);
                }
            }
            for (InitiatorConfig i : t.initiators()) {
                InitiatorConfig was = old.initiator(i.name());
                if (was == null) {
                    out.add(new ConfigChange(Op.ADD, Kind.LUN_MAP, t.iqn(), i.name(), null, null, null, null, null));
                }
                luns(t.iqn(), i.name(), was == null ? List.of() : was.luns(), i.luns(), out);
            }
        }
    }

    private static String lunCount(TargetConfig t) {
        int n = t.luns().size();
        String s = n == 1 ? "1 lun" : n + " luns";
        return t.initiators().isEmpty() ? s : s + ", " + t.initiators().size() + " initiator maps";
    }

    private static void luns(String target, String initiator, List<LunConfig> before, List<LunConfig> after,
                             List<ConfigChange> out) {
        Map<Integer, String> old = byNumber(before);
        Map<Integer, String> now = byNumber(after);
        for (Map.Entry<Integer, String> e : old.entrySet()) {
            if (!now.containsKey(e.getKey())) {
                out.add(new ConfigChange(Op.REMOVE, Kind.LUN, target, initiator, e.getKey(), null, null, e.getValue(),
                        null));
            }
        }
        for (Map.Entry<Integer, String> e : now.entrySet()) {
            String was = old.get(e.getKey());
            if (was == null) {
                out.add(new ConfigChange(Op.ADD, Kind.LUN, target, initiator, e.getKey(), null, null, null, e.getValue()));
            } else if (!was.equals(e.getValue())) {
                out.add(new ConfigChange(Op.CHANGE, Kind.LUN, target, initiator, e.getKey(), null, null, was,
                        e.getValue()));
            }
        }
    }

    private static Map<Integer, String> byNumber(List<LunConfig> luns) {
        Map<Integer, String> m = new LinkedHashMap<>();
        for (LunConfig l : luns) {
            m.put(l.lun(), l.volume());
        }
        return m;
    }

    private static void chap(String target, ChapConfig before, ChapConfig after, List<ConfigChange> out) {
        if (before == null && after == null) {
            return;
        }
        if (before == null || after == null) {
            ChapConfig c = before == null ? after : before;
            String who = "user " + c.user() + (c.mutualUser() == null ? "" : ", mutual user " + c.mutualUser());
            out.add(new ConfigChange(before == null ? Op.ADD : Op.REMOVE, Kind.CHAP, target, null, null, null, null,
                    before == null ? null : who, before == null ? who : null));
            return;
        }
        fields(before, after, "", (field, was, now) -> {
            boolean secret = field.contains("secret") && !field.endsWith("-file");
            out.add(new ConfigChange(Op.CHANGE, Kind.CHAP, target, null, null, null, field,
                    secret ? (was == null ? null : "(set)") : was, secret ? (now == null ? null : "(changed)") : now));
        });
    }

    private static void sets(Kind kind, String target, String field, List<String> before, List<String> after,
                             List<ConfigChange> out) {
        Set<String> old = new LinkedHashSet<>(before);
        Set<String> now = new LinkedHashSet<>(after);
        for (String s : old) {
            if (!now.contains(s)) {
                out.add(new ConfigChange(Op.REMOVE, kind, target, null, null, s, field, null, null));
            }
        }
        for (String s : now) {
            if (!old.contains(s)) {
                out.add(new ConfigChange(Op.ADD, kind, target, null, null, s, field, null, null));
            }
        }
    }

    private static void settings(String section, Record before, Record after, Set<String> skip,
                                 List<ConfigChange> out) {
        fields(before, after, section + ".", (field, was, now) -> {
            if (!skip.contains(field.substring(section.length() + 1))) {
                out.add(new ConfigChange(Op.CHANGE, Kind.SETTING, null, null, null, field, null, was, now));
            }
        });
    }

    private interface FieldChange {
        void changed(String field, String before, String after);
    }

    /** Compares two records key by key, into nested records; lists and values compare whole. */
    private static void fields(Record before, Record after, String prefix, FieldChange sink) {
        for (RecordComponent c : before.getClass().getRecordComponents()) {
            Object was = get(c, before);
            Object now = get(c, after);
            if (Objects.equals(was, now)) {
                continue;
            }
            String key = prefix + ConfigBinder.key(c);
            if (was instanceof Record r && now instanceof Record s && !(was instanceof ByteSize) && !(was instanceof Interval)) {
                fields(r, s, key + ".", sink);
            } else {
                sink.changed(key, text(was), text(now));
            }
        }
    }

    private static Object get(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + c.getName(), e);
        }
    }

    private static String text(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof VolumeType t) {
            return t.text();
        }
        if (value instanceof DigestPolicy p) {
            return p.text();
        }
        return value.toString();
    }
}
