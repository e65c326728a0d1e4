#!/usr/bin/env bash
# bench/copy.sh - a copy of one LUN onto another of the same target, five ways, in one run:
#
#   qemu-img convert      reads and writes through the initiator (the baseline)
#   qemu-img convert -C   QEMU's own copy offload: it sends EXTENDED COPY to the target
#   EXTENDED COPY         bench/iscsi_copy.py xcopy: LID1 segments, 256 MiB per command
#   ODX                   bench/iscsi_copy.py odx: POPULATE TOKEN + WRITE USING TOKEN, 64 MiB
#                         per token (Windows' default optimal transfer), as Windows sends them
#   tgtd convert          the same qemu-img convert between two tgtd LUNs (tgt has neither
#                         EXTENDED COPY nor ODX): the peer
#
# The source is BENCH_SIZE_MB of random data; before every timed copy the destination's blocks
# are deallocated, dirty pages written, the page cache dropped (when allowed) and the machine
# left BENCH_SETTLE s; after it, the destination file is compared with the source (cmp). Cases
# are interleaved, BENCH_REPS rounds; medians. Prints a Markdown table (docs/performance.md).
#
# Needs: qemu-utils + qemu-block-extra, python3, tgt (for the peer row; skipped without it),
# a JDK 25, the jar (bin/mvn -q -DskipTests package).
# Env (defaults): BENCH_DIR (/tmp/clonetarget-copy-bench), BENCH_SIZE_MB (1024), BENCH_REPS (3),
#   BENCH_SETTLE (5)
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
DIR=${BENCH_DIR:-/tmp/clonetarget-copy-bench}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
SETTLE=${BENCH_SETTLE:-5}
IQN=iqn.2026-12.io.clonetarget.bench:copy
TOOLS=/work/shared/tools
[ -d "$TOOLS" ] || TOOLS="$root/../shared/tools"

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
JAR="$root/target-server/target/clonetarget.jar"
[ -f "$JAR" ] || { echo "build the jar first: bin/mvn -q -DskipTests package" >&2; exit 1; }
log() { printf '[copy-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"
SERVER_PID=
TGT=no
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  if [ "$TGT" = yes ]; then
    TGT_DIR="$DIR/tgt-a" "$TOOLS/tgtd-down.sh" 3391 >/dev/null 2>&1
    TGT_DIR="$DIR/tgt-b" "$TOOLS/tgtd-down.sh" 3392 >/dev/null 2>&1
  fi
  wait 2>/dev/null
}
trap cleanup EXIT

# (settle runs in the subshell of each timed copy: whether the cache can be dropped is found here)
COLD=no
if [ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then COLD=yes; fi
settle() {
  sync
  [ "$COLD" = yes ] && echo 3 >/proc/sys/vm/drop_caches
  sleep "$SETTLE"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

src="$DIR/source.img"
dst="$DIR/dest.img"
bytes=$((SIZE_MB << 20))
if ! [ -f "$src" ] || [ "$(stat -c %s "$src")" != "$bytes" ]; then
  log "writing $SIZE_MB MiB of random data to $src"
  head -c "$bytes" /dev/urandom >"$src.tmp" && sync "$src.tmp" && mv "$src.tmp" "$src"
fi
rm -f "$dst"
truncate -s "$bytes" "$dst"

log "starting clonetarget: LUN 0 = source, LUN 1 = destination"
"$JAVA_BIN" --enable-native-access=ALL-UNNAMED -jar "$JAR" serve --listen 127.0.0.1:0 --target "$IQN" \
  --state-dir "$DIR/state" --admin-listen off --lun "$src" --lun "$dst" >"$DIR/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 1 600); do
  PORT=$(sed -n 's/.*is serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$DIR/server.log" | head -1)
  [ -n "$PORT" ] && grep -q '^Stop with Ctrl-C' "$DIR/server.log" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the server did not start" >&2; exit 1; }
URL="iscsi://127.0.0.1:$PORT/$IQN"

if command -v tgtd >/dev/null; then
  log "starting two tgtd instances for the peer row"
  cp --sparse=never "$src" "$DIR/tgt-source.img"
  rm -f "$DIR/tgt-dest.img"; truncate -s "$bytes" "$DIR/tgt-dest.img"
  TGT_A=$(TGT_DIR="$DIR/tgt-a" TGT_BACKING="$DIR/tgt-source.img" TGT_SIZE="${SIZE_MB}M" "$TOOLS/tgtd-up.sh" 3391 | tail -1)
  TGT_B=$(TGT_DIR="$DIR/tgt-b" TGT_BACKING="$DIR/tgt-dest.img" TGT_SIZE="${SIZE_MB}M" "$TOOLS/tgtd-up.sh" 3392 | tail -1)
  TGT=yes
fi

# run CASE: one timed copy; prints seconds (and fails loudly if the copy is wrong)
run() {
  local case=$1 target=$dst source=$src t0 t1
  [ "$case" = tgtd ] && { target="$DIR/tgt-dest.img"; source="$DIR/tgt-source.img"; }
  fallocate -p -o 0 -l "$bytes" "$target"
  settle
  t0=$(now)
  case $case in
    convert) qemu-img convert -n -f raw -O raw "$URL/0" "$URL/1" ;;
    convert-C) qemu-img convert -C -n -f raw -O raw "$URL/0" "$URL/1" ;;
    xcopy) python3 "$here/iscsi_copy.py" "127.0.0.1:$PORT" "$IQN" 0 1 xcopy >/dev/null ;;
    odx) python3 "$here/iscsi_copy.py" "127.0.0.1:$PORT" "$IQN" 0 1 odx --chunk $((64 << 20)) >/dev/null ;;
    tgtd) qemu-img convert -n -f raw -O raw "$TGT_A" "$TGT_B" ;;
  esac || { echo "$case: the copy failed" >&2; return 1; }
  t1=$(now)
  cmp -s "$source" "$target" || { echo "$case: the destination differs from the source" >&2; return 1; }
  echo "$t1 - $t0" | bc -l
}

cases="convert convert-C xcopy odx"
[ "$TGT" = yes ] && cases="$cases tgtd"
declare -A secs
for r in $(seq 1 "$REPS"); do
  for c in $cases; do
    s=$(run "$c") || exit 1
    log "round $r $c: $s s"
    secs[$c]="${secs[$c]:-} $s"
  done
done

base=$(echo "${secs[convert]}" | tr ' ' '\n' | grep . | median)
echo
echo "Copy of a $SIZE_MB MiB LUN onto another LUN of the same target, ext4, cold page cache: $COLD,"
echo "$REPS interleaved rounds, medians (every copy compared with its source afterwards)."
echo
echo "| how | s | MiB/s | speed vs qemu-img convert |"
echo "|---|---|---|---|"
for c in $cases; do
  m=$(echo "${secs[$c]}" | tr ' ' '\n' | grep . | median)
  name=$c
  case $c in
    convert) name="qemu-img convert (reads and writes)" ;;
    convert-C) name="qemu-img convert -C (QEMU sends EXTENDED COPY)" ;;
    xcopy) name="EXTENDED COPY, 256 MiB per command" ;;
    odx) name="ODX, 64 MiB per token" ;;
    tgtd) name="tgtd: qemu-img convert (no offload there)" ;;
  esac
  printf '| %s | %.2f | %.0f | %.2fx |\n' "$name" "$m" "$(echo "$SIZE_MB / $m" | bc -l)" "$(echo "$base / $m" | bc -l)"
done
