#!/usr/bin/env bash
# bench/run.sh - clonetarget against tgtd (and the jSCSI target, the Java peer) in one run.
#
# Starts each target on loopback with a file LUN on the same file system, warms each up the same
# way, then runs the same client workloads against each, interleaved per case so that machine
# noise hits every peer alike:
#   qemu-img bench: 4 KiB random read and write (strided), 1 MiB sequential read and write
#   iscsi-perf:     4 KiB random read, 1 MiB sequential read (it only reads)
# each at QD1 and QD32, BENCH_REPS times. Prints a table of medians and clonetarget's ratio to
# tgtd, and with --markdown the same as a Markdown table (what docs/performance.md records).
#
# Needs: tgt (tgtd, tgtadm), qemu-utils + qemu-block-extra, libiscsi-bin, maven, a JDK 25.
# Env (defaults): BENCH_DIR (/tmp/clonetarget-bench), BENCH_SIZE_MB (1024), BENCH_REPS (3),
#   BENCH_4K_COUNT (20000), BENCH_1M_COUNT (1024), BENCH_SECS (5, iscsi-perf run time),
#   BENCH_PEERS ("tgtd jscsi clonetarget"), BENCH_PORT_BASE (3360), BENCH_TIMEOUT (120 s per command),
#   BENCH_CASES (all: r4k1 w4k1 r1m1 w1m1 r4k32 w4k32 r1m32 w1m32 p4k1 p1m1 p4k32 p1m32),
#   BENCH_PIN (none): "same" runs every server and every client on CPU 0, "split" the servers on
#   CPU 0 and the clients on CPU 1 (taskset, the same for every peer). On a 2-vCPU VM the QD1
#   rows depend on where the scheduler puts client and server more than on either target:
#   docs/performance.md shows all three placements.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
MARKDOWN=0
[ "${1:-}" = "--markdown" ] && MARKDOWN=1
DIR=${BENCH_DIR:-/tmp/clonetarget-bench}
SIZE_MB=${BENCH_SIZE_MB:-1024}
REPS=${BENCH_REPS:-3}
C4K=${BENCH_4K_COUNT:-20000}
C1M=${BENCH_1M_COUNT:-1024}
SECS=${BENCH_SECS:-5}
PEERS=${BENCH_PEERS:-"tgtd jscsi clonetarget"}
BASE=${BENCH_PORT_BASE:-3360}
TMO=${BENCH_TIMEOUT:-120}
IQN_TGT=iqn.2026-11.io.clonetarget.bench:tgtd
IQN_CT=iqn.2026-11.io.clonetarget.bench:clonetarget
IQN_JS=iqn.2026-11.io.clonetarget.bench:jscsi
RAW=$DIR/raw.tsv
case ${BENCH_PIN:-none} in
  none) SRV=(); CLI=() ;;
  same) SRV=(taskset -c 0); CLI=(taskset -c 0) ;;
  split) SRV=(taskset -c 0); CLI=(taskset -c 1) ;;
  *) echo "BENCH_PIN must be none, same or split, not '$BENCH_PIN'" >&2; exit 2 ;;
esac

. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$DIR"
: >"$RAW"
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

wait_port() { # wait_port PORT: until something listens on it; looks at /proc/net/tcp instead of
  # connecting, because an empty connection crashes jSCSI's accept loop
  local hex; hex=$(printf '%04X' "$1")
  for _ in $(seq 1 300); do
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" {found=1} END {exit !found}' /proc/net/tcp /proc/net/tcp6 && return 0
    sleep 0.2
  done
  return 1
}

port_of() { case $1 in tgtd) echo $((BASE + 1)) ;; clonetarget) echo $((BASE + 2)) ;; jscsi) echo $((BASE + 3)) ;; esac; }
url_of() {
  case $1 in
    tgtd) echo "iscsi://127.0.0.1:$(port_of tgtd)/$IQN_TGT/1" ;;
    clonetarget) echo "iscsi://127.0.0.1:$(port_of clonetarget)/$IQN_CT/0" ;;
    jscsi) echo "iscsi://127.0.0.1:$(port_of jscsi)/$IQN_JS/0" ;;
  esac
}

start_tgtd() {
  local port; port=$(port_of tgtd)
  TGT_CTRL=$port
  rm -f "$DIR/tgtd.img" "$DIR/jscsi.img" "$DIR/jscsi.log"; truncate -s "${SIZE_MB}M" "$DIR/tgtd.img"
  "${SRV[@]}" tgtd -f -C "$TGT_CTRL" --iscsi "portal=127.0.0.1:$port" >"$DIR/tgtd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do tgtadm -C "$TGT_CTRL" --lld iscsi --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
  tgtadm -C "$TGT_CTRL" --lld iscsi --op new --mode target --tid 1 --targetname "$IQN_TGT" &&
  tgtadm -C "$TGT_CTRL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 --bstype rdwr --backing-store "$DIR/tgtd.img" &&
  tgtadm -C "$TGT_CTRL" --lld iscsi --op bind --mode target --tid 1 --initiator-address ALL && wait_port "$port"
}

start_clonetarget() {
  local port jar; port=$(port_of clonetarget); jar=$root/target-server/target/clonetarget.jar
  if [ ! -f "$jar" ]; then "$root/bin/mvn" -q -B -DskipTests package >&2 || return 1; fi
  rm -f "$DIR/clonetarget.img"
  "${SRV[@]}" "$JAVA_BIN" --enable-native-access=ALL-UNNAMED -jar "$jar" serve --listen "127.0.0.1:$port" --target "$IQN_CT" \
    --lun "$DIR/clonetarget.img,size=${SIZE_MB}M" >"$DIR/clonetarget.log" 2>&1 &
  PIDS+=($!)
  wait_port "$port"
}

start_jscsi() {
  local port lib; port=$(port_of jscsi); lib=$DIR/jscsi/lib
  if [ ! -f "$lib/target-2.5.2.jar" ]; then
    mkdir -p "$DIR/jscsi"; cp "$here/jscsi/pom.xml" "$DIR/jscsi/pom.xml"
    (cd "$DIR/jscsi" && timeout 600 env JAVA_HOME="$JAVA_HOME_FOUND" mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib) >&2 || return 1
  fi
  (cd "$DIR/jscsi" && unzip -o -q lib/target-2.5.2.jar jscsi-target.xsd)
  cat >"$DIR/jscsi/bench.xml" <<XML
<?xml version="1.0" encoding="UTF-8" ?>
<configuration xmlns="http://www.jscsi.org/2010-04" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.jscsi.org/2010-04 jscsi-target.xsd">
  <TargetList><Target><TargetName>$IQN_JS</TargetName><TargetAlias>jSCSI bench</TargetAlias>
    <SyncFileStorage><Path>$DIR/jscsi.img</Path><Create size="$(awk -v m="$SIZE_MB" 'BEGIN{print m/1024}')" /></SyncFileStorage>
  </Target></TargetList>
  <GlobalConfig><AllowSloppyNegotiation>true</AllowSloppyNegotiation><Port>$port</Port></GlobalConfig>
</configuration>
XML
  # jSCSI asks on stdin which local address to advertise: answer with the index of 127.0.0.1
  rm -f "$DIR/jscsi/stdin"; mkfifo "$DIR/jscsi/stdin"
  "${SRV[@]}" "$JAVA_BIN" -cp "$lib/*" org.jscsi.target.TargetServer "$DIR/jscsi/jscsi-target.xsd" "$DIR/jscsi/bench.xml" \
    <"$DIR/jscsi/stdin" >>"$DIR/jscsi.log" 2>&1 &
  JSCSI_PID=$!
  PIDS+=($!)
  exec 7>"$DIR/jscsi/stdin"
  local before; before=$(grep -c "Which one should be used?" "$DIR/jscsi.log" 2>/dev/null)
  for _ in $(seq 1 300); do
    [ "$(grep -c "Which one should be used?" "$DIR/jscsi.log" 2>/dev/null)" -gt "${before:-0}" ] && break
    sleep 0.2
  done
  echo "$(sed -n 's/^\[\([0-9]*\)\] 127\.0\.0\.1$/\1/p' "$DIR/jscsi.log" | tail -n 1)" >&7
  wait_port "$port"
}

# record PEER TOOL CASE QD IOPS MIBS STATUS
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RAW"; }

qbench() { # qbench PEER CASE QD SIZE COUNT ARGS...
  local peer=$1 name=$2 qd=$3 bs=$4 cnt=$5; shift 5
  local out secs rc bytes
  out=$(timeout "$TMO" "${CLI[@]}" qemu-img bench -f raw -t none -d "$qd" -c "$cnt" -s "$bs" "$@" "$(url_of "$peer")" 2>&1); rc=$?
  secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
  bytes=$([ "$bs" = 4k ] && echo 4096 || echo 1048576)
  if [ $rc -eq 0 ] && [ -n "$secs" ]; then
    record "$peer" qemu-img-bench "$name" "$qd" "$(awk -v c="$cnt" -v s="$secs" 'BEGIN{printf "%.0f", c/s}')" \
      "$(awk -v c="$cnt" -v s="$secs" -v b="$bytes" 'BEGIN{printf "%.1f", c*b/s/1048576}')" ok
  else
    record "$peer" qemu-img-bench "$name" "$qd" - - "fail(rc=$rc)"
  fi
}

iperf() { # iperf PEER CASE QD BLOCKS [-r]
  local peer=$1 name=$2 qd=$3 nb=$4; shift 4
  local out iops rc
  out=$(timeout $((SECS + 60)) "${CLI[@]}" iscsi-perf -t "$SECS" -m "$qd" -b "$nb" "$@" "$(url_of "$peer")" 2>&1 | tr '\r' '\n'); rc=${PIPESTATUS[0]}
  iops=$(sed -n 's/^iops average \([0-9]*\) .*/\1/p' <<<"$out" | tail -1)
  if [ $rc -eq 0 ] && [ -n "$iops" ]; then
    record "$peer" iscsi-perf "$name" "$qd" "$iops" "$(awk -v i="$iops" -v b=$((nb * 512)) 'BEGIN{printf "%.1f", i*b/1048576}')" ok
  else
    record "$peer" iscsi-perf "$name" "$qd" - - "fail(rc=$rc)"
  fi
}

STRIDE=$((4096 * 65537))
# A peer that died (jSCSI's accept loop can crash on a login) is restarted before its next case.
alive() {
  case $1 in
    jscsi) kill -0 "${JSCSI_PID:-0}" 2>/dev/null ;;
    *) wait_port "$(port_of "$1")" ;;
  esac
}

run_case() { # run_case PEER CASE-ID
  local p=$1
  if ! alive "$p"; then
    log "$p is not running any more; restarting it"
    "start_$p" || return
  fi
  case $2 in
    r4k1) qbench "$p" 4k-rand-read 1 4k "$C4K" -S "$STRIDE" ;;
    w4k1) qbench "$p" 4k-rand-write 1 4k "$C4K" -S "$STRIDE" -w --pattern=165 ;;
    r1m1) qbench "$p" 1M-seq-read 1 1M "$C1M" ;;
    w1m1) qbench "$p" 1M-seq-write 1 1M "$C1M" -w --pattern=90 ;;
    r4k32) qbench "$p" 4k-rand-read 32 4k "$C4K" -S "$STRIDE" ;;
    w4k32) qbench "$p" 4k-rand-write 32 4k "$C4K" -S "$STRIDE" -w --pattern=165 ;;
    r1m32) qbench "$p" 1M-seq-read 32 1M "$C1M" ;;
    w1m32) qbench "$p" 1M-seq-write 32 1M "$C1M" -w --pattern=90 ;;
    p4k1) iperf "$p" 4k-rand-read 1 8 -r ;;
    p1m1) iperf "$p" 1M-seq-read 1 2048 ;;
    p4k32) iperf "$p" 4k-rand-read 32 8 -r ;;
    p1m32) iperf "$p" 1M-seq-read 32 2048 ;;
  esac
}
CASES=${BENCH_CASES:-"r4k1 w4k1 r1m1 w1m1 r4k32 w4k32 r1m32 w1m32 p4k1 p1m1 p4k32 p1m32"}

ACTIVE=""
for p in $PEERS; do
  log "starting $p"
  if "start_$p"; then ACTIVE="$ACTIVE $p"; else log "$p did not start; its column will be empty"; fi
done
for p in $ACTIVE; do
  log "warming up $p (the same untimed runs for every peer)"
  # fill the LUN once so that no peer reads holes, then warm up the code paths
  timeout 600 qemu-img bench -f raw -t none -d 1 -c "$SIZE_MB" -s 1M -w --pattern=1 "$(url_of "$p")" >/dev/null 2>&1
  for c in r4k32 w4k32 r1m32 w1m32 r4k1 w4k1; do
    run_case "$p" "$c" >/dev/null 2>&1
  done
done
: >"$RAW"
for rep in $(seq 1 "$REPS"); do
  for c in $CASES; do
    for p in $ACTIVE; do
      log "rep $rep/$REPS $c $p"
      run_case "$p" "$c"
    done
  done
done

python3 - "$RAW" "$MARKDOWN" "$PEERS" <<'PY'
import sys, statistics, collections
raw, markdown, peers = sys.argv[1], sys.argv[2] == "1", sys.argv[3].split()
rows = [l.rstrip("\n").split("\t") for l in open(raw) if l.strip()]
data = collections.OrderedDict()
for peer, tool, case, qd, iops, mibs, st in rows:
    data.setdefault((tool, case, qd), {}).setdefault(peer, []).append((iops, mibs, st))
def med(runs, i):
    ok = [float(r[i]) for r in runs if r[2] == "ok"]
    return statistics.median(ok) if ok else None
def cell(runs):
    if not runs: return "-"
    iops, mibs = med(runs, 0), med(runs, 1)
    if iops is None: return "failed"
    return "%.0f IOPS %.1f MiB/s" % (iops, mibs) if "4k" in case_name else "%.1f MiB/s" % mibs
names = {"tgtd": "tgtd", "jscsi": "jSCSI 2.5.2", "clonetarget": "clonetarget"}
header = ["tool", "case", "QD"] + [names[p] for p in peers] + ["clonetarget / tgtd"]
lines = []
for (tool, case, qd), by in data.items():
    case_name = case
    r = [tool, case, qd] + [cell(by.get(p)) for p in peers]
    t, c = med(by.get("tgtd", []), 0) if by.get("tgtd") else None, med(by.get("clonetarget", []), 0) if by.get("clonetarget") else None
    r.append("%.2fx" % (c / t) if t and c else "-")
    lines.append(r)
if markdown:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in lines:
        print("| " + " | ".join(r) + " |")
else:
    widths = [max(len(str(x[i])) for x in [header] + lines) for i in range(len(header))]
    for r in [header] + lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
PY
