#!/usr/bin/env bash
# bench/conformance.sh - libiscsi's iscsi-test-cu against clonetarget and tgtd in one run, per
# family, as docs/conformance.md records it.
#
# For each target: the whole suite with two URLs (two initiator names) without the Sanitize
# family, then the Sanitize family with -S and one URL (with two, the suite keeps the second
# session, and the RESERVE(6) Sanitize.Reservations takes from it, into Sanitize.Reset), on a
# 1 GiB file LUN; for clonetarget also a read-only LUN for the ReadOnly family. A test counts
# once, with the outcome of the run that is meant for it.
#
# Needs: libiscsi-bin, tgt, python3, a JDK 25, the jar. Env: BENCH_DIR (/tmp/clonetarget-conformance)
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/.." && pwd)
DIR=${BENCH_DIR:-/tmp/clonetarget-conformance}
TOOLS=/work/shared/tools
[ -d "$TOOLS" ] || TOOLS="$root/../shared/tools"
IQN=iqn.2026-12.io.clonetarget.bench:conformance
. "$root/bin/lib/jdk.sh"
find_jdk || exit 1
JAR="$root/target-server/target/clonetarget.jar"
[ -f "$JAR" ] || { echo "build the jar first: bin/mvn -q -DskipTests package" >&2; exit 1; }
log() { printf '[conformance %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
rm -rf "$DIR"; mkdir -p "$DIR"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  TGT_DIR="$DIR/tgt" "$TOOLS/tgtd-down.sh" 3393 >/dev/null 2>&1
  wait 2>/dev/null
}
trap cleanup EXIT

serve() { # serve NAME ARGS...: prints the port
  "$JAVA_BIN" --enable-native-access=ALL-UNNAMED -jar "$JAR" serve --listen 127.0.0.1:0 --target "$IQN" \
    --state-dir "$DIR/state-$1" --admin-listen off "${@:2}" >"$DIR/server-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    port=$(sed -n 's/.*is serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$DIR/server-$1.log" | head -1)
    if [ -n "$port" ] && grep -q '^Stop with Ctrl-C' "$DIR/server-$1.log"; then echo "$port"; return 0; fi
    sleep 0.1
  done
  return 1
}

# suite NAME PORTAL TARGET LUN: the two runs into NAME-all.tsv and NAME-sanitize.tsv
suite() {
  log "$1: the whole suite, two URLs"
  CONF_FLAGS=-d "$TOOLS/conformance.sh" "$2" "$3" "$4" "$DIR/$1-all" | tail -1 >&2
  log "$1: the Sanitize family, one URL"
  CONF_MPATH=0 CONF_TESTS=ALL.Sanitize CONF_FLAGS="-d -S" "$TOOLS/conformance.sh" "$2" "$3" "$4" \
    "$DIR/$1-sanitize" | tail -1 >&2
}

port=$(serve file --lun "$DIR/file.img,size=1G") || { cat "$DIR/server-file.log" >&2; exit 1; }
suite clonetarget "127.0.0.1:$port" "$IQN" 0
truncate -s 64M "$DIR/ro.img"
port=$(serve ro --lun "$DIR/ro.img,read-only") || exit 1
log "clonetarget: the ReadOnly family against a read-only LUN"
CONF_TESTS=ALL.ReadOnly CONF_FLAGS=-d "$TOOLS/conformance.sh" "127.0.0.1:$port" "$IQN" 0 "$DIR/clonetarget-ro" \
  | tail -1 >&2

TGT_URL=$(TGT_DIR="$DIR/tgt" TGT_SIZE=1G "$TOOLS/tgtd-up.sh" 3393 | tail -1)
tgt_iqn=$(echo "$TGT_URL" | cut -d/ -f4)
tgt_lun=$(echo "$TGT_URL" | cut -d/ -f5)
suite tgtd 127.0.0.1:3393 "$tgt_iqn" "$tgt_lun"

python3 - "$DIR" <<'PY'
import collections, sys
d = sys.argv[1]
def load(name):
    out = {}
    for part, keep in (("all", lambda t: not t.startswith("Sanitize.")), ("sanitize", lambda t: t.startswith("Sanitize.")),
                       ("ro", lambda t: t.startswith("ReadOnly."))):
        try:
            for line in open(f"{d}/{name}-{part}.tsv"):
                test, outcome, *_ = line.rstrip("\n").split("\t")
                if keep(test):
                    out[test] = outcome
        except FileNotFoundError:
            pass
    return out
ours, tgt = load("clonetarget"), load("tgtd")
fam = collections.OrderedDict()
for t in sorted(set(ours) | set(tgt)):
    fam.setdefault(t.split(".")[0], []).append(t)
def cell(res, tests):
    c = collections.Counter(res.get(t, "error") for t in tests)
    return f"{c['passed']} / {c['failed'] + c['error']} / {c['skipped']}"
print("| family | tests | clonetarget passed / failed / skipped | tgtd passed / failed / skipped |")
print("|---|---|---|---|")
for f, tests in fam.items():
    print(f"| {f} | {len(tests)} | {cell(ours, tests)} | {cell(tgt, tests)} |")
alltests = [t for ts in fam.values() for t in ts]
print(f"| **all** | {len(alltests)} | **{cell(ours, alltests)}** | {cell(tgt, alltests)} |")
print()
for name, res in (("clonetarget", ours), ("tgtd", tgt)):
    bad = [t for t in alltests if res.get(t) in ("failed", "error", None)]
    print(f"{name} failed: {', '.join(bad) or 'none'}")
PY
