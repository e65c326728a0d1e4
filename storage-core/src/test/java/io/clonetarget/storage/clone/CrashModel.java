package io.clonetarget.storage.clone;

import io.clonetarget.storage.testing.PatternSource;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The model the crash tests check crash images against: what each sector may hold after a
 * crash at journal point {@code p}, from the history of versions written to it (in its writer's
 * order) and the flushes that completed. Points are journal marks, so "acknowledged before that
 * flush began" is one total order across threads and devices.
 */
final class CrashModel {
    private CrashModel() {
    }

    /** One version of a sector: written by op {@code id} (0 = zeroes), begun and acknowledged at these marks. */
    record Version(int id, long started, long acked, boolean fua) {
    }

    /** A flush of the clone: begun and completed at these marks. */
    record Flush(long started, long completed) {
    }

    /** The byte {@code i} of sector {@code sector} as version {@code id} writes it (never zero). */
    static byte content(int id, int sector, int i) {
        return (byte) ((id * 31 + sector * 7 + i) | 1);
    }

    /** A sector's bytes as version {@code id} writes them. */
    static void fill(ByteBuffer data, int id, int firstSector, int sectors) {
        for (int s = 0; s < sectors; s++) {
            for (int i = 0; i < 512; i++) {
                data.put(content(id, firstSector + s, i));
            }
        }
        data.flip();
    }

    /**
     * What a sector may hold after a crash at {@code p}: its last durable version (-1 = the
     * source's data when none) and every later version that had begun before {@code p}. Durable:
     * a FUA write acknowledged before {@code p}, or any write acknowledged before the start of a
     * flush that completed before {@code p}.
     */
    static Set<Integer> allowed(List<Version> history, List<Flush> flushes, long p) {
        long lastFlushStart = -1;
        for (Flush fl : flushes) {
            if (fl.completed() < p) {
                lastFlushStart = Math.max(lastFlushStart, fl.started());
            }
        }
        int durable = -1;
        for (int i = 0; i < history.size(); i++) {
            Version v = history.get(i);
            if (v.acked() < lastFlushStart || (v.fua() && v.acked() < p)) {
                durable = i;
            }
        }
        Set<Integer> allowed = new HashSet<>();
        allowed.add(durable < 0 ? -1 : history.get(durable).id());
        for (int i = durable + 1; i < history.size(); i++) {
            if (history.get(i).started() < p) {
                allowed.add(history.get(i).id());
            }
        }
        return allowed;
    }

    /** The version among {@code ids} the sector holds, or null. */
    static Integer matching(ByteBuffer sector, Set<Integer> ids, int s, PatternSource source) {
        for (int id : ids) {
            boolean ok = true;
            for (int i = 0; i < 512 && ok; i++) {
                byte want = id == -1 ? source.at(s * 512L + i) : id == 0 ? 0 : content(id, s, i);
                ok = sector.get(i) == want;
            }
            if (ok) {
                return id;
            }
        }
        return null;
    }

    /** For failure messages: which version of the history (or the source, or zeroes) the sector holds. */
    static String identify(ByteBuffer sector, List<Version> history, int s, PatternSource source) {
        Set<Integer> all = new HashSet<>();
        all.add(-1);
        all.add(0);
        for (Version v : history) {
            all.add(v.id());
        }
        Integer id = matching(sector, all, s, source);
        return id == null ? "garbage" : "version " + id;
    }
}
