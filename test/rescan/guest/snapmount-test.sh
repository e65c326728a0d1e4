#!/bin/bash
# test/rescan/guest/snapmount-test.sh - the Linux kernel initiator mounts a snapshot of a mounted
# ext4 volume (run.sh --test snapmount; runs inside the VM like rescan-test.sh).
#
#   1. clonetarget serve --config: volume "data" (/scratch/data.img, 256M) with
#      [volume.snapshots], target $IQN, LUN 0 = data; the admin API off (the CLI uses the socket).
#   2. iscsid, discovery, login; LUN 0's disk; mkfs.ext4, mount at /mnt/origin.
#   3. NPRE files (random, up to 1 MiB, sha256 recorded) and sync; fsfreeze -f;
#      clonetarget snapshot create data@frozen; fsfreeze -u.
#   4. on the origin: NPOST new files, one pre file overwritten, one deleted; sync.
#   5. clonetarget lun map $IQN data@frozen --lun 1; wait for the disk in the same session (the
#      target's REPORTED LUNS DATA HAS CHANGED AEN makes iscsid scan; counted in iscsid's log).
#   6. e2fsck -fn on the snapshot disk (must be 0), mount -o ro,noload at /mnt/snap: every pre
#      file with its sha256 as before the snapshot (the overwritten one with its old content, the
#      deleted one present), no post file; the origin has the post files and the new content.
#   7. a write to the snapshot disk must fail (read-only LUN); umount, logout, stop the target.
# Prints "RESCAN: PASS|FAIL ..." and "RESCAN-RESULT: PASS|FAIL failed=N (...)" as rescan-test.sh.
# Settings: NPRE (40), NPOST (20), MAP_TIMEOUT (90), CT_TRIES (4), ISCSID_DEBUG (4).
set -u
OUT=/out
: "${NPRE:=40}" "${NPOST:=20}" "${MAP_TIMEOUT:=90}" "${CT_TRIES:=4}" "${ISCSID_DEBUG:=4}"
CT=/project/bin/clonetarget
STATE=/scratch/state
PORT=3260
PORTAL=127.0.0.1:$PORT
IQN=iqn.2026-12.io.clonetarget:snapmount
INITIATOR=iqn.1993-08.org.debian:01:snapmount
RES=$OUT/result.txt
: > "$RES"
FAILS=()
STEPS=()
up() { cut -d' ' -f1 /proc/uptime; }
log() { echo "[snapmount $(up)] $*"; }
result() { echo "$*" >> "$RES"; }
fail() { FAILS+=("$1"); log "FAIL: $1${2:+: $2}"; result "fail=$1"; }
ok() { STEPS+=("$1"); log "ok: $1${2:+: $2}"; }
T_START=$(up)
jvm_crash() { local f; f=$(ls "$OUT"/hs_err_pid*.log 2>/dev/null | tail -n 1); [ -n "$f" ] && echo " (JVM crashed: $(basename "$f"): $(grep -m1 -E 'SIG[A-Z]+ \(' "$f" | sed 's/^# *//'))"; }

finish() {
  local r=PASS retries=0
  mountpoint -q /mnt/snap && umount /mnt/snap
  mountpoint -q /mnt/origin && { fsfreeze -u /mnt/origin 2>/dev/null; umount /mnt/origin; }
  timeout 60 iscsiadm -m node --logoutall=all > "$OUT/logout.txt" 2>&1
  if [ -n "${TPID:-}" ] && kill -0 "$TPID" 2>/dev/null; then
    kill -TERM "$TPID"
    for _ in $(seq 1 300); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$TPID" 2>/dev/null && { log "target did not stop on SIGTERM within 30 s"; kill -KILL -- "-$TPID" 2>/dev/null; }
  fi
  [ -n "${ISCSID_PID:-}" ] && kill "$ISCSID_PID" 2>/dev/null
  dmesg > "$OUT/dmesg.txt" 2>&1
  [ ${#FAILS[@]} = 0 ] || r=FAIL
  [ -f "$OUT/retries.txt" ] && retries=$(wc -l < "$OUT/retries.txt")
  echo "RESCAN-DETAIL: duration=$(awk -v a="$T_START" -v b="$(up)" 'BEGIN{printf "%.0f", b-a}')s jvm-retries=$retries"
  echo "RESCAN: $r snapmount: ${STEPS[*]:-nothing}"
  echo "RESCAN-RESULT: $r failed=${#FAILS[@]}${FAILS[*]:+ (${FAILS[*]})}"
  [ $r = PASS ]; exit $?
}
abort() { fail "$1" "${2:-}"; finish; }

# ct NAME ARGS...: a CLI command (a fresh JVM), retried when the JVM died of a signal (TCG JIT crash)
ct() {
  local name=$1 rc try; shift
  for try in $(seq 1 "$CT_TRIES"); do
    ( cd "$OUT" && timeout 300 "$CT" "$@" --state-dir "$STATE" ) > "$OUT/$name.txt" 2>&1; rc=$?
    if [ $rc -ge 128 ] && [ $rc != 124 ] && [ "$try" -lt "$CT_TRIES" ]; then
      log "RETRY: '$name' JVM died (rc=$rc)$(jvm_crash), trying again"
      cp "$OUT/$name.txt" "$OUT/$name.try$try.txt"; echo "retry $name rc=$rc" >> "$OUT/retries.txt"; continue
    fi
    break
  done
  return $rc
}
port_listening() {
  local hexport; hexport=$(printf '%04X' "$PORT")
  awk -v p=":$hexport" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END{exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# ============================================================================ 1. target
log "snapmount test: kernel $(uname -r), clonetarget $(cat /project/COMMIT 2>/dev/null)"
mkdir -p "$STATE"
cat > /scratch/ct.toml <<EOF
[server]
listen = ["$PORTAL"]

[[volume]]
name = "data"
path = "/scratch/data.img"
size = "256M"
[volume.snapshots]
limit = "256M"

[[target]]
iqn = "$IQN"
lun = [ {lun = 0, volume = "data"} ]
EOF
cp /scratch/ct.toml "$OUT/ct.toml"
TPID=""
for try in 1 2; do
  ( cd "$OUT" && exec setsid "$CT" serve --config /scratch/ct.toml --state-dir "$STATE" --admin-listen off ) >> "$OUT/target.log" 2>&1 < /dev/null &
  TPID=$!
  deadline=$(( $(date +%s) + 150 ))
  while [ "$(date +%s)" -lt $deadline ]; do
    if port_listening && [ -S "$STATE/admin.sock" ]; then break 2; fi
    kill -0 $TPID 2>/dev/null || break
    sleep 0.25
  done
  wait $TPID 2>/dev/null; rc=$?
  log "target did not start (try $try, rc=$rc)$(jvm_crash): $(tail -n 5 "$OUT/target.log" | tr '\n' ' ' | cut -c1-300)"
  [ $try = 1 ] && [ $rc -ge 128 ] || abort target-start
  echo "retry target rc=$rc" >> "$OUT/retries.txt"; rm -f "$STATE/admin.sock" "$STATE/server.lock"
done
ok target "pid $TPID listening"

# ============================================================================ 2. login, mkfs, mount
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
timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -o update -n node.session.timeo.replacement_timeout -v 30 > /dev/null
timeout 90 iscsiadm -m node -T $IQN -p $PORTAL --login > "$OUT/login.txt" 2>&1 || abort login "$(cat "$OUT/login.txt")"
SID=""; for s in /sys/class/iscsi_session/session*; do [ "$(cat "$s/targetname" 2>/dev/null)" = $IQN ] && SID=${s##*session}; done
[ -n "$SID" ] || abort no-session
disk_of() {  # disk_of LUN -> sdX of our session, once it has a size
  local d b
  for d in /sys/class/iscsi_session/session"$SID"/device/target*/*:*:*:"$1"; do
    [ -d "$d/block" ] || continue
    b=$(ls "$d/block" | head -n 1); [ -n "$b" ] && [ "$(cat "/sys/block/$b/size" 2>/dev/null || echo 0)" -gt 0 ] && { echo "$b"; return 0; }
  done
  return 1
}
wait_disk() { local dl=$(( $(date +%s) + MAP_TIMEOUT )) d; while [ "$(date +%s)" -lt $dl ]; do d=$(disk_of "$1") && { echo "$d"; return 0; }; sleep 0.1; done; return 1; }
D0=$(wait_disk 0) || abort lun0-disk
echo 120 > "/sys/block/$D0/device/timeout"
ok login "session $SID, LUN 0 = $D0"
timeout 300 mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "/dev/$D0" > "$OUT/mkfs.txt" 2>&1 || abort mkfs "$(cat "$OUT/mkfs.txt")"
mkdir -p /mnt/origin /mnt/snap
timeout 60 mount -t ext4 "/dev/$D0" /mnt/origin || abort mount-origin
ok mkfs-mount "ext4 on $D0 at /mnt/origin"

# ============================================================================ 3. files, freeze, snapshot
mkfile() { head -c $(( (RANDOM * 32 + RANDOM % 32) % 1048576 + 1 )) /dev/urandom > "$1"; }
mkdir -p /mnt/origin/pre
for i in $(seq 1 "$NPRE"); do mkfile "/mnt/origin/pre/f$i"; done
(cd /mnt/origin && find pre -type f | sort | xargs sha256sum) > /tmp/pre.sha256
cp /tmp/pre.sha256 "$OUT/pre.sha256"
sync
T0=$(up)
fsfreeze -f /mnt/origin || abort fsfreeze
ct snap-create snapshot create data@frozen; rc=$?
fsfreeze -u /mnt/origin || fail fsfreeze-u
T1=$(up)
[ $rc = 0 ] || abort snapshot-create "rc=$rc: $(cat "$OUT/snap-create.txt")"
ok snapshot "data@frozen while frozen ($(tr '\n' ' ' < "$OUT/snap-create.txt" | sed 's/ *$//'); frozen $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s)"

# ============================================================================ 4. keep writing to the origin
mkdir -p /mnt/origin/post
for i in $(seq 1 "$NPOST"); do mkfile "/mnt/origin/post/g$i"; done
mkfile /mnt/origin/pre/f1        # overwritten after the snapshot
rm -f /mnt/origin/pre/f2         # deleted after the snapshot
sync
(cd /mnt/origin && find post -type f | sort | xargs sha256sum) > "$OUT/post.sha256"
ok origin-writes "$NPOST new files, pre/f1 overwritten, pre/f2 deleted"

# ============================================================================ 5. map the snapshot live
AEN0=$(grep -c 'Read AEN 0' "$OUT/iscsid.log")
TM=$(up)
ct map1 lun map $IQN data@frozen --lun 1 || abort lun-map "$(cat "$OUT/map1.txt")"
TM1=$(up)
D1=$(wait_disk 1) || abort snapshot-disk "no disk for LUN 1 within $MAP_TIMEOUT s (AENs read by iscsid: $(( $(grep -c 'Read AEN 0' "$OUT/iscsid.log") - AEN0 )))"
TD=$(up)
echo 120 > "/sys/block/$D1/device/timeout"
SID2=""; for s in /sys/class/iscsi_session/session*; do [ "$(cat "$s/targetname" 2>/dev/null)" = $IQN ] && SID2="$SID2${s##*session}"; done
[ "$SID2" = "$SID" ] || fail session-changed "sessions now: $SID2"
AEN=$(( $(grep -c 'Read AEN 0' "$OUT/iscsid.log") - AEN0 ))
RO=$(cat "/sys/block/$D1/ro")
ok snapshot-lun "LUN 1 = $D1 $(awk -v a="$TM1" -v b="$TD" 'BEGIN{printf "%.1f", b-a}') s after the map command returned (it took $(awk -v a="$TM" -v b="$TM1" 'BEGIN{printf "%.1f", b-a}') s), same session $SID, AENs read by iscsid: $AEN, ro=$RO"
[ "$AEN" -ge 1 ] || fail no-aen "iscsid read no AEN"
dmesg | grep -E "\[$D1\]" | tail -n 6 > "$OUT/dmesg-snapdisk.txt"
grep -q 'Write Protect is on' "$OUT/dmesg-snapdisk.txt" && ok write-protect "the kernel sees Write Protect on" || fail write-protect-not-seen "no 'Write Protect is on' for $D1"

# ============================================================================ 6. e2fsck, mount read-only, compare
timeout 300 e2fsck -fn "/dev/$D1" > "$OUT/e2fsck-snap.txt" 2>&1; rc=$?
result "e2fsck_snapshot=$rc"
[ $rc = 0 ] && ok e2fsck "e2fsck -fn clean: $(tail -n 1 "$OUT/e2fsck-snap.txt")" || fail e2fsck "rc=$rc: $(tail -n 3 "$OUT/e2fsck-snap.txt" | tr '\n' ' ')"
timeout 60 mount -t ext4 -o ro,noload "/dev/$D1" /mnt/snap || abort mount-snapshot
(cd /mnt/snap && sha256sum -c --quiet /tmp/pre.sha256) > "$OUT/verify-pre.txt" 2>&1; rc=$?
[ $rc = 0 ] && ok pre-files "$NPRE files of before the snapshot, with their content (pre/f1 the old one, pre/f2 present)" || fail pre-files "$(head -n 5 "$OUT/verify-pre.txt" | tr '\n' ' ')"
n=$(find /mnt/snap -path '*/post*' | wc -l)
[ "$n" = 0 ] && ok no-post-files "none of the later files in the snapshot" || fail post-files-in-snapshot "$n entries under /mnt/snap/post"
(cd /mnt/origin && sha256sum -c --quiet "$OUT/post.sha256") > "$OUT/verify-post.txt" 2>&1 || fail origin-post "$(head -n 3 "$OUT/verify-post.txt")"
[ ! -e /mnt/origin/pre/f2 ] && ! cmp -s /mnt/origin/pre/f1 /mnt/snap/pre/f1 && ok origin-differs "the origin has the later state (f1 new, f2 gone, post files ok)" || fail origin-state "f1/f2 on the origin"
# ============================================================================ 7. read-only
e=$(timeout 60 dd if=/dev/zero of="/dev/$D1" bs=4096 count=1 seek=100 oflag=direct conv=notrunc status=none 2>&1) \
  && fail snapshot-writable "a write to $D1 succeeded" || ok snapshot-read-only "write refused: $(echo "$e" | head -n 1)"
umount /mnt/snap
finish
