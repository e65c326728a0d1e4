#!/usr/bin/env bash
# bench/clone.sh - clone benchmarks: hydration against cp, a hydration knob sweep, iSCSI
# throughput of a hydrating and a hydrated clone against a plain file LUN, and the heap a
# 1 TiB clone costs.
#
#   hydration   the same golden image copied by `cp` + `sync` and hydrated by a clone with
#               default settings (timed from resuming a paused clone in a server that is up
#               and idle to the committed end), into the same destination path, alternating, BENCH_REPS
#               times; medians
#   sweep       hydration rate for in-flight x batch size at the default region size, then
#               for region sizes at the default in-flight and batch size (BENCH_SWEEP_MB image)
#   iscsi       qemu-img bench against one server with four LUNs: a plain file (a copy of the
#               image), a fully hydrated clone, a clone hydrating at BENCH_HYDRATING_RATE and a
#               new sparse file; interleaved per case; ratios to the plain and the sparse LUN
#   heap        heap in use after a full GC with a 1 TiB clone (sparse source, paused) minus the
#               same server with a 1 MiB clone
# Prints Markdown tables (what docs/performance.md records).
#
# Needs: qemu-utils + qemu-block-extra, libiscsi-bin, python3, a JDK 25 (with jcmd), the jar
# (bin/mvn -q -DskipTests package).
# Env (defaults): BENCH_DIR (/tmp/clonetarget-clone-bench), BENCH_SIZE_MB (2048),
#   BENCH_SWEEP_MB (1024), BENCH_REPS (5), BENCH_HYDRATING_RATE (32M), BENCH_PAUSE (10 s of
#   quiet before each timed copy), BENCH_SETTLE (10 s after dropping the page cache),
#   BENCH_SECTIONS ("hydration sweep iscsi heap")
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
DIR=${BENCH_DIR:-/tmp/clonetarget-clone-bench}
SIZE_MB=${BENCH_SIZE_MB:-2048}
SWEEP_MB=${BENCH_SWEEP_MB:-1024}
REPS=${BENCH_REPS:-5}
HRATE=${BENCH_HYDRATING_RATE:-32M}
SECTIONS=${BENCH_SECTIONS:-"hydration sweep iscsi heap"}
IQN=iqn.2026-11.io.clonetarget.bench:clones

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
JAR="$root/target-server/target/clonetarget.jar"
[ -f "$JAR" ] || { echo "build the jar first: bin/mvn -q -DskipTests package" >&2; exit 1; }
JCMD="$(dirname "$JAVA_BIN")/jcmd"
CT=("$JAVA_BIN" --enable-native-access=ALL-UNNAMED -jar "$JAR")
log() { printf '[clone-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# settle: no dirty pages left from the previous run, a cold page cache (when allowed), and then
# BENCH_SETTLE more seconds before the timed copy starts. That last wait matters on a VM with
# virtio-balloon free page reporting (these machines): pages freed by drop_caches are handed back
# to the host a few seconds later, and filling them again costs the host a fault each. A copy
# started right after drop_caches reuses unreported pages and ran twice as fast as the same copy
# started 8 s later, so every timed copy (cp and clone alike) starts from the settled state.
COLD=no
PAUSE=${BENCH_PAUSE:-10}
SETTLE=${BENCH_SETTLE:-10}
settle() {
  sleep "$PAUSE"
  sync
  if [ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then COLD=yes; fi
  sleep "$SETTLE"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

# start_server LOG ARGS...: serve in the background; sets SERVER_PID and PORT
start_server() {
  local logf=$1; shift
  "${CT[@]}" serve --listen 127.0.0.1:0 --target "$IQN" --state-dir "$DIR/state" "$@" >"$logf" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if grep -q '^Stop with Ctrl-C' "$logf" 2>/dev/null; then
      PORT=$(sed -n 's/.*is serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logf" | head -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }

# wait_hydrated LOG: until the server logs the committed end of hydration; prints its seconds
wait_hydrated() {
  for _ in $(seq 1 6000); do
    local s
    s=$(sed -n 's/.*hydration complete and committed, \([0-9.]*\) s after open.*/\1/p' "$1" | head -1)
    [ -n "$s" ] && { echo "$s"; return 0; }
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.05
  done
  return 1
}

golden() { # golden PATH MB: random content (nothing sparse, nothing compressible)
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = $(($2 << 20)) ] && return 0
  log "writing a $2 MiB golden image $1"
  head -c $(($2 << 20)) /dev/urandom >"$1.tmp" && sync "$1.tmp" && mv "$1.tmp" "$1"
}

# hydrate SOURCE MB OPTS: one timed hydration of a fresh clone; prints MB/s. The clone opens
# paused; once the server is up and the machine has settled, hydration is resumed, and the time
# runs from the resume to the committed end (status "complete").
hydrate() {
  rm -f "$DIR/dest.img" "$DIR/dest.img.meta"
  start_server "$DIR/hydrate.log" --clone "$1,dest=$DIR/dest.img$3,paused" || return 1
  settle # with the server up and idle: the clone starts from the same state as cp
  local secs
  secs=$(python3 - "$DIR/state/admin.sock" <<'PY'
import json, socket, sys, time
def call(command):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(json.dumps({"command": command}).encode() + b"\n"); s.shutdown(socket.SHUT_WR)
    return json.loads(b"".join(iter(lambda: s.recv(65536), b"")))["result"]
t0 = time.monotonic()
call("clone-resume")
while not call("clone-status")[0]["complete"]:
    time.sleep(0.02)
print("%.3f" % (time.monotonic() - t0))
PY
) || { stop_server; return 1; }
  stop_server
  awk -v mb="$2" -v s="$secs" 'BEGIN {printf "%.0f", mb * 1.048576 / s}'
}

section_hydration() {
  golden "$DIR/golden.img" "$SIZE_MB"
  local cps=() cts=()
  for rep in $(seq 1 "$REPS"); do
    # cp writes the very file the clone will write next: on a thin-provisioned virtual disk where
    # a file lands matters as much as how it is written
    rm -f "$DIR/dest.img" "$DIR/dest.img.meta"; settle
    local t0 t1; t0=$(now); cp "$DIR/golden.img" "$DIR/dest.img" && sync "$DIR/dest.img"; t1=$(now)
    cps+=("$(awk -v mb="$SIZE_MB" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", mb * 1.048576 / (b - a)}')")
    cts+=("$(hydrate "$DIR/golden.img" "$SIZE_MB" "")")
    log "hydration rep $rep: cp ${cps[-1]} MB/s, clone ${cts[-1]} MB/s"
  done
  local cp ct; cp=$(printf '%s\n' "${cps[@]}" | median); ct=$(printf '%s\n' "${cts[@]}" | median)
  echo
  echo "### Hydration against cp ($SIZE_MB MiB, default settings, median of $REPS, cold page cache: $COLD)"
  echo
  echo "| copy | MB/s | runs (MB/s) |"
  echo "|---|---|---|"
  echo "| cp + sync | $cp | ${cps[*]} |"
  echo "| clone hydration (resume to committed end) | $ct | ${cts[*]} |"
  echo "| **clone / cp** | $(awk -v a="$ct" -v b="$cp" 'BEGIN {printf "%.2f", a / b}') | |"
}

section_sweep() {
  golden "$DIR/sweep.img" "$SWEEP_MB"
  echo
  echo "### Hydration rate (MB/s) by in-flight copies and batch size, region 64K ($SWEEP_MB MiB)"
  echo
  local batches="1 4 16 64"
  printf '| in-flight \\ batch |'; for b in $batches; do printf ' %s |' "$b"; done; echo
  printf '|---|'; for _ in $batches; do printf -- '---|'; done; echo
  for f in 1 2 4 8; do
    printf '| %s |' "$f"
    for b in $batches; do
      local r; r=$(hydrate "$DIR/sweep.img" "$SWEEP_MB" ",in-flight=$f,batch=$b")
      log "sweep in-flight=$f batch=$b: $r MB/s"
      printf ' %s |' "$r"
    done
    echo
  done
  echo
  echo "### Hydration rate (MB/s) by region size (in-flight 4, batch 16)"
  echo
  echo "| region | MB/s | metadata file |"
  echo "|---|---|---|"
  for region in 4K 16K 64K 256K 1M 4M; do
    local r; r=$(hydrate "$DIR/sweep.img" "$SWEEP_MB" ",region=$region")
    log "sweep region=$region: $r MB/s"
    echo "| $region | $r | $(stat -c %s "$DIR/dest.img.meta" | awk '{printf "%.0f KiB", $1 / 1024}') |"
  done
}

# qbench URL ARGS...: MB/s (or IOPS with -i) of one qemu-img bench run
qbench() {
  local mode=$1 url=$2; shift 2
  local out; out=$(timeout 300 qemu-img bench -f raw -t none "$@" "$url" 2>&1) || { echo fail; return; }
  local secs; secs=$(sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
  local count size; count=$(sed -n 's/.*Sending \([0-9]*\) .*requests.*/\1/p' <<<"$out"); size=$(sed -n 's/.*requests, \([0-9]*\) bytes each.*/\1/p' <<<"$out")
  if [ "$mode" = iops ]; then awk -v c="$count" -v s="$secs" 'BEGIN {printf "%.0f", c / s}'
  else awk -v c="$count" -v b="$size" -v s="$secs" 'BEGIN {printf "%.0f", c * b / 1048576 / s}'; fi
}

admin() { # admin COMMAND [NAME]: one request to the running server's admin socket; prints the result
  python3 - "$DIR/state/admin.sock" "$@" <<'PY'
import json, socket, sys
req = {"command": sys.argv[2]}
if len(sys.argv) > 3: req["name"] = sys.argv[3]
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(json.dumps(req).encode() + b"\n"); s.shutdown(socket.SHUT_WR)
print(json.dumps(json.loads(b"".join(iter(lambda: s.recv(65536), b"")))["result"]))
PY
}

section_iscsi() {
  golden "$DIR/golden.img" "$SIZE_MB"
  log "preparing: a plain copy and a hydrated clone"
  cp "$DIR/golden.img" "$DIR/plain.img"
  rm -f "$DIR/hydrated.img" "$DIR/hydrated.img.meta"
  start_server "$DIR/prep.log" --clone "$DIR/golden.img,dest=$DIR/hydrated.img" || return 1
  wait_hydrated "$DIR/prep.log" >/dev/null; stop_server
  settle
  local stride=$((4096 * 65537)) # 4 KiB requests scattered over the disk, as in bench/run.sh
  local -A res=()
  local cases=("4k-rand-read:iops:-d 32 -c 200000 -s 4096 -S $stride" "4k-rand-write:iops:-w -d 32 -c 200000 -s 4096 -S $stride"
    "1M-seq-read:mbs:-d 32 -c 8192 -s 1M" "1M-seq-write:mbs:-w -d 32 -c 8192 -s 1M")
  local hydrated_at_end=()
  for rep in $(seq 1 "$REPS"); do
    for c in "${cases[@]}"; do
      IFS=: read -r name mode args <<<"$c"
      # every case starts, in a new server, a new hydrating clone (writes hydrate what they touch)
      # and a new sparse file (the plain counterpart of a destination nobody has written yet)
      rm -f "$DIR/hydrating.img" "$DIR/hydrating.img.meta" "$DIR/fresh.img"; sync
      start_server "$DIR/iscsi.log" --lun "$DIR/plain.img" --clone "$DIR/golden.img,dest=$DIR/hydrated.img" \
        --clone "$DIR/golden.img,dest=$DIR/hydrating.img,rate=$HRATE,paused" --lun "$DIR/fresh.img,size=${SIZE_MB}M" || return 1
      local base="iscsi://127.0.0.1:$PORT/$IQN"
      for lun in 0 1 2 3; do # warm-up: reads everywhere; writes (JIT) only where they change no state
        qemu-img bench -f raw -t none -d 32 -c 20000 -s 4096 -S $stride "$base/$lun" >/dev/null 2>&1
        qemu-img bench -f raw -t none -d 32 -c 512 -s 1M "$base/$lun" >/dev/null 2>&1
        if [ "$lun" -lt 2 ]; then
          qemu-img bench -f raw -t none -w -d 32 -c 20000 -s 4096 -S $stride "$base/$lun" >/dev/null 2>&1
          qemu-img bench -f raw -t none -w -d 32 -c 512 -s 1M "$base/$lun" >/dev/null 2>&1
        fi
      done
      for lun in $(case $((rep % 4)) in 1) echo 0 1 2 3 ;; 2) echo 1 2 3 0 ;; 3) echo 2 3 0 1 ;; *) echo 3 0 1 2 ;; esac); do # rotate
        sync # no write-back of the previous run's data during this one
        # the hydrating clone hydrates in the background only during its own runs
        if [ "$lun" = 2 ]; then admin clone-resume lun2 >/dev/null; else admin clone-pause lun2 >/dev/null; fi
        # shellcheck disable=SC2086
        res[$name,$lun]+="$(qbench "$mode" "$base/$lun" $args) "
      done
      hydrated_at_end+=("$(admin clone-status lun2 | python3 -c 'import json,sys; c = json.load(sys.stdin)[0]; print("%.0f%%" % (100.0 * c["hydrated_regions"] / c["regions"]))')")
      stop_server
      log "iscsi rep $rep $name: ${res[$name,0]}| ${res[$name,1]}| ${res[$name,2]}| ${res[$name,3]}| hydrating clone ended ${hydrated_at_end[-1]}"
    done
  done
  echo
  echo "### iSCSI throughput: clones against file LUNs (qemu-img bench, QD32, median of $REPS)"
  echo
  echo "One server, four LUNs of $SIZE_MB MiB: a plain file (fully written), a fully hydrated clone, a clone"
  echo "hydrating at $HRATE/s, and a new sparse file. The last two are new for every case, so reads meet"
  echo "unhydrated regions and writes copy before writing into a destination nobody has written yet; the"
  echo "new sparse file is the plain counterpart of that destination. The hydrating clone hydrates in the"
  echo "background only during its own runs. Hydrated share of it after each case, in order:"
  echo "${hydrated_at_end[*]}."
  echo
  echo "| case | plain file | hydrated clone | hydrating clone | new sparse file | hydrated / plain | hydrating / plain | hydrating / new sparse |"
  echo "|---|---|---|---|---|---|---|---|"
  for c in "${cases[@]}"; do
    IFS=: read -r name mode _ <<<"$c"
    local unit; [ "$mode" = iops ] && unit=IOPS || unit=MiB/s
    local p h g f
    p=$(tr ' ' '\n' <<<"${res[$name,0]}" | grep -v '^$' | median)
    h=$(tr ' ' '\n' <<<"${res[$name,1]}" | grep -v '^$' | median)
    g=$(tr ' ' '\n' <<<"${res[$name,2]}" | grep -v '^$' | median)
    f=$(tr ' ' '\n' <<<"${res[$name,3]}" | grep -v '^$' | median)
    echo "| $name | $p $unit | $h $unit | $g $unit | $f $unit | $(awk -v a="$h" -v b="$p" 'BEGIN {printf "%.2f", a / b}') | $(awk -v a="$g" -v b="$p" 'BEGIN {printf "%.2f", a / b}') | $(awk -v a="$g" -v b="$f" 'BEGIN {printf "%.2f", a / b}') |"
  done
}

heap_used_kib() { # the heap in use after a full GC, KiB
  "$JCMD" "$SERVER_PID" GC.run >/dev/null
  "$JCMD" "$SERVER_PID" GC.heap_info | sed -n 's/.* used \([0-9]*\)K.*/\1/p' | head -1
}

section_heap() {
  rm -f "$DIR/huge.img" "$DIR/huge-clone.img" "$DIR/huge-clone.img.meta" "$DIR/tiny.img" "$DIR/tiny-clone.img" "$DIR/tiny-clone.img.meta"
  truncate -s 1T "$DIR/huge.img"
  truncate -s 1M "$DIR/tiny.img"
  local small big t0 t1
  start_server "$DIR/heap-tiny.log" --clone "$DIR/tiny.img,dest=$DIR/tiny-clone.img,paused" || return 1
  sleep 1; small=$(heap_used_kib); stop_server
  t0=$(now)
  start_server "$DIR/heap-huge.log" --clone "$DIR/huge.img,dest=$DIR/huge-clone.img,paused" || return 1
  t1=$(now)
  sleep 1; big=$(heap_used_kib); stop_server
  local meta; meta=$(stat -c %s "$DIR/huge-clone.img.meta")
  echo
  echo "### Memory of a 1 TiB clone (region 64K: 16777216 regions)"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| heap in use after a full GC, 1 MiB clone | $small KiB |"
  echo "| heap in use after a full GC, 1 TiB clone | $big KiB |"
  echo "| **cost of the 1 TiB clone** | $(awk -v a="$big" -v b="$small" 'BEGIN {printf "%.1f MiB", (a - b) / 1024}') |"
  echo "| metadata file | $(awk -v m="$meta" 'BEGIN {printf "%.1f MiB", m / 1048576}') |"
  echo "| server start with a new 1 TiB clone (JVM start, metadata format, listen) | $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f s", b - a}') |"
  rm -f "$DIR/huge.img" "$DIR/huge-clone.img" "$DIR/huge-clone.img.meta"
}

echo "## Clone benchmarks ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r))"
for s in $SECTIONS; do
  log "section $s"
  "section_$s"
done
