#!/usr/bin/env bash
# bench/snapshot.sh - snapshots (issue 9): clonetarget's chunk copy-on-write against qcow2
# internal snapshots on the same file system, in one run.
#
# clonetarget serves file volumes with [volume.snapshots] (chunk-size = BENCH_CHUNK) over iSCSI
# on loopback; qcow2 files (cluster_size = BENCH_CHUNK, qemu-img snapshot -c) are driven directly
# by qemu-img bench (-t none unless said otherwise). The same qemu-img bench workloads for both.
#
#   phase a (one server; volumes v0, v1, v32; qcow2 files q0, q1, q32, qw; all BENCH_SIZE_MB)
#     first   the first write to a chunk after a snapshot: 4 KiB writes, each to its own chunk
#             (stride 8 chunks), at QD1 and QD32, on v1 / v32 (1 or 32 snapshots held) and q1 /
#             q32 (-t none) and qw (1 snapshot, -t writeback), against the same writes before any
#             snapshot; cost: growth of diff.data / of the qcow2 file (allocated blocks), and
#             (untimed, with strace) the pwrite bytes and fdatasync calls of one more set at QD1
#     steady  after every chunk was copied (the whole volume written once after the snapshots):
#             4 KiB random writes (QD1, QD32) and 1 MiB sequential writes (QD32) with 0, 1 and 32
#             snapshots; ratios to 0 snapshots, per peer
#     read    v1@s1 and v32@s1 mapped as LUNs: 1 MiB sequential reads against the origin v1
#   phase b (a new server; volumes hot, BENCH_SIZE_MB, and e, BENCH_EXPORT_MB)
#     create  snapshot create under a QD32 4 KiB random write load on hot (BENCH_CREATES with
#             the CLI, as many through the admin socket, alternating; each snapshot but the two
#             newest deleted as it goes): wall time and hold_nanos, p50 / p99; half as many idle
#     export  export-diff of a 1% change (one 4 KiB write in every 100th chunk between e@a and
#             e@b) against reading the whole volume (qemu-img convert of the LUN to null-co) and a
#             full export-diff
# Every case runs peer after peer, BENCH_REPS times (first writes: 3 sets of fresh chunks).
# Prints Markdown tables (what docs/performance.md records); raw figures in $BENCH_DIR/raw.tsv.
#
# Needs: qemu-utils + qemu-block-extra, python3, a JDK 25, the jar (bin/mvn -q -DskipTests package).
# Env (defaults): BENCH_DIR (/tmp/clonetarget-snapshot-bench), BENCH_SIZE_MB (256),
#   BENCH_EXPORT_MB (1024), BENCH_CHUNK (64K), BENCH_REPS (3), BENCH_STEADY_REPS (7),
#   BENCH_4K_COUNT (20000),
#   BENCH_4K1_COUNT (5000), BENCH_CREATES (20), BENCH_TIMEOUT (120 s per client command),
#   BENCH_PHASES ("a b")
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
DIR=${BENCH_DIR:-/tmp/clonetarget-snapshot-bench}
SIZE_MB=${BENCH_SIZE_MB:-256}
EXPORT_MB=${BENCH_EXPORT_MB:-1024}
CHUNK=${BENCH_CHUNK:-64K}
REPS=${BENCH_REPS:-3}
STEADY_REPS=${BENCH_STEADY_REPS:-7}
C4K=${BENCH_4K_COUNT:-20000}
C4K1=${BENCH_4K1_COUNT:-5000}
CREATES=${BENCH_CREATES:-20}
TMO=${BENCH_TIMEOUT:-120}
PHASES=${BENCH_PHASES:-"a b"}
IQN=iqn.2026-11.io.clonetarget.bench:snapshots

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
JAR="$root/target-server/target/clonetarget.jar"
[ -f "$JAR" ] || { echo "build the jar first: bin/mvn -q -DskipTests package" >&2; exit 1; }
CT=("$JAVA_BIN" --enable-native-access=ALL-UNNAMED -jar "$JAR")
CHUNK_B=$(numfmt --from=iec "$CHUNK")
SIZE_B=$((SIZE_MB << 20))
CHUNKS=$((SIZE_B / CHUNK_B))
# the stride of the 4 KiB "random" writes: qemu-img bench steps by it modulo (size - 4 KiB), so a
# step of about a quarter of the volume, in 4 KiB blocks coprime with that modulus, visits the
# blocks in a scattered order (bench/run.sh uses 4096 * 65537 for 1 GiB)
gcd() { local a=$1 b=$2 t; while [ "$b" -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo "$a"; }
stride_for() {
  local m=$(( ($1 >> 12) - 1 )) s=$(( ($1 >> 12) / 4 + 1 ))
  while [ "$(gcd "$m" "$s")" -ne 1 ]; do s=$((s + 1)); done
  echo $((s * 4096))
}
STRIDE=$(stride_for "$SIZE_B")
log() { printf '[snapshot-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"
RAW=$DIR/raw.tsv
: >"$RAW"
SERVER_PID=
LOAD_PID=
cleanup() {
  [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT

# the space this run needs at most, with 1 GiB to spare (the file system is shared): phase a about
# 12 volumes' worth (volumes, difference storage, qcow2 files), phase b the hot volume and 4 times
# it of difference storage, the export volume and one full export of it
need_a=$((12 * SIZE_MB)); need_b=$((5 * SIZE_MB + 2 * EXPORT_MB))
need=$(( ((need_a > need_b ? need_a : need_b) + 1024) * 1024 ))
have=$(df -Pk "$DIR" | awk 'NR == 2 {print $4}')
if [ "$have" -lt "$need" ]; then
  echo "$DIR has $((have / 1024)) MiB free, this run needs $((need / 1024)) MiB: lower BENCH_SIZE_MB / BENCH_EXPORT_MB" >&2
  exit 1
fi

# admin SOCKET COMMAND KEY=VALUE...: one admin request; prints {"elapsed": s, "result": ...}
cat >"$DIR/admin.py" <<'PY'
import json, socket, sys, time
req = {"command": sys.argv[2]}
for a in sys.argv[3:]:
    k, v = a.split("=", 1)
    req[k] = v
t0 = time.monotonic()
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps(req).encode() + b"\n")
s.shutdown(socket.SHUT_WR)
resp = json.loads(b"".join(iter(lambda: s.recv(65536), b"")))
elapsed = time.monotonic() - t0
if not resp.get("ok"):
    print(json.dumps(resp), file=sys.stderr)
    sys.exit(1)
print(json.dumps({"elapsed": elapsed, "result": resp["result"]}))
PY
# syscalls.py STRACE-OUTPUT: counts and bytes of the write and sync calls in a strace -f log
cat >"$DIR/syscalls.py" <<'PY'
import re, sys, collections
calls, written = collections.Counter(), 0
for line in open(sys.argv[1]):
    m = re.match(r"\s*(?:\[pid\s+)?\d*\]?\s*(?:<\.\.\. )?(\w+)", line)
    if not m or line.startswith("+++") or line.startswith("---"):
        continue
    name = m.group(1)
    if "resumed>" not in line:
        calls[name] += 1
    r = re.search(r"\)\s+=\s+(\d+)\s*$", line)
    if r and name.startswith("pwrite"):
        written += int(r.group(1))
print(written, calls["pwrite64"] + calls["pwritev"] + calls["pwritev2"], calls["fdatasync"] + calls["fsync"])
PY
admin() { python3 "$DIR/admin.py" "$DIR/state/admin.sock" "$@"; }
jget() { python3 -c 'import json,sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
now() { date +%s.%N; }
alloc() { du -B1 "$1" 2>/dev/null | cut -f1; } # allocated bytes of a file
# record SECTION CASE PEER VALUE UNIT EXTRA
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }

# start_server LOG CONFIG: serve in the background; sets SERVER_PID and PORT
start_server() {
  rm -rf "$DIR/state"; mkdir -p "$DIR/state"
  "${CT[@]}" serve --config "$2" >"$1" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^Stop with Ctrl-C' "$1" 2>/dev/null; then
      PORT=$(sed -n 's/.*is serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }

# config FILE VOLUME:MB:LIMIT...: a server config with these snapshot volumes, LUNs in that order
config() {
  local f=$1; shift
  {
    echo 'version = 2'
    echo '[server]'; echo 'listen = ["127.0.0.1:0"]'; echo "state-dir = \"$DIR/state\""
    echo '[admin]'; echo 'listen = "off"'
    for v in "$@"; do
      IFS=: read -r name mb limit <<<"$v"
      echo '[[volume]]'; echo "name = \"$name\""; echo "path = \"$DIR/$name.img\""; echo "size = \"${mb}M\""
      echo '[volume.snapshots]'; echo "chunk-size = \"$CHUNK\""
      [ -n "$limit" ] && echo "limit = \"$limit\""
    done
    echo '[[target]]'; echo "iqn = \"$IQN\""
    local i=0
    for v in "$@"; do echo "[[target.lun]]"; echo "lun = $i"; echo "volume = \"${v%%:*}\""; i=$((i + 1)); done
  } >"$f"
}
lun_url() { echo "iscsi://127.0.0.1:$PORT/$IQN/$1"; }

# target NAME: the qemu-img bench arguments of a peer: "ct:LUN" or "qcow2:FILE:CACHE"
grown_file() { # the file a peer's copies go to
  case $1 in
    ct:1) echo "$DIR/state/snapshots/v1/diff.data" ;;
    ct:2) echo "$DIR/state/snapshots/v32/diff.data" ;;
    qcow2:*) echo "$DIR/$(cut -d: -f2 <<<"$1").qcow2" ;;
  esac
}
bargs() {
  IFS=: read -r kind a b <<<"$1"
  case $kind in
    ct) echo "-f raw -t none $(lun_url "$a")" ;;
    qcow2) echo "-f qcow2 -t $b $DIR/$a.qcow2" ;;
  esac
}
# qb PEER ARGS...: qemu-img bench (under QB_WRAP, if set); prints SECONDS, or "fail RC" (and the output to the log)
QB_WRAP=()
qb() {
  local peer=$1; shift
  local out rc secs
  # shellcheck disable=SC2046
  out=$(timeout "$TMO" "${QB_WRAP[@]}" qemu-img bench "$@" $(bargs "$peer") 2>&1); rc=$?
  secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
  if [ $rc -ne 0 ] || [ -z "$secs" ]; then
    log "FAILED (rc=$rc) qemu-img bench $* $(bargs "$peer"): $(tr '\n' ' ' <<<"$out")"
    echo "fail $rc"; return 1
  fi
  echo "$secs"
}
fill() { qb "$1" -w -d 32 -c "$2" -s 1M --pattern="${3:-1}" >/dev/null; }

# ---------------------------------------------------------------- phase a
phase_a() {
  rm -f "$DIR"/*.qcow2 "$DIR"/*.img
  config "$DIR/a.toml" v0:"$SIZE_MB": v1:"$SIZE_MB": v32:"$SIZE_MB":
  start_server "$DIR/server-a.log" "$DIR/a.toml" || { log "clonetarget did not start"; return 1; }
  local q
  for q in q0 q1 q32 qw; do qemu-img create -q -f qcow2 -o cluster_size="$CHUNK_B" "$DIR/$q.qcow2" "${SIZE_MB}M"; done
  log "filling every volume and qcow2 file once (1 MiB writes, QD32)"
  for p in ct:0 ct:1 ct:2 qcow2:q0:none qcow2:q1:none qcow2:q32:none qcow2:qw:none; do fill "$p" "$SIZE_MB" || return 1; done
  sync

  # first writes: set k is chunk k, k+8, k+16, ...; 0 2 4 are the QD1 reps, 1 3 5 the QD32 reps,
  # 6 (QD1) and 7 (QD32) the writes before any snapshot
  local per=$((CHUNKS / 8)) stride=$((8 * CHUNK_B))
  local peers_first="ct:1 ct:2 qcow2:q1:none qcow2:q32:none qcow2:qw:writeback"
  declare -gA FNAME=([ct:1]="clonetarget, 1 snapshot" [ct:2]="clonetarget, 32 snapshots" [qcow2:q1:none]="qcow2 -t none, 1 snapshot"
    [qcow2:q32:none]="qcow2 -t none, 32 snapshots" [qcow2:qw:writeback]="qcow2 -t writeback, 1 snapshot"
    [ct:0]="clonetarget, 0 snapshots" [qcow2:q0:none]="qcow2 -t none, 0 snapshots")
  log "first writes: $per writes of 4 KiB per run, each to its own chunk"
  for rep in 1 2 3; do
    for p in $peers_first; do
      local r
      r=$(qb "$p" -w -d 1 -c "$per" -s 4k -S "$stride" -o $((6 * CHUNK_B)) --pattern=7) && record first before-qd1 "$p" "$r" "$per" ""
      r=$(qb "$p" -w -d 32 -c "$per" -s 4k -S "$stride" -o $((7 * CHUNK_B)) --pattern=7) && record first before-qd32 "$p" "$r" "$per" ""
    done
  done
  log "taking the snapshots (v1, q1, qw: s1; v32, q32: s1..s32)"
  admin snapshot-create name=v1@s1 >/dev/null || return 1
  for i in $(seq 1 32); do admin snapshot-create "name=v32@s$i" >/dev/null || return 1; done
  qemu-img snapshot -c s1 "$DIR/q1.qcow2"; qemu-img snapshot -c s1 "$DIR/qw.qcow2"
  for i in $(seq 1 32); do
    local t0 t1; t0=$(now); qemu-img snapshot -c "s$i" "$DIR/q32.qcow2"; t1=$(now)
    record create offline-qcow2 "q32@s$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')" 0 ""
  done
  sync
  for rep in 1 2 3; do
    for qd in 1 32; do
      local set=$(( (rep - 1) * 2 + (qd == 32) ))
      for p in $peers_first; do
        local f0 f1 r file
        file=$(grown_file "$p")
        f0=$(alloc "$file")
        r=$(qb "$p" -w -d "$qd" -c "$per" -s 4k -S "$stride" -o $((set * CHUNK_B)) --pattern=9) || continue
        f1=$(alloc "$file")
        record first "after-qd$qd" "$p" "$r" "$per" "$((f1 - f0))"
      done
    done
  done
  if command -v strace >/dev/null; then
    # untimed: the write and sync calls of one more set of first writes (set 6, written only
    # before the snapshots), QD1, on v1 (strace attached to the server) and q1 (around qemu-img)
    log "counting system calls of $per more first writes on v1 and q1 (strace, untimed)"
    timeout "$TMO" strace -f -qq -s 0 -p "$SERVER_PID" -e trace=pwrite64,pwritev,pwritev2,fdatasync,fsync -o "$DIR/strace-ct.txt" &
    local spid=$!
    sleep 2
    qb ct:1 -w -d 1 -c "$per" -s 4k -S "$stride" -o $((6 * CHUNK_B)) --pattern=11 >/dev/null
    sleep 0.5; kill -INT "$spid"; wait "$spid" 2>/dev/null
    record syscalls first ct:1 "$(python3 "$DIR/syscalls.py" "$DIR/strace-ct.txt")" "$per" ""
    QB_WRAP=(strace -f -qq -s 0 -e trace=pwrite64,pwritev,pwritev2,fdatasync,fsync -o "$DIR/strace-qcow2.txt")
    qb qcow2:q1:none -w -d 1 -c "$per" -s 4k -S "$stride" -o $((6 * CHUNK_B)) --pattern=11 >/dev/null
    QB_WRAP=()
    record syscalls first qcow2:q1:none "$(python3 "$DIR/syscalls.py" "$DIR/strace-qcow2.txt")" "$per" ""
  fi
  local used1 used32
  used1=$(admin snapshot-show name=v1@s1 | jget 'd["result"]["difference_storage"]["used_bytes"]')
  used32=$(admin snapshot-show name=v32@s1 | jget 'd["result"]["difference_storage"]["used_bytes"]')
  log "difference storage used after the first writes: v1 $used1, v32 $used32 bytes"
  echo "$used1 $used32" >"$DIR/used-after-first"
  rm -f "$DIR/qw.qcow2"

  log "steady state: writing the whole of v1, v32, q1, q32 once more (every chunk copied)"
  for p in ct:1 ct:2 qcow2:q1:none qcow2:q32:none; do fill "$p" "$SIZE_MB" 3 || return 1; done
  sync
  local peers_steady="ct:0 ct:1 ct:2 qcow2:q0:none qcow2:q1:none qcow2:q32:none"
  FNAME[ct:1]="clonetarget, 1 snapshot"; FNAME[ct:2]="clonetarget, 32 snapshots"
  for rep in $(seq 1 "$STEADY_REPS"); do
    for c in w4k1 w4k32 w1m32; do
      for p in $peers_steady; do
        log "rep $rep/$STEADY_REPS steady $c ${FNAME[$p]}"
        local r
        case $c in
          w4k1) r=$(qb "$p" -w -d 1 -c "$C4K1" -s 4k -S "$STRIDE" --pattern=165) && record steady "$c" "$p" "$r" "$C4K1" 4096 ;;
          w4k32) r=$(qb "$p" -w -d 32 -c "$C4K" -s 4k -S "$STRIDE" --pattern=165) && record steady "$c" "$p" "$r" "$C4K" 4096 ;;
          w1m32) r=$(qb "$p" -w -d 32 -c $((2 * SIZE_MB)) -s 1M --pattern=90) && record steady "$c" "$p" "$r" $((2 * SIZE_MB)) 1048576 ;;
        esac
      done
    done
  done
  log "difference storage used after the steady writes: v1 $(admin snapshot-show name=v1@s1 | jget 'd["result"]["difference_storage"]["used_bytes"]')"

  log "snapshot reads: v1@s1 as LUN 3, v32@s1 as LUN 4"
  "${CT[@]}" lun map "$IQN" v1@s1 --lun 3 --state-dir "$DIR/state" >/dev/null || return 1
  "${CT[@]}" lun map "$IQN" v32@s1 --lun 4 --state-dir "$DIR/state" >/dev/null || return 1
  for rep in $(seq 1 "$REPS"); do
    for qd in 1 32; do
      for p in ct:1 ct:3 ct:4; do
        local r
        r=$(qb "$p" -d "$qd" -c "$SIZE_MB" -s 1M) && record read "r1m$qd" "$p" "$r" "$SIZE_MB" 1048576
      done
    done
  done
  stop_server
  rm -f "$DIR"/*.qcow2 "$DIR"/*.img; rm -rf "$DIR/state"
}

# ---------------------------------------------------------------- phase b
create_one() { # create_one NAME cli|socket: records wall seconds, hold_nanos and flush_nanos
  local t0 t1 out
  if [ "$2" = cli ]; then
    t0=$(now)
    out=$(timeout "$TMO" "${CT[@]}" snapshot create "$1" --state-dir "$DIR/state" -o json 2>&1) || { log "FAILED snapshot create $1: $out"; return 1; }
    t1=$(now)
    record create "$3-$2" "$1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')" "$(jget 'd[0]["hold_nanos"]' <<<"$out")" "$(jget 'd[0].get("flush_nanos", "")' <<<"$out")"
  else
    out=$(timeout "$TMO" python3 "$DIR/admin.py" "$DIR/state/admin.sock" snapshot-create "name=$1" 2>&1) || { log "FAILED snapshot-create $1: $out"; return 1; }
    record create "$3-$2" "$1" "$(jget 'd["elapsed"]' <<<"$out")" "$(jget 'd["result"][0]["hold_nanos"]' <<<"$out")" "$(jget 'd["result"][0].get("flush_nanos", "")' <<<"$out")"
  fi
}

phase_b() {
  rm -f "$DIR"/*.img
  config "$DIR/b.toml" hot:"$SIZE_MB":$((4 * SIZE_MB))M e:"$EXPORT_MB":
  start_server "$DIR/server-b.log" "$DIR/b.toml" || { log "clonetarget did not start"; return 1; }
  fill ct:0 "$SIZE_MB" || return 1
  fill ct:1 "$EXPORT_MB" || return 1
  sync

  log "snapshot create, idle: $((CREATES / 2)) by the CLI, as many by the admin socket"
  local i n=0
  for i in $(seq 1 $((CREATES / 2))); do
    for how in cli socket; do
      n=$((n + 1)); create_one "hot@i$n" "$how" idle || return 1
      sleep 0.2
    done
  done
  for i in $(seq 1 "$n"); do admin snapshot-delete "name=hot@i$i" >/dev/null; done
  log "snapshot create under a QD32 4 KiB random write load on hot"
  rm -f "$DIR/stop-load"
  ( while [ ! -e "$DIR/stop-load" ]; do
      r=$(qb ct:0 -w -d 32 -c "$C4K" -s 4k -S "$STRIDE" --pattern=165) || break
      record create load-iops ct:0 "$(awk -v c="$C4K" -v s="${r%% *}" 'BEGIN {printf "%.0f", c / s}')" "" ""
    done ) &
  LOAD_PID=$!
  sleep 2
  n=0
  for i in $(seq 1 "$CREATES"); do
    for how in cli socket; do
      n=$((n + 1))
      create_one "hot@c$n" "$how" load || { log "snapshot create under load failed; stopping this case"; break 2; }
      [ "$n" -gt 2 ] && admin snapshot-delete "name=hot@c$((n - 2))" >/dev/null
      kill -0 "$LOAD_PID" 2>/dev/null || { log "the write load stopped (see above)"; break 2; }
      sleep 0.5
    done
  done
  touch "$DIR/stop-load"; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=
  admin snapshot-list name=hot >"$DIR/hot-snapshots.json"

  log "export-diff of a 1% change of e ($EXPORT_MB MiB)"
  admin snapshot-create name=e@a >/dev/null || return 1
  local echunks=$(( (EXPORT_MB << 20) / CHUNK_B ))
  qb ct:1 -w -d 1 -c $((echunks / 100)) -s 4k -S $((100 * CHUNK_B)) --pattern=77 >/dev/null || return 1
  admin snapshot-create name=e@b >/dev/null || return 1
  local changed
  changed=$(admin snapshot-diff name=e@b from=a | jget 'd["result"]["changed_bytes"]')
  record export changed e "$changed" "" ""
  for rep in $(seq 1 "$REPS"); do
    local out t0 t1
    log "rep $rep/$REPS export"
    rm -f "$DIR"/e-*.diff*
    out=$(admin snapshot-export name=e@b from=a file="$DIR/e-inc.diff") && record export inc-socket e "$(jget 'd["elapsed"]' <<<"$out")" "$(jget 'd["result"]["bytes"]' <<<"$out")" "" || log "FAILED export: $out"
    rm -f "$DIR"/e-*.diff*
    t0=$(now); out=$(timeout "$TMO" "${CT[@]}" snapshot export-diff --from-snap a e@b "$DIR/e-inc.diff" --state-dir "$DIR/state" -o json 2>&1); t1=$(now)
    [ -s "$DIR/e-inc.diff" ] && record export inc-cli e "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')" "$(stat -c %s "$DIR/e-inc.diff")" "" || log "FAILED export-diff: $out"
    rm -f "$DIR"/e-*.diff*
    t0=$(now)
    out=$(timeout "$TMO" qemu-img convert -n -f raw --target-image-opts "$(lun_url 1)" "driver=null-co,size=$((EXPORT_MB << 20))" 2>&1) &&
      t1=$(now) && record export read-all e "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')" $((EXPORT_MB << 20)) "" || log "FAILED convert: $out"
    out=$(admin snapshot-export name=e@b file="$DIR/e-full.diff" 2>&1) && record export full-socket e "$(jget 'd["elapsed"]' <<<"$out")" "$(jget 'd["result"]["bytes"]' <<<"$out")" "" || log "FAILED full export: $out"
    rm -f "$DIR"/e-*.diff*
  done
  stop_server
  rm -f "$DIR"/*.img; rm -rf "$DIR/state"
}

report() {
  python3 - "$RAW" "$SIZE_MB" "$EXPORT_MB" "$CHUNK_B" <<'PY'
import sys, statistics as st, collections
raw, size_mb, export_mb, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [l.rstrip("\n").split("\t") for l in open(raw) if l.strip()]
by = collections.defaultdict(list)
for sec, case, peer, val, unit, extra in rows:
    by[(sec, case, peer)].append((val, unit, extra))
def med(xs): return st.median(xs) if xs else float("nan")
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))] if xs else float("nan")
name = {"ct:1": "clonetarget, 1 snapshot", "ct:2": "clonetarget, 32 snapshots", "qcow2:q1:none": "qcow2 -t none, 1 snapshot",
        "qcow2:q32:none": "qcow2 -t none, 32 snapshots", "qcow2:qw:writeback": "qcow2 -t writeback, 1 snapshot",
        "ct:0": "clonetarget", "qcow2:q0:none": "qcow2 -t none"}
def ran(section): return any(k[0] == section for k in by)

# the sections of phase a, when it ran (BENCH_PHASES=b leaves them out)
if ran("first"):
  print("### First write to a chunk after a snapshot (%d MiB, chunk/cluster %d KiB; 4 KiB writes, each to its own chunk)" % (size_mb, chunk >> 10))
  print()
  print("| peer | QD | before the snapshot us/write | first write after it us/write (runs) | first / before | file grown per write |")
  print("|---|---|---|---|---|---|")
  for p in ["ct:1", "ct:2", "qcow2:q1:none", "qcow2:q32:none", "qcow2:qw:writeback"]:
      for qd in (1, 32):
          b = by.get(("first", "before-qd%d" % qd, p), [])
          a = by.get(("first", "after-qd%d" % qd, p), [])
          if not a:
              print("| %s | %d | | failed | | |" % (name[p], qd)); continue
          bu = med([float(v.split()[0]) / int(u) * 1e6 for v, u, _ in b])
          au = med([float(v.split()[0]) / int(u) * 1e6 for v, u, _ in a])
          n = sum(int(u) for _, u, _ in a)
          grown = sum(int(x) for _, _, x in a) / n
          runs = " ".join("%.0f" % (float(v.split()[0]) / int(u) * 1e6) for v, u, _ in a)
          print("| %s | %d | %.0f | %.0f (%s) | %.1fx | %.1f KiB |" % (name[p], qd, bu, au, runs, au / bu, grown / 1024))
  print()
  sc = [(p, by[("syscalls", "first", p)][0]) for p in ("ct:1", "qcow2:q1:none") if ("syscalls", "first", p) in by]
  if sc:
      print("System calls per first write (QD1, strace, untimed): " + "; ".join(
          "%s: %.1f KiB in %.1f pwrite, %.1f fdatasync/fsync" % (name[p], int(v.split()[0]) / int(u) / 1024, int(v.split()[1]) / int(u), int(v.split()[2]) / int(u))
          for p, (v, u, _) in sc) + ".")
      print()

  print("### Steady state after every chunk was copied (%d MiB; ratio to 0 snapshots, goal >= 0.95)" % size_mb)
  print()
  print("Medians of %d runs, interleaved, (lowest-highest) run." % max(len(v) for k, v in by.items() if k[0] == "steady"))
  print()
  print("| peer | case | 0 snapshots | 1 snapshot | 32 snapshots | 1 / 0 | 32 / 0 |")
  print("|---|---|---|---|---|---|---|")
  for peer, ids in (("clonetarget", ["ct:0", "ct:1", "ct:2"]), ("qcow2 -t none", ["qcow2:q0:none", "qcow2:q1:none", "qcow2:q32:none"])):
      for case in ("w4k1", "w4k32", "w1m32"):
          vals, cells = [], []
          for p in ids:
              rs = [int(u) / float(v.split()[0]) for v, u, _ in by.get(("steady", case, p), [])]
              vals.append(med(rs))
              unit = "IOPS" if case != "w1m32" else "MiB/s"
              cells.append("%.0f %s (%.0f-%.0f)" % (med(rs), unit, min(rs), max(rs)) if rs else "failed")
          label = {"w4k1": "4k-rand-write QD1", "w4k32": "4k-rand-write QD32", "w1m32": "1M-seq-write QD32"}[case]
          print("| %s | %s | %s | %s | %s | **%.2f** | **%.2f** |" % (peer, label, cells[0], cells[1], cells[2], vals[1] / vals[0], vals[2] / vals[0]))
  print()

  print("### Reading a snapshot LUN against its origin (1 MiB sequential reads, whole volume, MiB/s)")
  print()
  print("| QD | origin v1 | v1@s1 | v32@s1 (oldest of 32) | v1@s1 / origin | v32@s1 / origin |")
  print("|---|---|---|---|---|---|")
  for qd in (1, 32):
      v = [med([int(u) / float(x.split()[0]) for x, u, _ in by.get(("read", "r1m%d" % qd, p), [])]) for p in ("ct:1", "ct:3", "ct:4")]
      print("| %d | %.0f | %.0f | %.0f | %.2f | %.2f |" % (qd, v[0], v[1], v[2], v[1] / v[0], v[2] / v[0]))
  print()

print("### snapshot create (%d MiB volume)" % size_mb)
print()
print("| load | how | n | wall p50 ms | wall p99 ms | wall max ms | writes held p50 ms | held p99 ms | held max ms | origin flush p50 ms | flush p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for load, hows in (("idle", ("cli", "socket")), ("load", ("cli", "socket")), ("offline", ("qcow2",))):
    for how in hows:
        rs = [r for (s, c, _), v in by.items() if s == "create" and c == "%s-%s" % (load, how) for r in v]
        if not rs:
            print("| %s | %s | 0 | failed | | | | | | | |" % (load, how)); continue
        w = [float(v) * 1e3 for v, _, _ in rs]
        h = [int(u) / 1e6 for _, u, _ in rs]
        fl = [int(x) / 1e6 for _, _, x in rs if x not in ("", "None")]
        print("| %s | %s | %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f | %s | %s |" % (
            {"load": "QD32 4k random writes", "idle": "idle", "offline": "image not in use"}[load],
            {"cli": "clonetarget snapshot create (CLI, JVM start)", "socket": "admin socket request", "qcow2": "qemu-img snapshot -c (qcow2, 32 in a row)"}[how],
            len(rs), pct(w, 50), pct(w, 99), max(w), pct(h, 50), pct(h, 99), max(h),
            "%.1f" % pct(fl, 50) if fl else "-", "%.1f" % pct(fl, 99) if fl else "-"))
li = [float(v) for v, _, _ in by.get(("create", "load-iops", "ct:0"), [])]
print()
print("Write load while snapshots were taken: %s IOPS per 20000-write run." % " ".join("%.0f" % x for x in li))
print()

print("### export-diff of a 1%% change against reading the whole volume (%d MiB)" % export_mb)
print()
ch = by.get(("export", "changed", "e"), [("0", "", "")])[0][0]
print("Changed between e@a and e@b: %.1f MiB (%.2f%% of the volume)." % (int(ch) / 2**20, 100.0 * int(ch) / (export_mb << 20)))
print()
print("| operation | seconds (median) | runs | output bytes | MiB/s of volume | vs reading the volume |")
print("|---|---|---|---|---|---|")
ra = med([float(v) for v, _, _ in by.get(("export", "read-all", "e"), [])])
for case, label in (("read-all", "qemu-img convert of the LUN to null-co (whole volume)"), ("inc-socket", "export-diff --from-snap a e@b (admin socket)"),
                    ("inc-cli", "clonetarget snapshot export-diff --from-snap a e@b (CLI, JVM start)"), ("full-socket", "export-diff e@b, full (admin socket)")):
    rs = by.get(("export", case, "e"), [])
    if not rs:
        print("| %s | failed | | | | |" % label); continue
    s = med([float(v) for v, _, _ in rs])
    print("| %s | %.3f | %s | %s | %.0f | %.2fx the time |" % (label, s, " ".join("%.3f" % float(v) for v, _, _ in rs), rs[0][1], export_mb / s, s / ra))
PY
}

echo "## Snapshot benchmarks ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null))"
echo
t_start=$(now)
for ph in $PHASES; do
  log "phase $ph"
  "phase_$ph" || log "phase $ph stopped early (see above)"
done
log "done in $(awk -v a="$t_start" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}') s"
report
