#!/usr/bin/env bash
# test/rescan/run.sh - live LUN mapping with the real Linux kernel initiator (see README.md).
#
# Boots vm-initiator's Debian 12 VM (QEMU, TCG here; no NIC, guest loopback only), starts
# clonetarget in it with a state dir and the admin API off (the CLI uses the admin socket), logs
# in with open-iscsi, then maps LUN 1 live (`clonetarget lun map`) and waits for the new disk
# without a new login, does O_DIRECT I/O on it, unmaps it (`lun unmap --force`) and records what
# the kernel does, maps it again, unmaps it and removes the disk the way a host has to. Everything
# the guest does is in guest/rescan-test.sh.
#
# usage: test/rescan/run.sh [options]
#   --runs N          boot the VM N times, one test per boot (default 1)
#   --observe SEC     how long to watch the host after the unmap before touching it (default 30)
#   --no-udev         no udevd in the guest (wait on sysfs only, no /dev/disk/by-path)
#   --no-remap        skip steps 5 and 6 (map LUN 1 again, unmap and remove it at once)
#   --remove-with M   how step 6 removes the unmapped disk: delete (echo 1 > .../delete, default)
#                     or rescan-scsi-bus (sg3-utils' rescan-scsi-bus.sh -r)
#   --test NAME       the guest script: rescan (guest/rescan-test.sh, default) or snapmount
#                     (guest/snapmount-test.sh: ext4 on a volume with snapshots, fsfreeze, snapshot,
#                     the snapshot mapped live as LUN 1, e2fsck and mounted read-only; it prints the
#                     same RESCAN: / RESCAN-RESULT: verdict lines) or offload (guest/offload-test.sh:
#                     persistent reservations from two initiator names with sg_persist, APTPL
#                     across a kill -9 and restart, sg_xcopy, ddpt ODX and ddpt xcopy between
#                     LUN 0 and LUN 1; needs ddpt in the image, which run.sh then adds to
#                     VM_EXTRA_PACKAGES, and its image lives in /tmp/vmtest-offload unless
#                     VMTEST_DIR is set, so the shared image is not rebuilt back and forth) or
#                     multipath (guest/multipath-test.sh: one LUN on two portals, two sessions,
#                     dm-multipath with ALUA, ext4 with a writer while each portal in turn is cut
#                     off by an nft drop rule for 20 s; it needs multipath-tools and nftables, which
#                     run.sh adds, and uses /tmp/vmtest-multipath unless VMTEST_DIR is set)
#   --env NAME=VALUE  extra setting for the guest script (repeatable; see its header)
#   --project DIR     clonetarget checkout whose bin/ and target-server/target/clonetarget.jar are
#                     copied into the run and shared read-only with the guest (default: this one;
#                     the jar is built first when missing or older than the sources)
#   --jdk DIR         JDK shared with the guest (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   --out DIR         results (default $VMTEST_DIR/rescan/<date>-<pid>)
#   --timeout SEC     hard limit per boot (default 600; the guest watchdog fires 45 s earlier)
#   --mem MB          guest memory (default 3072)
#   --accel auto|kvm|tcg
#   --verbose         stream the guest's output while it runs
# env: VMTEST_DIR (vm-initiator's cache, default /tmp/vmtest), VM_TOOLS (the vm-initiator dir)
# Prints each boot's "RESCAN: ..." verdict and, last, "RESCAN-RUNS: runs=N passed=N failed=N".
# Exit 0 only when every boot passed; 1 when a check failed; 2 when a boot gave no verdict.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VMTEST_DIR_SET=${VMTEST_DIR:+1}
VMTEST_DIR=${VMTEST_DIR:-/tmp/vmtest}
JDK=/usr/lib/jvm/temurin-25-jdk-amd64
PROJECT=$ROOT
OUT=""
RUNS=1
TIMEOUT=600
MEM=3072
ACCEL_MODE=${VM_ACCEL:-auto}
VERBOSE=0
ENVS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --observe) ENVS+=("OBSERVE_SECONDS=$2"); shift 2 ;;
    --no-udev) ENVS+=("UDEV=0"); shift ;;
    --no-remap) ENVS+=("REMAP=0"); shift ;;
    --remove-with) ENVS+=("REMOVE_WITH=$2"); shift 2 ;;
    --env) ENVS+=("$2"); shift 2 ;;
    --test) ENVS+=("TEST=$2"); TEST=$2; shift 2 ;;
    --project) PROJECT=$2; shift 2 ;;
    --jdk) JDK=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --accel) ACCEL_MODE=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    -h|--help) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done
log() { printf '[rescan %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf '[rescan] ERROR: %s\n' "$*" >&2; exit 2; }
for e in "${ENVS[@]+"${ENVS[@]}"}"; do case "$e" in [A-Za-z_]*=*) ;; *) die "bad --env '$e'" ;; esac; done

if [ -z "${VM_TOOLS:-}" ]; then
  for d in "$ROOT/../shared/tools/vm-initiator" /work/shared/tools/vm-initiator; do
    [ -x "$d/build-image.sh" ] && { VM_TOOLS=$d; break; }
  done
fi
case "${TEST:-rescan}" in
  rescan|snapmount) ;;
  offload)  # sg3-utils is in vm-initiator's image, ddpt is not
    case ",${VM_EXTRA_PACKAGES:-}," in *,ddpt,*) ;; *) export VM_EXTRA_PACKAGES=${VM_EXTRA_PACKAGES:+$VM_EXTRA_PACKAGES,}ddpt ;; esac
    [ -n "$VMTEST_DIR_SET" ] || VMTEST_DIR=/tmp/vmtest-offload
    export VMTEST_DIR ;;
  multipath)  # dm-multipath and nft are not in vm-initiator's image
    for p in multipath-tools nftables; do
      case ",${VM_EXTRA_PACKAGES:-}," in *,$p,*) ;; *) VM_EXTRA_PACKAGES=${VM_EXTRA_PACKAGES:+$VM_EXTRA_PACKAGES,}$p ;; esac
    done
    export VM_EXTRA_PACKAGES
    [ -n "$VMTEST_DIR_SET" ] || VMTEST_DIR=/tmp/vmtest-multipath
    export VMTEST_DIR ;;
  *) echo "unknown --test '$TEST' (rescan, snapmount, offload or multipath)" >&2; exit 64 ;;
esac
[ -x "${VM_TOOLS:-}/build-image.sh" ] || die "vm-initiator not found (set VM_TOOLS)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
[ -x "$JDK/bin/java" ] || die "no JDK at $JDK (--jdk)"
JDK=$(cd "$JDK" && pwd -P)

T0=$(date +%s)
"$VM_TOOLS/build-image.sh" | tail -n 1
IMG=$VMTEST_DIR/image
for f in vmlinuz initrd.img rootfs.img; do [ -f "$IMG/$f" ] || die "missing $IMG/$f"; done

# the jar: build it when missing or older than the sources, then copy it (and bin/) into the run,
# so that a build in the checkout while the VM runs cannot change what the guest executes
PROJECT=$(cd "$PROJECT" && pwd -P)
JAR=$PROJECT/target-server/target/clonetarget.jar
if [ ! -f "$JAR" ] || [ -n "$(find "$PROJECT/pom.xml" "$PROJECT"/*/pom.xml "$PROJECT"/*/src/main -newer "$JAR" -print -quit 2>/dev/null)" ]; then
  log "building clonetarget in $PROJECT"
  (cd "$PROJECT" && JAVA_HOME=$JDK PATH=$JDK/bin:$PATH bin/mvn -o -q -B -DskipTests package)
fi
[ -x "$PROJECT/bin/clonetarget" ] || die "$PROJECT/bin/clonetarget missing"
COMMIT=$(git -C "$PROJECT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$PROJECT" status --porcelain --untracked-files=no -- target-server storage-core config bin 2>/dev/null | head -c 1 || true)
OUT=${OUT:-$VMTEST_DIR/rescan/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
STAGE=$OUT/project
mkdir -p "$STAGE/target-server/target"
cp -a "$PROJECT/bin" "$STAGE/"
cp "$JAR" "$STAGE/target-server/target/clonetarget.jar"
echo "$COMMIT${DIRTY:+ (working tree has changes)}" > "$STAGE/COMMIT"
log "clonetarget $COMMIT${DIRTY:+ (working tree has changes)} from $PROJECT (jar $(sha256sum "$JAR" | cut -c1-12)); results in $OUT"

case "$ACCEL_MODE" in
  auto)
    if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL_MODE=kvm; else ACCEL_MODE=tcg; fi ;;
  kvm|tcg) ;;
  *) die "--accel must be auto, kvm or tcg" ;;
esac
if [ "$ACCEL_MODE" = kvm ]; then ACCEL=(-enable-kvm -cpu host); else ACCEL=(-accel tcg,thread=multi,tb-size=256 -cpu max); fi
GUEST_TIMEOUT=$(( TIMEOUT - 45 ))

QPID=""; TAILPID=""; QPIDFILE=""; RUNTMP=""
cleanup() {
  [ -n "$TAILPID" ] && { kill "$TAILPID" 2>/dev/null; wait "$TAILPID" 2>/dev/null; } || true
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill -TERM "$QPID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
  fi
  local qp; qp=$(cat "$QPIDFILE" 2>/dev/null || true)
  if [ -n "$qp" ] && grep -qa qemu-system "/proc/$qp/cmdline" 2>/dev/null; then
    kill -TERM "$qp" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$qp" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$qp" 2>/dev/null || true
  fi
  [ -n "$RUNTMP" ] && rm -rf "$RUNTMP"
  QPID=""; TAILPID=""
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

log "setup $(( $(date +%s) - T0 )) s; $ACCEL_MODE, 2 vCPU, $MEM MiB, $RUNS run(s), timeout ${TIMEOUT}s each"
PASSED=0; FAILED=0; NOVERDICT=0
VERDICTS=()
for run in $(seq 1 "$RUNS"); do
  RD=$OUT/run$(printf %02d "$run")
  GOUT=$RD/guest
  mkdir -p "$GOUT"
  RUNTMP=$RD/tmp; mkdir -p "$RUNTMP"
  {
    printf 'GUEST_TIMEOUT=%q\n' "$GUEST_TIMEOUT"
    printf 'GUEST_MOUNTS=%q\n' "jdk:$JDK project:/project"
    printf 'JAVA_HOME=%q\n' "$JDK"
    for e in "${ENVS[@]+"${ENVS[@]}"}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
  } > "$GOUT/run.env"
  QPIDFILE=$RD/qemu.pid
  QEMU=(qemu-system-x86_64 "${ACCEL[@]}" -machine q35 -smp 2 -m "$MEM"
        -nodefaults -no-user-config -display none -vga none -no-reboot -nic none
        -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "console=ttyS0,115200 panic=1 loglevel=4 quiet"
        -drive "file=$IMG/rootfs.img,if=virtio,format=raw,snapshot=on,cache=unsafe"
        -device virtio-rng-pci -pidfile "$QPIDFILE"
        -chardev "file,id=ser0,path=$RD/console.log" -serial chardev:ser0
        -virtfs "local,path=$HERE/guest,mount_tag=harness,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$GOUT,mount_tag=out,security_model=none,multidevs=remap"
        -virtfs "local,path=$JDK,mount_tag=jdk,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$STAGE,mount_tag=project,security_model=none,readonly=on,multidevs=remap")
  printf '%q ' "${QEMU[@]}" > "$RD/qemu-cmdline.txt"; echo >> "$RD/qemu-cmdline.txt"
  : > "$RD/console.log"
  log "run $run/$RUNS: booting ($RD)"
  TB=$(date +%s.%N)
  # QEMU's snapshot=on overlay goes to TMPDIR: the run's tmp/, removed afterwards
  TMPDIR=$RUNTMP timeout --kill-after=10 "$TIMEOUT" "${QEMU[@]}" < /dev/null > "$RD/qemu.log" 2>&1 &
  QPID=$!
  if [ "$VERBOSE" = 1 ]; then tail -n +1 -F "$RD/console.log" 2>/dev/null & TAILPID=$!; fi
  set +e; wait "$QPID"; QRC=$?; set -e
  QPID=""
  TE=$(date +%s.%N)
  cleanup
  RUNTMP=""
  [ "$QRC" = 124 ] || [ "$QRC" = 137 ] && log "run $run: VM hit the ${TIMEOUT}s timeout and was killed"
  [ -s "$RD/qemu.log" ] && sed 's/^/  qemu: /' "$RD/qemu.log"
  if [ "$VERBOSE" = 0 ]; then
    if [ -f "$GOUT/test.log" ]; then grep -a -v '^RESCAN' "$GOUT/test.log" | sed 's/^/  /'; else tail -n 30 "$RD/console.log"; fi
  fi
  V=$(grep -a '^RESCAN: ' "$GOUT/test.log" 2>/dev/null | tail -n 1 || true)
  [ -n "$V" ] || V=$(grep -a -o 'RESCAN: .*' "$RD/console.log" | tail -n 1 || true)
  R=$(grep -a '^RESCAN-RESULT: ' "$GOUT/test.log" 2>/dev/null | tail -n 1 || true)
  WALL=$(awk -v a="$TB" -v b="$TE" 'BEGIN{printf "%.0f", b-a}')
  grep -a '^RESCAN-[A-Z]*: ' "$GOUT/test.log" 2>/dev/null | grep -av '^RESCAN-RESULT: ' || true
  echo "${V:-RESCAN: no verdict (see $RD/console.log)}"
  echo "${R:-RESCAN-RESULT: FAIL no result line}"
  log "run $run: VM ${WALL} s (boot to power-off) [qemu rc=$QRC]"
  VERDICTS+=("run $run (${WALL} s): ${V:-no verdict}")
  case "$R" in
    "RESCAN-RESULT: PASS"*) PASSED=$((PASSED+1)) ;;
    "RESCAN-RESULT: FAIL"*) FAILED=$((FAILED+1)) ;;
    *) FAILED=$((FAILED+1)); NOVERDICT=$((NOVERDICT+1)) ;;
  esac
done
trap - EXIT
if [ "$RUNS" -gt 1 ]; then printf '%s\n' "${VERDICTS[@]}"; fi
log "total $(( $(date +%s) - T0 )) s; results in $OUT"
echo "RESCAN-RUNS: runs=$RUNS passed=$PASSED failed=$FAILED"
[ "$FAILED" = 0 ] && exit 0
[ "$NOVERDICT" -gt 0 ] && exit 2
exit 1
