#!/usr/bin/env bash
# bench/soak.sh - a long run of one clonetarget server under everything at once (issue 7):
#   - mixed I/O: LatencyClient sessions of 60 s each, in loops (4 KiB random writes on a file LUN,
#     random reads of a hydrating clone LUN, a few writes into the clone's first 64 MiB), paced;
#   - logins and logouts in a loop (iscsi-inq and iscsi-ls, each a new session);
#   - a hydrating clone (its rate set so that hydration lasts the whole run);
#   - the PDU fuzzer on the side (FuzzEngine, the engine of PduFuzzIT) against a target of its own
#     on the same server, so its resets touch only its own LUN.
# Every SOAK_INTERVAL seconds it samples the server: heap in use and committed (jcmd GC.heap_info)
# and after the last GC (the GC log), RSS and threads (/proc/PID/status), open descriptors (/proc/PID/fd), and
# the clone's hydration; writes $DIR/soak.tsv; at the end says, per metric, whether it stayed flat
# (the last quarter's max against the first quarter's, within a tolerance), with the fuzzer's
# findings, client errors and stack traces in the server log.
#
# Needs: libiscsi-bin (iscsi-inq, iscsi-ls), maven, a JDK 25 (jcmd). Exit status 0 only if every
# metric is flat and nothing was found.
# Env (defaults): SOAK_MINUTES (30), SOAK_INTERVAL (30), SOAK_DIR (/tmp/clonetarget-soak),
#   SOAK_PORT (3470), SOAK_SIZE_MB (1024, file LUN and clone), SOAK_IOPS (2000 per I/O loop),
#   SOAK_SKIP_BUILD (0), SOAK_SEED (random; the fuzzer's seed)
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
MINUTES=${SOAK_MINUTES:-30}
INTERVAL=${SOAK_INTERVAL:-30}
DIR=${SOAK_DIR:-/tmp/clonetarget-soak}
PORT=${SOAK_PORT:-3470}
SIZE_MB=${SOAK_SIZE_MB:-1024}
IOPS=${SOAK_IOPS:-2000}
SEED=${SOAK_SEED:-$RANDOM$RANDOM}
IQN=iqn.2026-11.io.clonetarget.soak:io
IQN_FUZZ=iqn.2026-11.io.clonetarget.soak:fuzz
TSV=$DIR/soak.tsv

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
JCMD=$(dirname "$JAVA_BIN")/jcmd
log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
rm -rf "$DIR/state" "$DIR"/*.log "$DIR/clone.img" "$DIR/clone.img.meta"
mkdir -p "$DIR"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT

if [ "${SOAK_SKIP_BUILD:-0}" != 1 ] || [ ! -s "$DIR/classpath.txt" ]; then
  log "building the server jar and the test classes (LatencyClient, FuzzEngine)"
  "$root/bin/mvn" -q -B -DskipTests package \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath -pl target-server -am \
    -Dmdep.outputFile="$DIR/classpath.txt" -Dmdep.includeScope=test >&2 || exit 1
fi
CP="$root/target-server/target/test-classes:$(cat "$DIR/classpath.txt")"

log "making the images: golden ${SIZE_MB} MiB (random), file LUN ${SIZE_MB} MiB, fuzz LUN 64 MiB"
[ -f "$DIR/golden.img" ] && [ "$(stat -c %s "$DIR/golden.img")" = $((SIZE_MB << 20)) ] ||
  head -c $((SIZE_MB << 20)) /dev/urandom >"$DIR/golden.img"
rm -f "$DIR/data.img" "$DIR/fuzz.img"
head -c $((64 << 20)) /dev/urandom >"$DIR/fuzz.img"
# hydration spread over the whole run: bytes per second, in K (the clone writes hydrate a little more)
RATE=$(( SIZE_MB * 1024 / (MINUTES * 60) ))K
cat >"$DIR/soak.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
state-dir = "$DIR/state"

[[volume]]
name = "data"
path = "$DIR/data.img"
size = "${SIZE_MB}M"

[[volume]]
name = "clone"
type = "clone"
source = "$DIR/golden.img"
path = "$DIR/clone.img"
hydration = { rate = "$RATE" }

[[volume]]
name = "fuzz"
path = "$DIR/fuzz.img"
size = "64M"

[[target]]
iqn = "$IQN"
lun = [ { lun = 0, volume = "data" }, { lun = 1, volume = "clone" } ]

[[target]]
iqn = "$IQN_FUZZ"
lun = [ { lun = 0, volume = "fuzz" } ]
EOF
log "starting the server (clone hydration at $RATE/s)"
CLONETARGET_JAVA_OPTS="-Xlog:gc:file=$DIR/gc.log:uptime,level,tags:filecount=0" \
  "$root/bin/clonetarget" serve --config "$DIR/soak.toml" >"$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do grep -q "is serving" "$DIR/server.log" 2>/dev/null && break; sleep 0.2; done
grep -q "is serving" "$DIR/server.log" || { log "the server did not start:"; cat "$DIR/server.log" >&2; exit 1; }

END=$(( $(date +%s) + MINUTES * 60 ))
io_loop() { # io_loop NAME ARGS...: LatencyClient sessions of 60 s until the end
  local name=$1 child= rc; shift
  trap 'kill $child 2>/dev/null; exit 0' TERM
  while [ "$(date +%s)" -lt $((END - 5)) ]; do
    "$JAVA_BIN" -Xmx128m -cp "$CP" io.clonetarget.server.bench.LatencyClient --port="$PORT" --target="$IQN" \
      --secs=$(( END - $(date +%s) < 60 ? END - $(date +%s) : 60 )) --warmup=0 --label="$name" "$@" \
      >>"$DIR/io-$name.log" 2>&1 &
    child=$!
    wait "$child"; rc=$?
    [ $rc = 0 ] || echo "FAILED rc=$rc" >>"$DIR/io-$name.log"
  done
}
login_loop() {
  local n=0 bad=0
  while [ "$(date +%s)" -lt $((END - 5)) ]; do
    timeout 30 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN/$((n % 2))" >/dev/null 2>&1 || bad=$((bad + 1))
    timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT" >/dev/null 2>&1 || bad=$((bad + 1))
    n=$((n + 1))
    echo "$n $bad" >"$DIR/logins.count"
    sleep 1
  done
}
io_loop write-file --lun=0 --rw=randwrite --qd=4 --iops="$IOPS" & PIDS+=($!)
io_loop read-clone --lun=1 --rw=randread --qd=8 --iops="$IOPS" & PIDS+=($!)
io_loop write-clone --lun=1 --rw=randwrite --qd=1 --span-mib=64 --iops=$((IOPS / 4)) & PIDS+=($!)
login_loop & PIDS+=($!)
"$JAVA_BIN" -Xmx512m -cp "$CP" io.clonetarget.server.fuzz.FuzzEngine --port="$PORT" --target="$IQN_FUZZ" \
  --lun-file="$DIR/fuzz.img" --seconds=$((MINUTES * 60 - 30)) --seed="$SEED" --log="$DIR/server.log" --keep-going \
  >"$DIR/fuzz.log" 2>&1 &
FUZZ=$!
PIDS+=($FUZZ)

hydrated() {
  "$root/bin/clonetarget" clone status --output json --state-dir "$DIR/state" 2>/dev/null |
    python3 -c 'import sys, json
d = json.load(sys.stdin)
c = d[0] if isinstance(d, list) else (d.get("clones") or d.get("volumes") or [d])[0]
for k in ("hydrated_percent", "hydratedPercent", "percent"):
    if k in c: print("%.1f" % float(c[k])); break
else:
    h, t = c.get("hydrated_regions", c.get("hydratedRegions")), c.get("regions", c.get("total_regions"))
    print("%.1f" % (100.0 * h / t) if h is not None and t else "?")' 2>/dev/null || echo "?"
}
after_gc() { # heap after the last GC, in KiB, from lines like "... 225M->5M(384M) 4.2ms"
  grep 'Pause' "$DIR/gc.log" 2>/dev/null | tail -1 | sed -n 's/.*->\([0-9]*\)\([KMG]\)(.*/\1 \2/p' |
    awk '{ m = ($2 == "G") ? 1048576 : ($2 == "M") ? 1024 : 1; print $1 * m }'
}
printf 't_s\theap_used_kib\theap_committed_kib\theap_after_gc_kib\trss_kib\tthreads\tfds\thydrated_pct\tlogins\n' >"$TSV"
START=$(date +%s)
log "soaking for $MINUTES min; samples every ${INTERVAL}s in $TSV (fuzz seed $SEED)"
while [ "$(date +%s)" -lt "$END" ] && kill -0 "$SERVER" 2>/dev/null; do
  info=$("$JCMD" "$SERVER" GC.heap_info 2>/dev/null)
  used=$(sed -n 's/.* used \([0-9]*\)K.*/\1/p' <<<"$info" | head -1)
  committed=$(sed -n 's/.* committed \([0-9]*\)K.*/\1/p' <<<"$info" | head -1)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$SERVER/status")
  fds=$(ls "/proc/$SERVER/fd" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $(( $(date +%s) - START )) "${used:-?}" "${committed:-?}" "$(after_gc)" \
    "$rss" "$thr" "$fds" \
    "$(hydrated)" "$(cut -d' ' -f1 "$DIR/logins.count" 2>/dev/null || echo 0)" >>"$TSV"
  sleep "$INTERVAL"
done
alive=yes; kill -0 "$SERVER" 2>/dev/null || alive=no
log "stopping the loads"
wait "$FUZZ"; FUZZ_RC=$?
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
wait "${PIDS[@]}" 2>/dev/null
PIDS=()
log "stopping the server (SIGTERM; it must exit 0 within 60 s)"
stopped=no
if kill -0 "$SERVER" 2>/dev/null; then
  kill -TERM "$SERVER"
  for _ in $(seq 1 600); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
  if ! kill -0 "$SERVER" 2>/dev/null; then wait "$SERVER"; src=$?; [ $src = 0 ] && stopped=yes || stopped="exit $src"; fi
fi
SERVER=
traces=$(grep -c -E '^\s+at [a-zA-Z]' "$DIR/server.log" || true)
failed_io=$(cat "$DIR"/io-*.log | grep -c -E 'FAILED|[1-9][0-9]* errors\)' || true)
read -r logins bad_logins <"$DIR/logins.count" 2>/dev/null || { logins=0; bad_logins=0; }
python3 - "$TSV" "$alive" "$FUZZ_RC" "$traces" "$failed_io" "${logins:-0}" "${bad_logins:-0}" "$DIR" "$stopped" <<'PY'
import sys, glob, json
tsv, alive, fuzz_rc, traces, failed_io, logins, bad_logins, d, stopped = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)]
head, rows = rows[0], rows[1:]
def col(name):
    i = head.index(name)
    return [float(r[i]) for r in rows if r[i] not in ("", "?")]
# metric, tolerance factor, absolute slack (same unit)
checks = [("heap_after_gc_kib", 0.25, 16384), ("rss_kib", 0.10, 65536), ("threads", 0.0, 6), ("fds", 0.0, 10)]
ok = True
print("%-18s %8s %14s %14s %14s  %s" % ("metric", "samples", "first quarter", "last quarter", "overall max", "verdict"))
for name, factor, slack in checks:
    v = col(name)
    if len(v) < 4:
        print("%-18s %8d %s" % (name, len(v), "too few samples")); ok = False; continue
    q = max(1, len(v) // 4)
    first, last = max(v[:q]), max(v[-q:])
    flat = last <= first * (1 + factor) + slack
    ok &= flat
    print("%-18s %8d %14.0f %14.0f %14.0f  %s" % (name, len(v), first, last, max(v),
          "flat" if flat else "GROWS (> %.0f%% + %d)" % (factor * 100, slack)))
c = col("heap_committed_kib")
if c:
    print("%-18s %8d %14.0f %14.0f %14.0f  (what the JVM holds for the heap: part of RSS; not judged)"
          % ("heap_committed_kib", len(c), max(c[:max(1, len(c) // 4)]), max(c[-max(1, len(c) // 4):]), max(c)))
h = col("heap_used_kib")
if h:
    print("%-18s %8d %14.0f %14.0f %14.0f  (sawtooth between GCs; not judged)" % ("heap_used_kib", len(h),
          max(h[:max(1, len(h) // 4)]), max(h[-max(1, len(h) // 4):]), max(h)))
hyd = [r[head.index("hydrated_pct")] for r in rows]
print("clone hydrated: %s%% at the first sample, %s%% at the last" % (hyd[0] if hyd else "?", hyd[-1] if hyd else "?"))
ios = {}
for f in sorted(glob.glob(d + "/io-*.log")):
    for l in open(f):
        if l.startswith("{"):
            j = json.loads(l); k = j["label"]
            ios.setdefault(k, []).append(j)
for k, js in ios.items():
    print("io %-12s %3d sessions, %9d commands, %d errors, p99.9 per session median %.0f us, max %.0f us" % (k, len(js),
          sum(j["ios"] for j in js), sum(j["errors"] for j in js), sorted(j["p999_us"] for j in js)[len(js) // 2],
          max(j["max_us"] for j in js)))
print("logins/logouts: %s rounds of iscsi-inq + iscsi-ls, %s failed" % (logins, bad_logins))
print("server alive at the end: %s; stopped cleanly by SIGTERM: %s; stack traces in its log: %s;"
      " failed I/O sessions: %s; fuzzer exit: %s" % (alive, stopped, traces, failed_io, fuzz_rc))
ok &= alive == "yes" and stopped == "yes" and traces == "0" and failed_io == "0" and fuzz_rc == "0" \
    and bad_logins == "0"
print("SOAK " + ("PASSED" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
rc=$?
grep -E '^fuzz seed|^FINDING' "$DIR/fuzz.log" | head -20
exit $rc
