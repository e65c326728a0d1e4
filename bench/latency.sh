#!/usr/bin/env bash
# bench/latency.sh - tail latency against tgtd and clonetarget in one run (issue 7).
#
# Our own initiator (target-server/src/test/.../bench/LatencyClient.java) keeps QD commands of
# 4 KiB at random aligned LBAs outstanding and records every command's latency (SCSI Command PDU
# written -> status read) in an HdrHistogram. Cases: randread and randwrite at QD1 and QD32,
# BENCH_LAT_SECS each after BENCH_LAT_WARMUP seconds of warm-up, interleaved peer by peer so that
# machine noise hits both alike. Both peers serve a 1 GiB file LUN on the same file system, filled
# once with 1 MiB writes (no holes). clonetarget runs through bin/clonetarget with the GC and
# safepoint logs on (CLONETARGET_JAVA_OPTS); the longest GC pause and the longest safepoint during
# each of its cases are reported. The client JVM logs its own pauses too (a pause there would be
# measured as target latency), and the load average, any QEMU VM running, and how long the server's
# threads waited for a CPU (run-queue wait from /proc/PID/task/*/schedstat, ms per second) are recorded.
#
# Prints a table (with --markdown, a Markdown table) of IOPS, p50, p99, p99.9, p99.99 and max.
# Needs: tgt (tgtd, tgtadm), qemu-utils + qemu-block-extra (to fill the LUNs), maven, a JDK 25.
# Env (defaults): BENCH_DIR (/tmp/clonetarget-latency), BENCH_LAT_SECS (60), BENCH_LAT_WARMUP (5),
#   BENCH_SIZE_MB (1024), BENCH_PEERS ("tgtd clonetarget"), BENCH_REPS (1), BENCH_PORT_BASE (3460),
#   BENCH_CASES ("randread:1 randwrite:1 randread:32 randwrite:32"), BENCH_SKIP_BUILD (0)
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
MARKDOWN=0
[ "${1:-}" = "--markdown" ] && MARKDOWN=1
DIR=${BENCH_DIR:-/tmp/clonetarget-latency}
SECS=${BENCH_LAT_SECS:-60}
WARMUP=${BENCH_LAT_WARMUP:-5}
SIZE_MB=${BENCH_SIZE_MB:-1024}
PEERS=${BENCH_PEERS:-"tgtd clonetarget"}
REPS=${BENCH_REPS:-1}
BASE=${BENCH_PORT_BASE:-3460}
CASES=${BENCH_CASES:-"randread:1 randwrite:1 randread:32 randwrite:32"}
IQN_TGT=iqn.2026-11.io.clonetarget.bench:tgtd
IQN_CT=iqn.2026-11.io.clonetarget.bench:clonetarget
RESULTS=$DIR/results.tsv

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
log() { printf '[latency %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"
: >"$RESULTS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "${TGT_CTRL:-}" ]; then
    tgtadm -C "$TGT_CTRL" --lld iscsi --op delete --force --mode target --tid 1 >/dev/null 2>&1
    tgtadm -C "$TGT_CTRL" --op delete --mode system >/dev/null 2>&1
  fi
  wait 2>/dev/null
}
trap cleanup EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ] || [ ! -s "$DIR/classpath.txt" ]; then
  log "building the server jar and the test classes (LatencyClient)"
  "$root/bin/mvn" -q -B -DskipTests package \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath -pl target-server -am \
    -Dmdep.outputFile="$DIR/classpath.txt" -Dmdep.includeScope=test >&2 || exit 1
fi
CP="$root/target-server/target/test-classes:$(cat "$DIR/classpath.txt")"

wait_port() { # until something listens on the port (looks at /proc/net/tcp, does not connect)
  local hex; hex=$(printf '%04X' "$1")
  for _ in $(seq 1 300); do
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {found=1} END {exit !found}' /proc/net/tcp /proc/net/tcp6 && return 0
    sleep 0.2
  done
  return 1
}
port_of() { case $1 in tgtd) echo $((BASE + 1)) ;; clonetarget) echo $((BASE + 2)) ;; esac; }
target_of() { case $1 in tgtd) echo "$IQN_TGT" ;; clonetarget) echo "$IQN_CT" ;; esac; }
lun_of() { case $1 in tgtd) echo 1 ;; clonetarget) echo 0 ;; esac; }
url_of() { echo "iscsi://127.0.0.1:$(port_of "$1")/$(target_of "$1")/$(lun_of "$1")"; }

start_tgtd() {
  local port; port=$(port_of tgtd)
  TGT_CTRL=$port
  rm -f "$DIR/tgtd.img"; truncate -s "${SIZE_MB}M" "$DIR/tgtd.img"
  tgtd -f -C "$TGT_CTRL" --iscsi "portal=127.0.0.1:$port" >"$DIR/tgtd.log" 2>&1 &
  TGTD_PID=$!
  PIDS+=($!)
  for _ in $(seq 1 100); do tgtadm -C "$TGT_CTRL" --lld iscsi --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
  tgtadm -C "$TGT_CTRL" --lld iscsi --op new --mode target --tid 1 --targetname "$IQN_TGT" &&
  tgtadm -C "$TGT_CTRL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 --bstype rdwr --backing-store "$DIR/tgtd.img" &&
  tgtadm -C "$TGT_CTRL" --lld iscsi --op bind --mode target --tid 1 --initiator-address ALL && wait_port "$port"
}

start_clonetarget() {
  local port; port=$(port_of clonetarget)
  rm -rf "$DIR/clonetarget.img" "$DIR/state" "$DIR/gc.log"
  # the launcher execs the JVM, so $! is the server's pid
  CLONETARGET_JAVA_OPTS="-Xlog:gc*,safepoint:file=$DIR/gc.log:uptime,level,tags:filecount=0 ${BENCH_CT_JAVA_OPTS:-}" \
    "$root/bin/clonetarget" serve --listen "127.0.0.1:$port" --target "$IQN_CT" --state-dir "$DIR/state" \
    --lun "$DIR/clonetarget.img,size=${SIZE_MB}M" >"$DIR/clonetarget.log" 2>&1 &
  CT_PID=$!
  PIDS+=($!)
  wait_port "$port"
}

# pauses FILE FROM TO: the longest GC pause and the longest safepoint (ms) in lines FROM..TO
pauses() {
  sed -n "${2},${3}p" "$1" | awk '
    /\[gc *\].*Pause/ { if (match($0, /[0-9.]+ms$/)) { v = substr($0, RSTART, RLENGTH - 2) + 0; if (v > gc) gc = v } }
    /\[safepoint *\].*Total: / { if (match($0, /Total: [0-9]+ ns/)) { v = substr($0, RSTART + 7, RLENGTH - 10) / 1e6; if (v > sp) sp = v } }
    END { printf "%.2f\t%.2f\n", gc, sp }'
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# runq PID: nanoseconds the process's threads have spent runnable but waiting for a CPU (schedstat)
runq() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f\n", s }'; }
pid_of() { case $1 in tgtd) echo "${TGTD_PID:-0}" ;; clonetarget) echo "${CT_PID:-0}" ;; esac; }

run_case() { # run_case PEER RW QD REP
  local peer=$1 rw=$2 qd=$3 rep=$4 out json from to gc sp cgc load qemu rq0 rq
  load=$(cut -d' ' -f1 /proc/loadavg)
  rq0=$(runq "$(pid_of "$peer")")
  qemu=$(pgrep -c qemu-system 2>/dev/null || true)
  from=$(( $(lines "$DIR/gc.log") + 1 ))
  out=$(timeout $((SECS + WARMUP + 120)) "$JAVA_BIN" -Xms256m -Xmx256m -XX:+AlwaysPreTouch \
    "-Xlog:gc*,safepoint:file=$DIR/client-gc.log:uptime,level,tags:filecount=0" -cp "$CP" io.clonetarget.server.bench.LatencyClient \
    --port="$(port_of "$peer")" --target="$(target_of "$peer")" --lun="$(lun_of "$peer")" --rw="$rw" --qd="$qd" \
    --secs="$SECS" --warmup="$WARMUP" --label="$peer" --hist="$DIR/hist-$peer-$rw-qd$qd-$rep.txt" 2>&1)
  json=$(grep '^{' <<<"$out" | tail -1)
  rq=$(awk -v a="$rq0" -v b="$(runq "$(pid_of "$peer")")" -v s="$((SECS + WARMUP))" 'BEGIN { printf "%.1f", (b - a) / 1e6 / s }')
  to=$(lines "$DIR/gc.log")
  if [ "$peer" = clonetarget ]; then read -r gc sp < <(pauses "$DIR/gc.log" "$from" "$to"); else gc=-; sp=-; fi
  read -r cgc _ < <(pauses "$DIR/client-gc.log" 1 "$(lines "$DIR/client-gc.log")")
  if [ -z "$json" ]; then
    log "$peer $rw qd$qd failed: $out"
    json='{}'
  fi
  grep -v '^{' <<<"$out" | sed 's/^/  /' >&2
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$peer" "$rw" "$qd" "$rep" "$json" "$gc" "$sp" "$cgc" "$load" \
    "$qemu" "$rq" >>"$RESULTS"
}

log "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), QEMU VMs running: $(pgrep -c qemu-system || true)"
ACTIVE=""
for p in $PEERS; do
  log "starting $p"
  if "start_$p"; then ACTIVE="$ACTIVE $p"; else log "$p did not start; its rows will be missing"; fi
done
for p in $ACTIVE; do
  log "filling $p's LUN with 1 MiB writes (no holes), then warming up"
  timeout 600 qemu-img bench -f raw -t none -d 4 -c "$SIZE_MB" -s 1M -w --pattern=1 "$(url_of "$p")" >/dev/null 2>&1 ||
    log "filling $p failed"
done
for rep in $(seq 1 "$REPS"); do
  for c in $CASES; do
    for p in $ACTIVE; do
      log "rep $rep/$REPS ${c%%:*} QD${c##*:} $p (${SECS}s + ${WARMUP}s warm-up)"
      run_case "$p" "${c%%:*}" "${c##*:}" "$rep"
    done
  done
done

python3 - "$RESULTS" "$MARKDOWN" <<'PY'
import sys, json, statistics, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
markdown = sys.argv[2] == "1"
by = collections.OrderedDict()
for peer, rw, qd, rep, js, gc, sp, cgc, load, qemu, rq in rows:
    by.setdefault((rw, int(qd)), collections.OrderedDict()).setdefault(peer, []).append(
        (json.loads(js), gc, sp, cgc, load, qemu, rq))
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
header = ["case", "peer", "IOPS", "p50 us", "p99 us", "p99.9 us", "p99.99 us", "max us", "server GC max ms",
          "server safepoint max ms", "client GC max ms", "server run-queue wait ms/s", "load", "QEMU VMs"]
out = []
for (rw, qd), peers in by.items():
    for peer, runs in peers.items():
        def f(key, fmt="%.0f"):
            v = med([r[0].get(key) for r in runs])
            return "failed" if v is None else fmt % v
        def g(i):
            v = [float(r[i]) for r in runs if r[i] not in ("-", "")]
            return "-" if not v else "%.2f" % max(v)
        out.append(["4k %s QD%d" % (rw, qd), peer, f("iops"), f("p50_us", "%.1f"), f("p99_us", "%.1f"),
                    f("p999_us", "%.1f"), f("p9999_us", "%.1f"), f("max_us", "%.0f"), g(1), g(2), g(3),
                    "/".join(r[6] for r in runs), "/".join(r[4] for r in runs), "/".join(r[5] for r in runs)])
if markdown:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in out:
        print("| " + " | ".join(r) + " |")
else:
    w = [max(len(str(x[i])) for x in [header] + out) for i in range(len(header))]
    for r in [header] + out:
        print("  ".join(str(v).ljust(n) for v, n in zip(r, w)))
PY
