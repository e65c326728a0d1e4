#!/bin/bash
# test/rescan/guest/rescan-test.sh - live LUN mapping against the real Linux kernel initiator.
# Runs inside the VM (started by guest-init.sh, output teed to /out/test.log and the console).
#
#   1. udevd (for /dev/disk/by-path), clonetarget serve --admin-listen off with a state dir on
#      tmpfs (retried once if the JVM dies of a signal before listening, as test/powercut does);
#      volumes v0 and v1 (64M), target $IQN, LUN 0 = v0, all with the CLI over the admin socket.
#   2. iscsid + discovery + login; wait for LUN 0's disk; record the session (sid, host, TSIH).
#   3. map: `clonetarget lun map $IQN v1 --lun 1`; wait for LUN 1's disk (sysfs, then the
#      by-path link ...-lun-1); the session must be the same one (sid, TSIH, no new login line in
#      the server log, no new session in iscsiadm); dd O_DIRECT write + read on the new disk,
#      checked against the volume file on the target side as well.
#   4. unmap: without --force (must be refused, exit 4), then --force; watch for OBSERVE_SECONDS
#      what the host does by itself (no I/O); then I/O to the old disk; `iscsiadm --rescan`;
#      `echo 1 > /sys/block/sdX/device/delete`; LUN 0 and the session must be unaffected.
#   5. map LUN 1 again (REMAP=1): the disk comes back with the data written in 3.
#   6. (REMAP=1) unmap it again (--force) and remove the disk at once, as a host has to
#      (REMOVE_WITH: echo 1 > .../delete, or rescan-scsi-bus.sh -r); session and LUN 0 unaffected.
#   then: logout, stop the target; verdict lines "RESCAN: ..." and "RESCAN-RESULT: PASS|FAIL ...".
#
# Settings (from /out/run.env): OBSERVE_SECONDS (30), MAP_TIMEOUT (90), UDEV (1), REMAP (1), CT_TRIES (4),
# TARGET_TRIES (2: the server start is retried once, as in test/powercut), REMOVE_WITH (delete |
# rescan-scsi-bus: how step 6 removes the disk),
# ISCSID_DEBUG (4; iscsid logs "Read AEN 0" at 3 and more), SCSI_LOG_SCAN (4: the kernel's
# "scsi scan:" lines, 0 = off).
# Times are seconds of guest uptime (the clock of dmesg's [ ... ] stamps).
set -u
OUT=/out
: "${OBSERVE_SECONDS:=30}" "${MAP_TIMEOUT:=90}" "${UDEV:=1}" "${REMAP:=1}" "${ISCSID_DEBUG:=4}" "${SCSI_LOG_SCAN:=4}" "${CT_TRIES:=4}" "${TARGET_TRIES:=2}" "${REMOVE_WITH:=delete}"
CT=/project/bin/clonetarget
STATE=/scratch/state
PORT=3260
PORTAL=127.0.0.1:$PORT
IQN=iqn.2026-12.io.clonetarget:rescan
INITIATOR=iqn.1993-08.org.debian:01:rescan
RES=$OUT/result.txt
: > "$RES"
FAILS=()
NOTES=()

up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "[rescan $(up)] $*"; }
result() { echo "$*" >> "$RES"; }
fail() { FAILS+=("$1"); log "FAIL: $1${2:+: $2}"; result "fail=$1"; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
# guest epoch time <-> uptime, to place the server's log stamps (UTC ISO) on the dmesg clock: both
# read by bash builtins, microseconds apart (/proc/uptime has 10 ms steps)
read -r _u _ < /proc/uptime; _e=$EPOCHREALTIME
EPOCH_AT_UP=$(awk -v e="$_e" -v u="$_u" 'BEGIN{printf "%.3f", e-u}')
iso_to_up() { local e; e=$(date -u -d "$1" +%s.%N 2>/dev/null) || return 1; awk -v e="$e" -v o="$EPOCH_AT_UP" 'BEGIN{printf "%.2f", e-o}'; }
dmesg_since() { dmesg | awk -v t="$1" '{s=$0; sub(/^\[ */, "", s); split(s, a, "]"); if (a[1] + 0 >= t) print}'; }
dmesg_first() {  # dmesg_first SINCE REGEX -> the [time] of the first kernel line at/after SINCE matching REGEX
  dmesg_since "$1" | awk -v re="$2" '$0 ~ re {s=$0; sub(/^\[ */, "", s); split(s, a, "]"); print a[1] + 0; exit}'
}
# the dmesg clock (sched_clock) against /proc/uptime: a marker line carrying the uptime it was written at
kmark() { local u; read -r u _ < /proc/uptime; echo "rescan-test: mark uptime=$u $*" > /dev/kmsg; }

T_START=$(up)
VERDICT_MAP="not reached"; VERDICT_UNMAP="not reached"; VERDICT_REMAP=""; VERDICT_REMOVE=""
SHORT_MAP=""; SHORT_UNMAP=""; SHORT_REMAP=""; SHORT_REMOVE=""   # the same, in a few words (when ok)

finish() {
  local rc=0 r
  if [ -n "${TPID:-}" ] && ! kill -0 "$TPID" 2>/dev/null; then fail target-died "the server's JVM ended during the test$([ -f "$OUT/hs_err_pid$TPID.log" ] && echo " (JVM crash: $(grep -m1 -E 'SIG[A-Z]+ \(' "$OUT/hs_err_pid$TPID.log" | sed 's/^# *//'))")"; fi
  [ ${#FAILS[@]} -gt 0 ] && rc=1
  # cleanup (always): logout, stop the target, stop iscsid
  timeout 60 iscsiadm -m node --logoutall=all > "$OUT/logout.txt" 2>&1
  if [ -n "${TPID:-}" ] && kill -0 "$TPID" 2>/dev/null; then
    kill -TERM "$TPID"
    for _ in $(seq 1 300); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$TPID" 2>/dev/null && { log "target did not stop on SIGTERM within 30 s"; kill -KILL -- "-$TPID" 2>/dev/null; }
  fi
  timeout 10 iscsiadm -k 0 2>/dev/null; pkill_iscsid
  [ -n "${UDEVD_PID:-}" ] && kill "$UDEVD_PID" 2>/dev/null
  cp "$STATE/running.toml" "$OUT/running.toml" 2>/dev/null
  dmesg > "$OUT/dmesg.txt" 2>&1
  r=PASS; [ $rc = 0 ] || r=FAIL
  local retries=0 skew
  [ -f "$OUT/retries.txt" ] && retries=$(wc -l < "$OUT/retries.txt")
  # dmesg's clock minus /proc/uptime, from the marker lines (the largest difference)
  skew=$(dmesg | awk '/rescan-test: mark uptime=/ {s=$0; sub(/^\[ */, "", s); split(s, a, "]"); m=$0; sub(/.*uptime=/, "", m); d=a[1]-m; if (d<0) d=-d; if (d>x) x=d} END{printf "%.2f", x}')
  echo "RESCAN-DETAIL: duration=$(dt "$T_START" "$(up)")s jvm-retries=$retries dmesg-vs-uptime-skew<=${skew}s${NOTES[*]:+ notes: ${NOTES[*]}}"
  echo "RESCAN-MAP: $VERDICT_MAP"
  echo "RESCAN-UNMAP: $VERDICT_UNMAP"
  [ -n "$VERDICT_REMAP" ] && echo "RESCAN-REMAP: $VERDICT_REMAP"
  [ -n "$VERDICT_REMOVE" ] && echo "RESCAN-REMOVE: $VERDICT_REMOVE"
  echo "RESCAN: $r map: ${SHORT_MAP:-$VERDICT_MAP}; unmap: ${SHORT_UNMAP:-$VERDICT_UNMAP}${VERDICT_REMAP:+; remap: ${SHORT_REMAP:-$VERDICT_REMAP}}${VERDICT_REMOVE:+; remove: ${SHORT_REMOVE:-$VERDICT_REMOVE}}"
  echo "RESCAN-RESULT: $r failed=${#FAILS[@]}${FAILS[*]:+ (${FAILS[*]})}"
  exit $rc
}
pkill_iscsid() { [ -n "${ISCSID_PID:-}" ] && kill "$ISCSID_PID" 2>/dev/null; }
abort() { fail "$1" "${2:-}"; finish; }

jvm_crash() { local f; f=$(ls "$OUT"/hs_err_pid*.log 2>/dev/null | tail -n 1); [ -n "$f" ] && echo " (JVM crashed: $(basename "$f"): $(grep -m1 -E 'SIG[A-Z]+ \(' "$f" | sed 's/^# *//'))"; }

# ---------------------------------------------------------------------------- clonetarget
# ct NAME ARGS...: a short CLI command (a fresh JVM) over the state dir's admin socket; output in
# $OUT/NAME.txt. Retried (at most CT_TRIES attempts) when the JVM died of a signal: the JIT crash
# under TCG (see README.md). A retry is safe: every command here is idempotent (a change the
# server applied already is "nothing to change", exit 0), and the test reads what was applied
# from the server's log ("applied: ..."), not from the CLI.
ct() {
  local name=$1 rc try t0; shift
  for try in $(seq 1 "$CT_TRIES"); do
    t0=$(up)
    ( cd "$OUT" && timeout 300 "$CT" "$@" --state-dir "$STATE" ) > "$OUT/$name.txt" 2>&1; rc=$?
    up > "$OUT/$name.end"
    echo "$name try$try rc=$rc $(dt "$t0" "$(up)")s" >> "$OUT/cli-times.txt"
    if [ $rc -ge 128 ] && [ $rc != 124 ] && [ "$try" -lt "$CT_TRIES" ]; then
      log "RETRY: '$name' JVM died (rc=$rc)$(jvm_crash), trying again"
      cp "$OUT/$name.txt" "$OUT/$name.try$try.txt"; echo "retry $name rc=$rc$(jvm_crash)" >> "$OUT/retries.txt"
      continue
    fi
    break
  done
  return $rc
}
port_listening() {
  local hexport; hexport=$(printf '%04X' "$PORT")
  awk -v p=":$hexport" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END{exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
TPID=""
start_target() {
  local try deadline rc
  for try in $(seq 1 "$TARGET_TRIES"); do
    ( cd "$OUT" && exec setsid "$CT" serve --state-dir "$STATE" --listen "$PORTAL" --admin-listen off ) \
        >> "$OUT/target.log" 2>&1 < /dev/null &
    TPID=$!
    deadline=$(( $(date +%s) + 150 ))
    while [ "$(date +%s)" -lt $deadline ]; do
      if port_listening && [ -S "$STATE/admin.sock" ]; then log "target pid $TPID listening on $PORTAL (try $try, $(dt "$T_START" "$(up)") s)"; return 0; fi
      kill -0 $TPID 2>/dev/null || break
      sleep 0.25
    done
    wait $TPID 2>/dev/null; rc=$?
    log "target did not start (try $try, rc=$rc)$(jvm_crash): $(tail -n 5 "$OUT/target.log" | tr '\n' ' ' | cut -c1-400)"
    cp "$OUT/target.log" "$OUT/target.try$try.log"
    kill -KILL -- -$TPID 2>/dev/null
    if [ "$try" -lt "$TARGET_TRIES" ] && [ $rc -ge 128 ]; then
      log "RETRY: target JVM died of a signal (rc=$rc) before listening, starting it again"
      echo "retry target rc=$rc" >> "$OUT/retries.txt"; rm -f "$STATE/admin.sock" "$STATE/server.lock"; : > "$OUT/target.log"
      continue
    fi
    return 1
  done
  return 1
}
# server log facts
logins() { grep -c "login from .* -> $IQN" "$OUT/target.log"; }
applied_up() {  # applied_up PATTERN: uptime of the last "applied: PATTERN" line
  local l; l=$(grep "LiveState - applied: $1" "$OUT/target.log" | tail -n 1) || return 1
  [ -n "$l" ] && iso_to_up "${l%% *}"
}

# ---------------------------------------------------------------------------- host side
sid_of_target() { local s; for s in /sys/class/iscsi_session/session*; do [ "$(cat "$s/targetname" 2>/dev/null)" = $IQN ] && echo "${s##*session}"; done; }
sessions() { ls -d /sys/class/iscsi_session/session* 2>/dev/null | wc -l; }
sdev_of() {  # sdev_of LUN -> /sys/.../H:C:T:LUN of our session
  local d; for d in /sys/class/iscsi_session/session"$SID"/device/target*/*:*:*:"$1"; do [ -d "$d" ] && { echo "$d"; return 0; }; done; return 1
}
disk_of() {  # disk_of LUN -> sdX, once it has a block device with a size
  local d b; d=$(sdev_of "$1") || return 1
  b=$(ls "$d/block" 2>/dev/null | head -n 1); [ -n "$b" ] && [ "$(cat "/sys/block/$b/size" 2>/dev/null || echo 0)" -gt 0 ] && echo "$b"
}
bypath() { echo "/dev/disk/by-path/ip-$PORTAL-iscsi-$IQN-lun-$1"; }
tsih() { grep "login from .* -> $IQN" "$OUT/target.log" | tail -n 1 | sed -n 's/.* tsih=\([0-9]*\) .*/\1/p'; }
session_line() { echo "iscsiadm=[$(timeout 10 iscsiadm -m session 2>&1 | tr '\n' ' ' | sed 's/ *$//')] sid=$(sid_of_target | tr '\n' ,) sessions=$(sessions) state=$(cat /sys/class/iscsi_session/session"$SID"/state 2>/dev/null) host=$(ls -d /sys/class/iscsi_session/session"$SID"/device/../scsi_host/host* 2>/dev/null | sed 's/.*host//') server-logins=$(logins) tsih=$(tsih)"; }
# the kernel's side of a broken or recovered connection
conn_errors() { echo $(( $(dmesg | grep -c 'detected conn error\|session recovery timed out') + $(grep -c 'Kernel reported iSCSI connection\|reopen' "$OUT/iscsid.log") )); }
same_session() {  # same_session WHAT
  local now; now=$(session_line)
  if [ "$now" = "$SESSION0" ] && [ "$(conn_errors)" = 0 ]; then log "$1: same session ($now), no connection errors"; return 0; fi
  fail "$1-session-changed" "before: $SESSION0; now: $now; kernel connection errors: $(conn_errors)"; return 1
}
# dd helpers (O_DIRECT, 4 KiB block at block index $2)
blk_write() { timeout 120 dd if="$3" of="/dev/$1" bs=4096 count=1 seek="$2" oflag=direct conv=fsync,notrunc status=none 2>&1; }
blk_read()  { timeout 120 dd if="/dev/$1" of="$3" bs=4096 count=1 skip="$2" iflag=direct status=none 2>&1; }

# ============================================================================ 1. target
log "rescan test: kernel $(uname -r), open-iscsi $(iscsiadm --version | awk '{print $NF}'), java $(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$JAVA_HOME/release"), clonetarget $(cat /project/COMMIT 2>/dev/null)"
if [ "$UDEV" = 1 ] && [ -x /lib/systemd/systemd-udevd ]; then
  mkdir -p /run/udev
  /lib/systemd/systemd-udevd --resolve-names=never > "$OUT/udevd.log" 2>&1 < /dev/null &
  UDEVD_PID=$!
  for _ in $(seq 1 100); do [ -S /run/udev/control ] && break; sleep 0.1; done
  if [ -S /run/udev/control ]; then log "udevd pid $UDEVD_PID running (by-path links)"; else NOTES+=("udevd-not-running"); UDEV=0; log "udevd did not start; waiting on sysfs only"; fi
else
  UDEV=0
fi

mkdir -p "$STATE"
start_target || abort target-start
ct vol0 volume create v0 --path /scratch/v0.img --size 64M || abort volume-create-v0 "$(cat "$OUT/vol0.txt")"
ct vol1 volume create v1 --path /scratch/v1.img --size 64M || abort volume-create-v1 "$(cat "$OUT/vol1.txt")"
ct target target create $IQN || abort target-create "$(cat "$OUT/target.txt")"
ct map0 lun map $IQN v0 --lun 0 || abort map-lun0 "$(cat "$OUT/map0.txt")"
log "target $IQN with LUN 0 = v0 (v1 not mapped); setup took $(dt "$T_START" "$(up)") s"

# ============================================================================ 2. login
echo "InitiatorName=$INITIATOR" > /etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi
modprobe iscsi_tcp || abort modprobe-iscsi_tcp
modprobe sd_mod; modprobe sg
setsid iscsid -f -d "$ISCSID_DEBUG" > "$OUT/iscsid.log" 2>&1 < /dev/null &
ISCSID_PID=$!
for _ in $(seq 1 50); do timeout 5 iscsiadm -m session 2>&1 | grep -qi 'can not connect\|could not connect' || break; sleep 0.1; done
timeout 30 iscsiadm -m discoverydb -t st -p $PORTAL -o new > /dev/null || abort discoverydb
timeout 60 iscsiadm -m discoverydb -t st -p $PORTAL --discover > "$OUT/discovery.txt" 2>&1 || abort discovery "$(cat "$OUT/discovery.txt")"
timeout 10 iscsiadm -m node -T $IQN -p $PORTAL > /dev/null 2>&1 || timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -o new > /dev/null
nodeset() { timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -o update -n "$1" -v "$2" > /dev/null; }
nodeset node.startup manual
nodeset node.session.timeo.replacement_timeout 30
nodeset 'node.conn[0].timeo.login_timeout' 15
nodeset node.session.initial_login_retry_max 4
SCAN=$(timeout 10 iscsiadm -m node -T $IQN -p $PORTAL | awk -F' = ' '$1=="node.session.scan"{print $2}')
log "node.session.scan = $SCAN"
result "node_session_scan=$SCAN"
T_LOGIN=$(up)
timeout 90 iscsiadm -m node -T $IQN -p $PORTAL --login > "$OUT/login.txt" 2>&1 || abort login "$(cat "$OUT/login.txt")"
SID=$(sid_of_target | head -n 1)
[ -n "$SID" ] || abort no-session
D0=""
deadline=$(( $(date +%s) + MAP_TIMEOUT ))
while [ "$(date +%s)" -lt $deadline ]; do D0=$(disk_of 0) && break; sleep 0.1; done
[ -n "$D0" ] || abort lun0-disk "no disk for LUN 0 within $MAP_TIMEOUT s"
T_D0=$(up)
if [ "$UDEV" = 1 ]; then
  while [ "$(date +%s)" -lt $deadline ] && [ ! -L "$(bypath 0)" ]; do sleep 0.1; done
  [ "$(readlink -f "$(bypath 0)")" = /dev/$D0 ] || abort lun0-bypath "$(bypath 0) -> $(readlink -f "$(bypath 0)")"
fi
echo 120 > "/sys/block/$D0/device/timeout"
SESSION0=$(session_line)
HOSTNO=$(ls -d /sys/class/iscsi_session/session"$SID"/device/../scsi_host/host* | sed 's/.*host//')
log "logged in: session $SID; LUN 0 = $D0 ($(( $(cat /sys/block/$D0/size) / 2048 )) MiB) $(dt "$T_LOGIN" "$T_D0") s after iscsiadm --login; $([ "$UDEV" = 1 ] && echo "by-path $(basename "$(bypath 0)")" || echo "no udev: sysfs only")"
log "session: $SESSION0"
timeout 10 iscsiadm -m session -P 1 > "$OUT/session-P1-before.txt" 2>&1
result "sid=$SID lun0=$D0"
[ "$(logins)" = 1 ] || fail login-count "server logged $(logins) logins"

# distinct patterns for LUN 0 and LUN 1 (block 8)
head -c 4096 /dev/urandom > /tmp/p0; head -c 4096 /dev/urandom > /tmp/p1
e=$(blk_write "$D0" 8 /tmp/p0) || fail lun0-write "$e"

# ============================================================================ 3. map LUN 1
# wait_lun LUN DEADLINE(epoch s): polls (0.1 s) for the SCSI device of LUN, its disk (a block
# device with a size) and, with udev, its by-path link; sets W_SDEV W_DISK T_SDEV T_DISK T_LINK
wait_lun() {
  W_SDEV=""; W_DISK=""; T_SDEV=""; T_DISK=""; T_LINK=""
  while [ "$(date +%s)" -lt "$2" ]; do
    if [ -z "$T_SDEV" ] && W_SDEV=$(sdev_of "$1"); then T_SDEV=$(up); fi
    if [ -z "$T_DISK" ] && W_DISK=$(disk_of "$1"); then T_DISK=$(up); fi
    if [ -n "$T_DISK" ] && [ "$UDEV" = 1 ] && [ -z "$T_LINK" ] && [ -L "$(bypath "$1")" ]; then T_LINK=$(up); fi
    if [ -n "$T_DISK" ] && { [ "$UDEV" = 0 ] || [ -n "$T_LINK" ]; }; then return 0; fi
    sleep 0.1
  done
  [ -n "$T_DISK" ]
}
# kernel_times SINCE DISK: the dmesg times of the host scan (first "scsi scan: Sending REPORT LUNS"
# line), the new LUN's INQUIRY line and the disk's "Attached SCSI disk" after SINCE
kernel_times() {
  K_SCAN=$(dmesg_first "$1" 'scsi scan: Sending REPORT LUNS')
  K_ATTACH=$(dmesg_first "$1" "\\[$2\\] Attached SCSI disk")
}
rel() { [ -n "$2" ] && dt "$1" "$2" || echo "?"; }  # rel FROM TO: TO-FROM or ? when TO is unknown
srel() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%+.2f", b-a}' || echo "?"; }  # the same, signed

[ "$SCSI_LOG_SCAN" != 0 ] && echo $(( SCSI_LOG_SCAN << 6 )) > /proc/sys/dev/scsi/logging_level
kmark "before lun map"
T_MAP0=$(up)
ct map1 lun map $IQN v1 --lun 1 & CTPID=$!
wait_lun 1 $(( $(date +%s) + MAP_TIMEOUT )); found=$?
wait $CTPID; rc=$?
T_MAP1=$(cat "$OUT/map1.end")
D1=$W_DISK; T_D1=$T_DISK; T_L1=$T_LINK; T_SDEV1=$T_SDEV
log "lun map $IQN v1 --lun 1: rc=$rc in $(dt "$T_MAP0" "$T_MAP1") s: $(tr '\n' ' ' < "$OUT/map1.txt" | cut -c1-300)"
T_APPLIED=$(applied_up "+ lun 1 of $IQN") || T_APPLIED=""
[ -n "$T_APPLIED" ] || abort map-lun1 "rc=$rc, no 'applied: + lun 1' in the server log"
[ $rc = 0 ] || NOTES+=("map-rc=$rc-but-applied")
AEN_MAP=$(grep -c 'Read AEN 0' "$OUT/iscsid.log")
if [ $found != 0 ]; then
  dmesg_since "$T_MAP0" > "$OUT/dmesg-map.txt"
  VERDICT_MAP="FAIL: no disk for LUN 1 within $MAP_TIMEOUT s of the map command (AENs read by iscsid: $AEN_MAP; scans in dmesg: $(grep -c 'Sending REPORT LUNS' "$OUT/dmesg-map.txt"))"
  abort map-no-disk "$VERDICT_MAP"
fi
[ "$UDEV" = 1 ] && { [ "$(readlink -f "$(bypath 1)")" = "/dev/$D1" ] || fail lun1-bypath "$(bypath 1) -> $(readlink -f "$(bypath 1)" 2>&1)"; }
echo 120 > "/sys/block/$D1/device/timeout"
H1=$(basename "$(sdev_of 1)")
kernel_times "$T_MAP0" "$D1"
MAPT="server applied the map at +$(dt "$T_MAP0" "$T_APPLIED") s of the CLI's $(dt "$T_MAP0" "$T_MAP1") s; from there: host scan (REPORT LUNS) $(rel "$T_APPLIED" "$K_SCAN") s, disk attached $(rel "$T_APPLIED" "$K_ATTACH") s (dmesg), $D1 seen $(dt "$T_APPLIED" "$T_D1") s${T_L1:+, by-path link $(dt "$T_APPLIED" "$T_L1") s}"
log "LUN 1 = $D1 ($H1, $(( $(cat /sys/block/$D1/size) / 2048 )) MiB); $MAPT"
result "map_cli=$(dt "$T_MAP0" "$T_MAP1") map_applied_at=$(dt "$T_MAP0" "$T_APPLIED") map_applied_to_scan=$(rel "$T_APPLIED" "$K_SCAN") map_applied_to_attached=$(rel "$T_APPLIED" "$K_ATTACH") map_applied_to_disk=$(dt "$T_APPLIED" "$T_D1") map_applied_to_link=$(rel "$T_APPLIED" "$T_L1") lun1=$D1"
dmesg_since "$T_MAP0" > "$OUT/dmesg-map.txt"
same_session map && SAME_MAP=1 || SAME_MAP=0
# the new disk: fresh (zeros), writable, and distinct from LUN 0; the data lands in v1's file
e=$(blk_read "$D1" 8 /tmp/r1a) || fail lun1-read "$e"
cmp -s /tmp/r1a <(head -c 4096 /dev/zero) || fail lun1-not-fresh "block 8 of the new disk is not zeros"
e=$(blk_write "$D1" 8 /tmp/p1) || fail lun1-write "$e"
e=$(blk_read "$D1" 8 /tmp/r1) || fail lun1-read-back "$e"
DDOK=1
cmp -s /tmp/r1 /tmp/p1 || { DDOK=0; fail lun1-data "read back differs from what was written"; }
e=$(blk_read "$D0" 8 /tmp/r0) || fail lun0-read-after-map "$e"
cmp -s /tmp/r0 /tmp/p0 || { DDOK=0; fail lun0-data "LUN 0 block 8 changed"; }
cmp -s <(dd if=/scratch/v1.img bs=4096 skip=8 count=1 status=none) /tmp/p1 || { DDOK=0; fail v1-file "the block is not in /scratch/v1.img"; }
UA_MAP=$(dmesg_since "$T_MAP0" | grep -c 'LUN assignments on this target have changed')
dmesg_since "$T_MAP0" > "$OUT/dmesg-map.txt"
same_session map-io || SAME_MAP=0
timeout 10 iscsiadm -m session -P 3 > "$OUT/session-P3-mapped.txt" 2>&1
if [ $SAME_MAP = 1 ] && [ $DDOK = 1 ] && [ ${#FAILS[@]} = 0 ]; then
  VERDICT_MAP="ok ($D1 without a new login: relative to the server's 'applied' line, host scan (REPORT LUNS) $(srel "$T_APPLIED" "$K_SCAN") s, disk attached $(srel "$T_APPLIED" "$K_ATTACH") s (dmesg), in sysfs $(srel "$T_APPLIED" "$T_D1") s${T_L1:+, by-path -lun-1 link $(srel "$T_APPLIED" "$T_L1") s}; the CLI command took $(dt "$T_MAP0" "$T_MAP1") s; same session $SID (TSIH $(tsih)), no new login; AEN read by iscsid: $AEN_MAP; dd O_DIRECT write+read ok)"
  SHORT_MAP="ok ($D1 attached $(rel "$T_APPLIED" "$K_ATTACH") s after the server applied it${T_L1:+, by-path -lun-1 link at $(rel "$T_APPLIED" "$T_L1") s}; same session $SID, no new login)"
else
  VERDICT_MAP="FAIL ($D1 appeared, but: ${FAILS[*]})"
fi
log "map: $VERDICT_MAP"

# ============================================================================ 4. unmap LUN 1
ct unmap-noforce lun unmap $IQN 1; rc=$?
log "lun unmap $IQN 1 (no --force): rc=$rc: $(tr '\n' ' ' < "$OUT/unmap-noforce.txt" | cut -c1-300)"
result "unmap_noforce_rc=$rc"
[ $rc = 4 ] || fail unmap-noforce "expected exit 4 (refused), got $rc"
[ -b "/dev/$D1" ] || fail unmap-noforce-removed "$D1 went away after a refused unmap"
grep -q "applied: - lun 1 of $IQN" "$OUT/target.log" && fail unmap-noforce-applied "the server applied a refused unmap"
kmark "before lun unmap --force"
T_UN0=$(up)
ct unmap1 lun unmap $IQN 1 --force & CTPID=$!
# passive: what does the host do by itself? (no I/O from us) From the start of the command until
# OBSERVE_SECONDS after the server applied it.
GONE=""; LINKGONE=""; LAST_STATE=""; obs_end=""; T_UNAPPLIED=""
while :; do
  if [ -z "$obs_end" ] && ! kill -0 $CTPID 2>/dev/null; then
    wait $CTPID; rc=$?
    T_UN1=$(cat "$OUT/unmap1.end")
    T_UNAPPLIED=$(applied_up "- lun 1 of $IQN") || T_UNAPPLIED=""
    [ -n "$T_UNAPPLIED" ] || abort unmap-lun1 "rc=$rc, no 'applied: - lun 1' in the server log: $(tr '\n' ' ' < "$OUT/unmap1.txt" | cut -c1-300)"
    obs_end=$(awk -v t="$T_UNAPPLIED" -v s="$OBSERVE_SECONDS" 'BEGIN{print t+s}')
  fi
  [ -n "$obs_end" ] && ! awk -v n="$(up)" -v e="$obs_end" 'BEGIN{exit !(n<e)}' && break
  if [ -z "$GONE" ] && [ ! -e "/sys/block/$D1" ]; then GONE=$(up); log "$D1 removed by the host"; fi
  if [ "$UDEV" = 1 ] && [ -z "$LINKGONE" ] && [ ! -L "$(bypath 1)" ]; then LINKGONE=$(up); fi
  st=$(cat "/sys/class/scsi_device/$H1/device/state" 2>/dev/null || echo gone)
  sz=$(cat "/sys/block/$D1/size" 2>/dev/null || echo -)
  [ "$st $sz" != "$LAST_STATE" ] && { echo "$(up) $H1 state=$st size=$sz" >> "$OUT/unmap-observe.txt"; LAST_STATE="$st $sz"; }
  sleep 0.25
done
log "lun unmap $IQN 1 --force: rc=$rc in $(dt "$T_UN0" "$T_UN1") s (applied at +$(dt "$T_UN0" "$T_UNAPPLIED") s): $(tr '\n' ' ' < "$OUT/unmap1.txt" | cut -c1-300)"
[ $rc = 0 ] || NOTES+=("unmap-rc=$rc-but-applied")
AEN_UNMAP=$(( $(grep -c 'Read AEN 0' "$OUT/iscsid.log") - AEN_MAP ))
dmesg_since "$T_UN0" > "$OUT/dmesg-unmap-passive.txt"
K_UNSCAN=$(dmesg_first "$T_UN0" 'scsi scan: Sending REPORT LUNS')
UNSCAN="iscsid's host scan (REPORT LUNS) at $(srel "$T_UNAPPLIED" "$K_UNSCAN") s relative to the server's 'applied' line found nothing to add"
[ -n "$K_UNSCAN" ] || UNSCAN="no host scan in dmesg"
PASSIVE_LINES=$(grep -v 'scsi scan:\|rescan-test: mark' "$OUT/dmesg-unmap-passive.txt" | wc -l)
log "after ${OBSERVE_SECONDS} s: $D1 $([ -n "$GONE" ] && echo "gone" || echo "still there (state/size ${LAST_STATE})"), by-path link $([ -L "$(bypath 1)" ] && echo present || echo gone); AEN read by iscsid: $AEN_UNMAP; $UNSCAN; other kernel lines: $PASSIVE_LINES"
result "unmap_cli=$(dt "$T_UN0" "$T_UN1") unmap_applied_to_scan=$(rel "$T_UNAPPLIED" "$K_UNSCAN") unmap_removed=$([ -n "$GONE" ] && dt "$T_UNAPPLIED" "$GONE" || echo no)"
same_session unmap || true
if [ -n "$GONE" ]; then
  VERDICT_UNMAP="ok ($D1 removed by the host $(dt "$T_UNAPPLIED" "$GONE") s after the server applied the unmap; same session $SID)"
  SHORT_UNMAP=$VERDICT_UNMAP
else
  # active: I/O to the disk of the unmapped LUN
  T_IO=$(up)
  e=$(blk_read "$D1" 8 /tmp/r1gone); rc=$?
  T_IO1=$(up)
  dmesg_since "$T_IO" > "$OUT/dmesg-unmap-io.txt"
  SENSE=$(grep -o 'Add. Sense: .*' "$OUT/dmesg-unmap-io.txt" | head -n 1 | sed 's/Add. Sense: //')
  log "read of $D1 after the unmap: rc=$rc in $(dt "$T_IO" "$T_IO1") s: ${e:-no error} | kernel: $(grep -E 'Sense|I/O error|FAILED' "$OUT/dmesg-unmap-io.txt" | sed 's/^\[[^]]*\] //' | tr '\n' '|' | cut -c1-400)"
  if [ $rc = 0 ]; then
    fail unmap-io-succeeded "a read of the unmapped LUN returned data"
    cmp -s /tmp/r1gone /tmp/p1 && fail unmap-stale-data "and it was the old data"
  fi
  IOV="O_DIRECT read -> $([ $rc = 0 ] && echo "SUCCEEDED (wrong)" || echo "EIO") in $(dt "$T_IO" "$T_IO1") s${SENSE:+ (ILLEGAL REQUEST, $SENSE)}"
  # a buffered read of block 0, which udev's blkid read when the disk appeared: the page cache
  # may still answer it (the host's business, not the target's; recorded, not judged)
  e=$(timeout 60 dd if="/dev/$D1" of=/tmp/r1buf bs=4096 count=1 status=none 2>&1); rc=$?
  IOV="$IOV, buffered read of block 0 -> $([ $rc = 0 ] && echo "data (from the page cache)" || echo "EIO")"
  e=$(blk_write "$D1" 9 /tmp/p1); rc=$?
  [ $rc = 0 ] && fail unmap-write-succeeded "a write to the unmapped LUN succeeded"
  IOV="$IOV, write -> $([ $rc = 0 ] && echo "SUCCEEDED (wrong)" || echo "EIO")"
  # LUN 0 after the unmap: its unit attention (REPORTED LUNS DATA HAS CHANGED) shows here
  T_IO=$(up)
  e=$(blk_read "$D0" 8 /tmp/r0b) || fail lun0-read-after-unmap "$e"
  cmp -s /tmp/r0b /tmp/p0 || fail lun0-data-after-unmap "LUN 0 block 8 changed"
  UA0=$(dmesg_since "$T_UN0" | grep -c 'LUN assignments on this target have changed')
  # what open-iscsi's own rescan does
  kmark "before iscsiadm --rescan"
  T_RS=$(up)
  timeout 60 iscsiadm -m session -r "$SID" --rescan > "$OUT/iscsiadm-rescan.txt" 2>&1; rc=$?
  for _ in $(seq 1 20); do [ -e "/sys/block/$D1" ] || break; sleep 0.25; done   # removed? (give it 5 s)
  dmesg_since "$T_RS" > "$OUT/dmesg-unmap-rescan.txt"
  RSV="iscsiadm -m session -r $SID --rescan (rc $rc): $D1 $([ -e "/sys/block/$D1" ] && echo "kept, now $(cat /sys/block/$D1/size) sectors (state $(cat /sys/class/scsi_device/$H1/device/state 2>/dev/null))" || echo removed)"
  log "$RSV"
  # what the host has to do: delete the SCSI device
  if [ -e "/sys/block/$D1" ]; then
    kmark "before echo 1 > delete"
    T_DEL=$(up)
    timeout 120 sh -c "echo 1 > /sys/class/scsi_device/$H1/device/delete"; rc=$?
    for _ in $(seq 1 100); do [ -e "/sys/block/$D1" ] || break; sleep 0.1; done
    T_DEL1=$(up)
    if [ "$UDEV" = 1 ]; then for _ in $(seq 1 100); do [ -L "$(bypath 1)" ] || break; sleep 0.1; done; fi
    dmesg_since "$T_DEL" > "$OUT/dmesg-unmap-delete.txt"
    if [ -e "/sys/block/$D1" ]; then fail delete "$D1 still there after echo 1 > delete (rc $rc)"; DELV="echo 1 > .../delete did NOT remove it"
    else DELV="echo 1 > /sys/class/scsi_device/$H1/device/delete removed it in $(dt "$T_DEL" "$T_DEL1") s$([ "$UDEV" = 1 ] && { [ -L "$(bypath 1)" ] && echo " (by-path link still there!)" || echo " (and its by-path link)"; })"; fi
    [ "$UDEV" = 1 ] && [ -L "$(bypath 1)" ] && fail bypath-left "$(bypath 1) still there"
  else
    DELV="(nothing left to delete)"
  fi
  log "$DELV"
  same_session unmap-cleanup || true
  e=$(blk_read "$D0" 8 /tmp/r0c) || fail lun0-read-after-delete "$e"
  cmp -s /tmp/r0c /tmp/p0 || fail lun0-data-after-delete "LUN 0 block 8 changed"
  VERDICT_UNMAP="$D1 NOT removed by the kernel within ${OBSERVE_SECONDS} s (AEN read by iscsid: $AEN_UNMAP, $UNSCAN, nothing else logged; $D1 stays 'running' with its old size); $IOV; LUN 0 I/O ok (${UA0}x 'LUN assignments on this target have changed' warning, retried); $RSV; $DELV; same session $SID throughout"
  [ ${#FAILS[@]} = 0 ] && SHORT_UNMAP="$D1 stays: the kernel does not remove it ($OBSERVE_SECONDS s watched; AEN -> host scan, nothing removed); I/O to it -> EIO (Logical unit not supported); the host must delete it: echo 1 > .../delete removed it in $(dt "$T_DEL" "$T_DEL1") s; same session $SID, LUN 0 unaffected"
fi
dmesg_since "$T_UN0" > "$OUT/dmesg-unmap.txt"
log "unmap: $VERDICT_UNMAP"

# ============================================================================ 5. map again
if [ "$REMAP" = 1 ]; then
  kmark "before lun map again"
  T_RM0=$(up)
  ct map1again lun map $IQN v1 --lun 1 & CTPID=$!
  wait_lun 1 $(( $(date +%s) + MAP_TIMEOUT )); found=$?
  wait $CTPID; rc=$?
  T_RA=$(applied_up "+ lun 1 of $IQN") || T_RA=""
  if [ -z "$T_RA" ] || awk -v a="$T_RA" -v b="$T_APPLIED" 'BEGIN{exit !(a<=b)}'; then
    fail remap-not-applied "rc=$rc: $(tr '\n' ' ' < "$OUT/map1again.txt" | cut -c1-200)"; VERDICT_REMAP="FAIL (not applied)"
  elif [ $found != 0 ]; then
    fail remap-no-disk; VERDICT_REMAP="FAIL (no disk within $MAP_TIMEOUT s)"
  else
    D1B=$W_DISK
    kernel_times "$T_RM0" "$D1B"
    e=$(blk_read "$D1B" 8 /tmp/r1c) || fail remap-read "$e"
    cmp -s /tmp/r1c /tmp/p1 && okd="the data written in the first map is there" || { okd="DATA DIFFERS"; fail remap-data; }
    same_session remap && ss="same session $SID" || ss="SESSION CHANGED"
    VERDICT_REMAP="LUN 1 = $D1B again $(dt "$T_RA" "$T_DISK") s after the server applied the map (kernel attached it at $(rel "$T_RA" "$K_ATTACH") s), $okd, $ss"
    SHORT_REMAP="ok ($D1B attached $(rel "$T_RA" "$K_ATTACH") s after the server applied it, data intact, same session $SID)"
    result "remap_applied_to_attached=$(rel "$T_RA" "$K_ATTACH") remap_applied_to_disk=$(dt "$T_RA" "$T_DISK")"
  fi
  dmesg_since "$T_RM0" > "$OUT/dmesg-remap.txt"
  log "remap: $VERDICT_REMAP"
fi

# ============================================================================ 6. unmap, remove at once
# the procedure a host needs: unmap, then remove the SCSI device right away (REMOVE_WITH=delete:
# echo 1 > .../delete; REMOVE_WITH=rescan-scsi-bus: sg3-utils' rescan-scsi-bus.sh -r)
if [ "$REMAP" = 1 ] && [ -n "${D1B:-}" ]; then
  H1B=$(basename "$(sdev_of 1)")
  kmark "before the second lun unmap --force"
  T_U0=$(up)
  ct unmap1again lun unmap $IQN 1 --force; rc=$?
  T_U2=$(applied_up "- lun 1 of $IQN") || T_U2=""
  if [ -z "$T_U2" ] || awk -v a="$T_U2" -v b="$T_RA" 'BEGIN{exit !(a<=b)}'; then
    fail unmap2-not-applied "rc=$rc: $(tr '\n' ' ' < "$OUT/unmap1again.txt" | cut -c1-200)"; VERDICT_REMOVE="FAIL (unmap not applied)"
  else
    kmark "before removing $D1B ($REMOVE_WITH)"
    T_R0=$(up)
    case "$REMOVE_WITH" in
      rescan-scsi-bus) how="rescan-scsi-bus.sh -r --hosts=$HOSTNO"; how_short="rescan-scsi-bus.sh -r"
                       sg=$(ls "$(sdev_of 0)/scsi_generic" 2>/dev/null | head -n 1)
                       timeout 30 sg_inq "/dev/$sg" > "$OUT/sg_inq-lun0.txt" 2>&1
                       timeout 600 rescan-scsi-bus.sh -r --hosts="$HOSTNO" > "$OUT/rescan-scsi-bus.txt" 2>&1; rc=$? ;;
      *)               how="echo 1 > /sys/class/scsi_device/$H1B/device/delete"; how_short="echo 1 > .../delete"
                       timeout 120 sh -c "echo 1 > /sys/class/scsi_device/$H1B/device/delete"; rc=$? ;;
    esac
    for _ in $(seq 1 600); do [ -e "/sys/block/$D1B" ] || break; sleep 0.1; done
    T_R1=$(up)
    if [ "$UDEV" = 1 ]; then for _ in $(seq 1 100); do [ -L "$(bypath 1)" ] || break; sleep 0.1; done; fi
    dmesg_since "$T_R0" | grep -v 'rescan-test: mark' > "$OUT/dmesg-remove.txt"
    if [ -e "/sys/block/$D1B" ]; then
      fail remove "$D1B still there after $how (rc $rc)"; VERDICT_REMOVE="FAIL: $how (rc $rc) left $D1B"
    else
      [ "$UDEV" = 1 ] && [ -L "$(bypath 1)" ] && fail bypath-left-2 "$(bypath 1) still there"
      kl=$(sed 's/^\[[^]]*\] //' "$OUT/dmesg-remove.txt" | grep -v 'scsi scan:' | tr '\n' '|' | sed 's/|$//' | cut -c1-300)
      VERDICT_REMOVE="unmap --force, then $how (rc $rc): $D1B gone $(dt "$T_R0" "$T_R1") s later${kl:+ (kernel: $kl)}"
    fi
    nf=${#FAILS[@]}
    if [ ! -e "/sys/block/$D0" ]; then
      # sg3-utils 1.46's rescan-scsi-bus.sh (Debian 12) parses sg_inq's old output format and so
      # takes every LU for "not available (PQual 3)"; with -r it deletes them all (README.md)
      fail lun0-removed-too "$how removed LUN 0's disk $D0 as well (a LUN still mapped: see rescan-scsi-bus.txt)"
      VERDICT_REMOVE="$VERDICT_REMOVE; it ALSO REMOVED LUN 0's $D0, which is still mapped"
    else
      e=$(blk_read "$D0" 8 /tmp/r0d) || fail lun0-read-after-remove "$e"
      cmp -s /tmp/r0d /tmp/p0 || fail lun0-data-after-remove "LUN 0 block 8 changed"
    fi
    if same_session remove; then VERDICT_REMOVE="$VERDICT_REMOVE, same session $SID"
      [ -e "/sys/block/$D1B" ] || [ ${#FAILS[@]} != "$nf" ] || SHORT_REMOVE="ok (unmap --force, then $how_short: $D1B gone in $(dt "$T_R0" "$T_R1") s, same session $SID)"
    else VERDICT_REMOVE="$VERDICT_REMOVE, SESSION CHANGED"; fi
  fi
  log "remove: $VERDICT_REMOVE"
fi

timeout 10 iscsiadm -m session -P 3 > "$OUT/session-P3-end.txt" 2>&1
finish
