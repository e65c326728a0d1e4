#!/usr/bin/env bash
# test/powercut/run.sh - real power-cut test of clonetarget (see docs/powercut.md).
#
# The target runs inside a QEMU VM (vm-initiator's Debian 12 image) with its LUN files and clone
# metadata on a second virtual disk; the kernel iSCSI initiator in the same VM writes stamped
# sectors (plain, FUA, SYNCHRONIZE CACHE) and logs every intent and acknowledgement over 9p; the
# host SIGKILLs QEMU (and nbdkit) at a random moment, boots again and verifies.
#
# usage: test/powercut/run.sh [options]
#   --cuts N             number of power cuts (default 1)
#   --mode M             plain | strict | both (default both: series alternate plain/strict)
#   --kind K             file | clone | both (default both: a file LUN and a hydrating clone LUN
#                        in the same target, both written in every boot) | snapshot (a file LUN
#                        with [volume.snapshots], written in rounds, a snapshot after each round,
#                        older ones deleted; every snapshot image checked after each cut)
#                        | pr (persistent reservations with APTPL=1 changed by two initiators until
#                        the cut; the restored keys and reservation checked after each cut)
#   --snap-limit SIZE    [volume.snapshots] limit with --kind snapshot (default 512M)
#   --delete-cuts F      share of --kind snapshot cuts aimed at a deletion (default 0.4)
#   --pr-aim F           share of --kind pr cuts aimed at a PR OUT in flight (default 0.5)
#   --seed S             master seed (default: random, printed)
#   --sabotage X         none | writer (plain writes logged as FUA, fake syncs: must be caught) |
#                        nobarrier (data disk mounted without flushes: caught in strict mode only) |
#                        build (--project is a sabotaged build made by sabotage-build.sh)
#   --cuts-per-disk K    cuts per fresh data disk (default 4; a series has K+1 boots)
#   --max-delay SEC      the cut comes 0..SEC seconds after the first acknowledged write (default 30)
#   --rate SIZE          clone hydration rate (default 1M, so the clone is still hydrating when cut)
#   --trace              record SCSI/block trace events for 4 s in the first boot (FUA, flushes)
#   --project DIR        clonetarget tree with bin/ and target-server/target/clonetarget.jar
#                        (default: this checkout; built with bin/mvn when the jar is missing)
#   --out DIR            results (default $VMTEST_DIR/powercut/<date>-<pid>)
#   --keep               keep the data disk images even when the run is clean
#   --jdk DIR            JDK shared with the guest (default /usr/lib/jvm/temurin-25-jdk-amd64)
# env: VMTEST_DIR (vm-initiator image cache, default /tmp/vmtest), VM_TOOLS (the vm-initiator dir,
#      default ../shared/tools/vm-initiator next to the checkout or /work/shared/tools/vm-initiator)
# Prints one line per cut ("CUT n: ... OK|FAIL ...") and, last, "POWERCUT: cuts=N lost=N
# metadata-failures=N". Exit 0 only when every cut is clean (with --sabotage: only when caught).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VMTEST_DIR=${VMTEST_DIR:-/tmp/vmtest}
JDK=/usr/lib/jvm/temurin-25-jdk-amd64
PROJECT=$ROOT
OUT=""
KEEP=0
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --project) PROJECT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --jdk) JDK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --trace) PASS+=("$1"); shift ;;
    --cuts|--mode|--kind|--seed|--sabotage|--cuts-per-disk|--max-delay|--rate|--threads|--mem|--boot-timeout|--lun-size|--accel|--snap-limit|--delete-cuts|--pr-aim)
      PASS+=("$1" "$2"); shift 2 ;;
    -h|--help) awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done
log() { printf '[powercut %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf '[powercut] ERROR: %s\n' "$*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (vm-initiator's image build)"

if [ -z "${VM_TOOLS:-}" ]; then
  for d in "$ROOT/../shared/tools/vm-initiator" /work/shared/tools/vm-initiator; do
    [ -x "$d/build-image.sh" ] && { VM_TOOLS=$d; break; }
  done
fi
[ -x "${VM_TOOLS:-}/build-image.sh" ] || die "vm-initiator not found (set VM_TOOLS)"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-io >/dev/null || need+=(qemu-utils)
command -v nbdkit >/dev/null || need+=(nbdkit)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  log "installing host packages: ${need[*]}"
  timeout 120 apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -x "$JDK/bin/java" ] || die "no JDK at $JDK (--jdk)"

T0=$(date +%s)
"$VM_TOOLS/build-image.sh" | tail -n 1
IMG=$VMTEST_DIR/image
for f in vmlinuz initrd.img rootfs.img; do [ -f "$IMG/$f" ] || die "missing $IMG/$f"; done

PROJECT=$(cd "$PROJECT" && pwd -P)
if [ ! -f "$PROJECT/target-server/target/clonetarget.jar" ]; then
  log "building clonetarget in $PROJECT"
  (cd "$PROJECT" && bin/mvn -q -B -DskipTests package)
fi
[ -x "$PROJECT/bin/clonetarget" ] || die "$PROJECT/bin/clonetarget missing"
COMMIT=$(cat "$PROJECT/.powercut-commit" 2>/dev/null || git -C "$PROJECT" rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$PROJECT" status --porcelain --untracked-files=no 2>/dev/null | head -c 1 || true)
log "clonetarget $COMMIT${DIRTY:+ (working tree has changes)} from $PROJECT"

OUT=${OUT:-$VMTEST_DIR/powercut/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$OUT/bin"; OUT=$(cd "$OUT" && pwd)
gcc -O2 -Wall -Wextra -pthread -o "$OUT/bin/pcio" "$HERE/pcio.c"
GOLDEN=$VMTEST_DIR/powercut/golden-256M.img
mkdir -p "$VMTEST_DIR/powercut"
if [ ! -f "$GOLDEN" ] || [ "$GOLDEN" -ot "$HERE/pcio.c" ]; then
  "$OUT/bin/pcio" golden "$GOLDEN.tmp" 256M 0x5EED601D && mv "$GOLDEN.tmp" "$GOLDEN"
fi
log "setup $(( $(date +%s) - T0 )) s; results in $OUT"

set +e
python3 "$HERE/powercut.py" --out "$OUT" --project "$PROJECT" --jdk "$JDK" --image "$IMG" --bindir "$OUT/bin" \
    --golden "$GOLDEN" "${PASS[@]+"${PASS[@]}"}" 2>&1 | tee "$OUT/powercut.log"
RC=${PIPESTATUS[0]}
set -e
if [ "$RC" = 0 ] && [ "$KEEP" = 0 ]; then
  find "$OUT" -name data.img -delete; find "$OUT" -type d -name tmp -exec rm -rf {} + 2>/dev/null || true
  log "clean run: data disk images removed (--keep keeps them)"
else
  log "data disk images kept in $OUT/s*/data.img"
fi
log "total $(( $(date +%s) - T0 )) s, exit $RC"
exit "$RC"
