package io.clonetarget.server.fuzz;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Shrinks a round that made the server log a stack trace to the fewest recorded chunks that still
 * make it log the same one: the shortest prefix (bisection), then delta debugging on it (drop
 * halves, then quarters, ... while the trace stays); prints the bytes of what is left, one chunk
 * per line (its first 96 bytes: the header and the start of the data).
 */
final class Shrinker {
    private static final int MAX_REPLAYS = 200;
    private static final long MAX_NANOS = 90_000_000_000L;

    private Shrinker() {
    }

    static String shrink(FuzzRound.Endpoint endpoint, FuzzRound.Outcome o, LogWatch log, String signature) {
        long until = System.nanoTime() + MAX_NANOS;
        int[] replays = {0};
        List<byte[]> chunks = new ArrayList<>(o.pdus());
        if (!reproduces(endpoint, o, chunks, log, signature, replays)) {
            chunks = new ArrayList<>(o.chunks()); // with the round's own fragmentation, then
            if (!reproduces(endpoint, o, chunks, log, signature, replays)) {
                return "not reproduced by replaying the round's " + chunks.size() + " chunks on a new connection"
                        + " (timing); round bytes: " + bytes(chunks, 4096);
            }
        }
        // the shortest prefix first (what follows the trigger is noise), by bisection
        int lo = 1;
        int hi = chunks.size();
        while (lo < hi && replays[0] < MAX_REPLAYS / 3) {
            int mid = (lo + hi) >>> 1;
            if (reproduces(endpoint, o, chunks.subList(0, mid), log, signature, replays)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        chunks = new ArrayList<>(chunks.subList(0, hi));
        int n = 2;
        while (chunks.size() >= 2 && replays[0] < MAX_REPLAYS && System.nanoTime() < until) {
            int size = (chunks.size() + n - 1) / n;
            boolean reduced = false;
            for (int start = 0; start < chunks.size() && replays[0] < MAX_REPLAYS; start += size) {
                List<byte[]> without = new ArrayList<>(chunks.subList(0, start));
                without.addAll(chunks.subList(Math.min(chunks.size(), start + size), chunks.size()));
                if (!without.isEmpty() && reproduces(endpoint, o, without, log, signature, replays)) {
                    chunks = without;
                    n = Math.max(n - 1, 2);
                    reduced = true;
                    break;
                }
            }
            if (!reduced) {
                if (n >= chunks.size()) {
                    break;
                }
                n = Math.min(chunks.size(), n * 2);
            }
        }
        String file = save(o, chunks);
        return "after login " + Wire.hex(o.login(), 0, Wire.BHS).replace('\n', ' ') + " (keys "
                + new String(o.login(), Wire.BHS, o.login().length - Wire.BHS, java.nio.charset.StandardCharsets.UTF_8)
                        .replace('\0', ' ').trim() + "), " + chunks.size() + " PDU(s) of " + o.pdus().size()
                + " still give it (" + replays[0] + " replays)" + (file == null ? "" : "; all bytes in " + file)
                + ":\n" + bytes(chunks, 2048);
    }

    private static boolean reproduces(FuzzRound.Endpoint endpoint, FuzzRound.Outcome o, List<byte[]> chunks,
                                      LogWatch log, String signature, int[] replays) {
        replays[0]++;
        log.drain();
        try {
            Replay.replay(endpoint, o.login(), o.negotiated(), chunks, 0);
            Thread.sleep(100);
        } catch (IOException e) {
            // the target closed on us: the trace may still be there
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        for (LogWatch.Trace t : log.drain()) {
            if (t.signature().equals(signature)) {
                return true;
            }
        }
        return false;
    }

    /** Writes the login and the PDUs as hex, one per line, to fuzz-findings/ in the working directory. */
    private static String save(FuzzRound.Outcome o, List<byte[]> pdus) {
        try {
            java.nio.file.Path dir = java.nio.file.Path.of("fuzz-findings");
            if (java.nio.file.Files.isDirectory(java.nio.file.Path.of("target"))) {
                dir = java.nio.file.Path.of("target", "fuzz-findings");
            }
            java.nio.file.Files.createDirectories(dir);
            java.nio.file.Path f = dir.resolve("round-" + o.round() + "-seed-" + o.seed() + ".hex");
            StringBuilder sb = new StringBuilder("# login, then each PDU as sent (hex, one per line)\n");
            sb.append(java.util.HexFormat.of().formatHex(o.login())).append('\n');
            for (byte[] p : pdus) {
                sb.append(java.util.HexFormat.of().formatHex(p)).append('\n');
            }
            java.nio.file.Files.writeString(f, sb);
            return f.toAbsolutePath().toString();
        } catch (IOException e) {
            return null;
        }
    }

    private static String bytes(List<byte[]> chunks, int limit) {
        StringBuilder sb = new StringBuilder();
        int total = 0;
        for (byte[] c : chunks) {
            if (total > limit) {
                sb.append("    ... (").append(chunks.size()).append(" chunks in all)\n");
                break;
            }
            int n = Math.min(c.length, 96);
            sb.append("    [").append(c.length).append(" bytes] ").append(Wire.hex(c, 0, n).replace("\n", "\n      "))
                    .append(c.length > n ? " ..." : "").append('\n');
            total += n;
        }
        return sb.toString();
    }
}
