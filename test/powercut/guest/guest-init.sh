#!/bin/bash
# PID 1 of one power-cut boot (entered from vm-initiator's initramfs via switch_root: the initramfs
# mounts the root snapshot, this directory as /harness and the results share as /out).
#
# One boot = one round of a series (see test/powercut/powercut.py):
#   mount the data disk /dev/vdb at /data (journal replay), umount, e2fsck -fn, mount again;
#   metadata check of the clone (server stopped); start clonetarget (retried once if the JVM dies
#   before listening); log in with the kernel initiator; scan every LUN (verification of the
#   previous cut, done on the host; the first boot's scan checks the fresh LUNs); clone status;
#   then either
#     ACTION=write: start the stamped writer and keep writing until the host kills QEMU, or
#     ACTION=final: sample hydration, stop the target cleanly (SIGTERM), metadata check again,
#                   umount, e2fsck -fn, power off.
# Settings come from /out/run.env (written by the host). Everything of boot N goes to /out/bNNN/.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C LC_ALL=C TERM=${TERM:-vt100}
umask 022
cd /
CON=/dev/ttyS0

mount -t tmpfs -o mode=0755,size=64m tmpfs /run
mkdir -p /run/lock /dev/pts /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
hostname powercut
ip link set lo up

# shellcheck disable=SC1091
. /out/run.env
R=${ROUND:?}                 # the boot number within the series (1, 2, ...)
RD=/out/b$(printf %03d "$R")
mkdir -p "$RD"
LOG=$RD/guest.log
T0=$(cut -d' ' -f1 /proc/uptime)

say() { local m; m="[guest r$R $(cut -d' ' -f1 /proc/uptime)] $*"; echo "$m" >> "$LOG"; echo "$m" > "$CON"; }
result() { echo "$1" >> "$RD/result.txt"; say "RESULT $1"; }
poweroff_now() {
  if [ "${1:-}" != fast ]; then sync; fi
  echo o > /proc/sysrq-trigger; sleep 20; echo b > /proc/sysrq-trigger
}
jvm_crash() { local f; f=$(ls "$RD"/hs_err_pid*.log 2>/dev/null | tail -n 1); [ -n "$f" ] && echo " (JVM crashed: $(basename "$f"): $(grep -m1 -E 'SIG[A-Z]+ \(' "$f" | sed 's/^# *//'))"; }
fatal() { local m; m="$*$(jvm_crash)"; result "error=$m"; say "FATAL: $m"; dmesg > "$RD/dmesg.txt" 2>&1; poweroff_now fast; }

say "booted: kernel $(uname -r), net: $(ip -o link show | awk -F': ' '{printf "%s ", $2}')action=$ACTION kind=$KIND mode=$MODE"
( sleep "${GUEST_TIMEOUT:-840}"; say "WATCHDOG: guest timeout ${GUEST_TIMEOUT:-840}s"; result "error=watchdog"; dmesg > "$RD/dmesg.txt" 2>&1; poweroff_now fast ) &

for spec in ${GUEST_MOUNTS:-}; do
  tag=${spec%%:*}; path=${spec#*:}
  mkdir -p "$path"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose "$tag" "$path" || fatal "cannot mount 9p $tag"
done
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
modprobe virtio_rng 2>/dev/null

# ------------------------------------------------------------------ data disk
i=0; while [ ! -b /dev/vdb ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -b /dev/vdb ] || fatal "no /dev/vdb"
say "vdb: write_cache=$(cat /sys/block/vdb/queue/write_cache) size=$(( $(cat /sys/block/vdb/size) / 2048 ))MiB"
result "vdb_write_cache=$(tr ' ' _ < /sys/block/vdb/queue/write_cache)"
MOUNT_OPTS=${MOUNT_OPTS:-}
mkdir -p /data
timeout 120 mount -t ext4 ${MOUNT_OPTS:+-o $MOUNT_OPTS} /dev/vdb /data || fatal "cannot mount /dev/vdb"
timeout 60 umount /data || fatal "cannot umount /data"
timeout 120 e2fsck -fn /dev/vdb > "$RD/e2fsck-boot.txt" 2>&1; rc=$?
result "fsck_boot=$rc"
[ $rc = 0 ] || say "e2fsck -fn after journal replay: rc=$rc (see e2fsck-boot.txt)"
timeout 120 mount -t ext4 ${MOUNT_OPTS:+-o $MOUNT_OPTS} /dev/vdb /data || fatal "cannot mount /dev/vdb again"
say "mounted /data ($(grep ' /data ' /proc/mounts | awk '{print $4}')): $(ls /data | tr '\n' ' ')"
ls -ls /data > "$RD/data-ls.txt" 2>&1

CT=/project/bin/clonetarget
# run a short clonetarget command (a fresh JVM); retried once if the JVM died of a signal
ct_cmd() {  # ct_cmd NAME ARGS...
  local name=$1; shift
  local rc try
  for try in 1 2; do
    ( cd "$RD" && timeout 300 "$CT" "$@" ) > "$RD/$name.txt" 2>&1; rc=$?
    if [ $rc -ge 128 ] && [ $rc != 124 ] && [ $try = 1 ]; then
      say "RETRY: '$name' JVM died (rc=$rc), once more"; cp "$RD/$name.txt" "$RD/$name.try1.txt"
      echo "retry $name rc=$rc" >> "$RD/retries.txt"; continue
    fi
    break
  done
  return $rc
}

meta_check() {  # meta_check LABEL
  if [ -f /data/clone.img.meta ]; then
    ct_cmd "meta-$1" metadata check /data/clone.img.meta --dest /data/clone.img --source /data/golden.img; local rc=$?
    result "meta_$1=$rc"
    say "metadata check ($1): rc=$rc: $(tr '\n' ' ' < "$RD/meta-$1.txt" | cut -c1-300)"
  else
    result "meta_$1=absent"
    say "metadata check ($1): no /data/clone.img.meta yet"
  fi
}
case "$KIND" in clone|both) meta_check boot ;; esac

# ------------------------------------------------------------------ snapshots (KIND=snapshot)
# The origin is a file volume "data" (/data/lun.img) with [volume.snapshots]; its snapshot store
# is /data/state/snapshots/data/. While no server runs: metadata check (rc recorded) and metadata
# dump -o json (the snapshots it holds); the server then starts from a generated --config with
# LUN 0 = data and LUN 1.. = every valid snapshot (read-only), so that every one is scanned.
SNAPMETA=/data/state/snapshots/data/snapshots.meta
SNAPS=()
snap_meta() {  # snap_meta LABEL
  if [ -f $SNAPMETA ]; then
    ct_cmd "snapmeta-$1" metadata check $SNAPMETA; local rc=$?
    result "snapmeta_$1=$rc"
    say "snapshot metadata check ($1): rc=$rc: $(tr '\n' ' ' < "$RD/snapmeta-$1.txt" | cut -c1-300)"
    ct_cmd "snapdump-$1" metadata dump $SNAPMETA -o json || say "metadata dump ($1) failed: $(head -c 300 "$RD/snapdump-$1.txt")"
  else
    result "snapmeta_$1=absent"
    say "snapshot metadata check ($1): no $SNAPMETA yet"
  fi
}
snap_config() {  # snap_config FILE SNAPSHOT...: the server's configuration with these snapshot LUNs
  local f=$1 i=1 s; shift
  { echo '[server]'; echo 'listen = ["127.0.0.1:3260"]'; echo
    echo '[[volume]]'; echo 'name = "data"'; echo 'path = "/data/lun.img"'; echo "size = \"$LUN_SIZE\""
    echo '[volume.snapshots]'; echo "limit = \"${SNAP_LIMIT:-512M}\""; echo
    echo '[[target]]'; echo "iqn = \"iqn.2026-11.io.clonetarget:powercut\""
    printf 'lun = [ {lun = 0, volume = "data"}'
    for s in "$@"; do printf ', {lun = %d, volume = "data@%s"}' $i "$s"; i=$((i+1)); done
    echo ' ]'; } > "$f"
}
if [ "$KIND" = snapshot ]; then
  snap_meta boot
  if [ -f "$RD/snapdump-boot.txt" ]; then
    mapfile -t SNAPS < <(sed -n '/^{/,$p' "$RD/snapdump-boot.txt" | jq -r '.snapshots[] | select(.state == "valid") | .name' 2>/dev/null)
    sed -n '/^{/,$p' "$RD/snapdump-boot.txt" | jq -r '.snapshots[] | "\(.name) \(.state) \(.id)"' > "$RD/snapshots-boot.txt" 2>/dev/null
  fi
  say "snapshots in the store: ${SNAPS[*]:-none}"
  snap_config /tmp/ct.toml "${SNAPS[@]}"
  snap_config /tmp/ct-origin.toml
  cp /tmp/ct.toml "$RD/ct.toml"
fi

# ------------------------------------------------------------------ target
PORT=3260
IQN=iqn.2026-11.io.clonetarget:powercut
LUNARGS=()
case "$KIND" in
  file)  LUNARGS=(--lun /data/lun.img,size=$LUN_SIZE) ;;
  clone) LUNARGS=(--clone "/data/golden.img,dest=/data/clone.img,region=64K,rate=$RATE") ;;
  both)  LUNARGS=(--lun /data/lun.img,size=$LUN_SIZE --clone "/data/golden.img,dest=/data/clone.img,region=64K,rate=$RATE") ;;
  snapshot) LUNARGS=(--config /tmp/ct.toml) ;;
  pr)    LUNARGS=(--lun /data/lun.img,size=$LUN_SIZE) ;;
esac
if [ "$KIND" = pr ]; then   # the reservation files as the cut left them (before the target reads them)
  { ls -la /data/state/reservations/*/ 2>&1; for f in /data/state/reservations/*/*; do [ -f "$f" ] && { echo "== $f"; od -A d -t x1 "$f"; }; done; } > "$RD/prfiles-before-start.txt" 2>&1
fi
port_listening() {
  local hexport; hexport=$(printf '%04X' "$PORT")
  awk -v p=":$hexport" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END{exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
TPID=""
start_target() {
  local try
  for try in 1 2; do
    # the admin API is off: under TCG its first start (an Argon2id hash) and every HTTPS status call
    # (EC math) compile much more code, and the JVM's JIT-crash-at-random grows with it; the CLI
    # then uses the local socket. The API is not what this test is about.
    local quick=(--listen 127.0.0.1:$PORT --target $IQN)
    [ "$KIND" = snapshot ] && quick=()
    ( cd "$RD" && exec setsid "$CT" serve "${quick[@]}" --state-dir /data/state \
        --admin-listen off "${LUNARGS[@]}" ) \
        > "$RD/target.log" 2>&1 < /dev/null &
    TPID=$!
    local deadline=$(( $(date +%s) + 150 ))
    while [ "$(date +%s)" -lt $deadline ]; do
      if port_listening; then say "target pid $TPID listening (try $try)"; return 0; fi
      if ! kill -0 $TPID 2>/dev/null; then break; fi
      sleep 0.25
    done
    wait $TPID 2>/dev/null; local rc=$?
    say "target did not start (try $try, rc=$rc): $(tail -n 5 "$RD/target.log" | tr '\n' ' ' | cut -c1-400)"
    cp "$RD/target.log" "$RD/target.try$try.log"
    kill -KILL -- -$TPID 2>/dev/null
    if [ $try = 1 ] && [ $rc -ge 128 ]; then
      say "RETRY: target JVM died of a signal (rc=$rc) before listening, starting it once more"
      echo "retry target rc=$rc" >> "$RD/retries.txt"; continue
    fi
    return 1
  done
  return 1
}
start_target || fatal "target-start"
[ "$KIND" = pr ] && . /harness/pr-rounds.sh   # persistent reservations (never returns)

# ------------------------------------------------------------------ initiator
echo "InitiatorName=iqn.1993-08.org.debian:01:powercut" > /etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi
modprobe iscsi_tcp || fatal "modprobe iscsi_tcp"
modprobe sd_mod; modprobe sg
setsid iscsid -f > "$RD/iscsid.log" 2>&1 < /dev/null &
for i in $(seq 1 50); do timeout 5 iscsiadm -m session 2>&1 | grep -qi 'can not connect\|could not connect' || break; sleep 0.1; done
PORTAL=127.0.0.1:$PORT
timeout 30 iscsiadm -m discoverydb -t st -p $PORTAL -o new > /dev/null || fatal "discoverydb"
timeout 60 iscsiadm -m discoverydb -t st -p $PORTAL --discover > "$RD/discovery.txt" 2>&1 || fatal "discovery"
timeout 10 iscsiadm -m node -T $IQN -p $PORTAL > /dev/null 2>&1 || timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -o new > /dev/null
nodeset() { timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -o update -n "$1" -v "$2" > /dev/null; }
nodeset node.startup manual
nodeset node.session.timeo.replacement_timeout 60
nodeset 'node.conn[0].timeo.login_timeout' 15
nodeset node.session.initial_login_retry_max 4
timeout 90 iscsiadm -m node -T $IQN -p $PORTAL --login >> "$LOG" 2>&1 || fatal "login"
# LUN number -> /dev/sdX
lun_dev() {
  local s d
  for s in /sys/class/iscsi_session/session*; do
    [ "$(cat "$s/targetname" 2>/dev/null)" = $IQN ] || continue
    for d in "$s"/device/target*/*:*:*:"$1"; do
      [ -d "$d/block" ] && { echo "/dev/$(ls "$d/block" | head -n1)"; return 0; }
    done
  done
  return 1
}
declare -A DEVS=()
case "$KIND" in file) NAMES=(file) ;; clone) NAMES=(clone) ;; both) NAMES=(file clone) ;; esac
if [ "$KIND" = snapshot ]; then NAMES=(file); for s in "${SNAPS[@]}"; do NAMES+=("snap-$s"); done; fi
wait_dev() {  # wait_dev LUN -> /dev/sdX once it has a size
  local dev="" i
  for i in $(seq 1 150); do
    dev=$(lun_dev "$1") && [ -b "$dev" ] && [ "$(cat "/sys/block/${dev#/dev/}/size")" -gt 0 ] && { echo "$dev"; return 0; }
    sleep 0.2
  done
  return 1
}
for lun in "${!NAMES[@]}"; do
  name=${NAMES[$lun]}
  dev=$(wait_dev "$lun")
  [ -n "$dev" ] || fatal "no disk for LUN $lun ($name)"
  DEVS[$name]=$dev
  b=${dev#/dev/}
  echo 120 > "/sys/block/$b/device/timeout"
  say "LUN $lun ($name) = $dev: $(( $(cat /sys/block/$b/size) / 2048 )) MiB, write_cache=$(cat /sys/block/$b/queue/write_cache), fua=$(cat /sys/block/$b/queue/fua 2>/dev/null || echo ?), lbs=$(cat /sys/block/$b/queue/logical_block_size)"
  result "lun_${name}_write_cache=$(tr ' ' _ < /sys/block/$b/queue/write_cache) lun_${name}_fua=$(cat /sys/block/$b/queue/fua 2>/dev/null || echo '?')"
done
dmesg | grep -E 'sd [0-9:]+: \[sd.\] (Write cache|Mode Sense|.*FUA)' | tail -n 4 | while read -r l; do say "dmesg: $l"; done

clone_status() {  # clone_status N  -> status-N.json
  ct_cmd "status-$1" clone status --output json --state-dir /data/state || say "clone status $1 failed: $(head -c 300 "$RD/status-$1.txt")"
}

# ------------------------------------------------------------------ verify the previous cut
case "$KIND" in clone|both) clone_status 0 ;; esac
if [ "$KIND" = snapshot ] && [ "${SNAP_LIST:-0}" = 1 ]; then   # the server's view too (one more JVM: slow under TCG)
  ct_cmd snaplist snapshot list -o json --state-dir /data/state || say "snapshot list failed: $(head -c 300 "$RD/snaplist.txt")"
fi
for name in "${NAMES[@]}"; do
  timeout 600 /pc/pcio scan "${DEVS[$name]}" "$name" "$RD/scan-$name.txt" "$GSEED" >> "$LOG" 2>&1 || fatal "scan $name"
done
say "scans done"
echo done > "$RD/scan-done"
case "$KIND" in clone|both) clone_status 1 ;; esac

# ------------------------------------------------------------------ snapshots: write rounds, take and delete snapshots until the cut
if [ "$ACTION" = write ] && [ "$KIND" = snapshot ]; then
  . /harness/snapshot-rounds.sh
fi

# ------------------------------------------------------------------ write until the power cut
if [ "$ACTION" = write ]; then
  WARGS=()
  for name in "${NAMES[@]}"; do WARGS+=("${DEVS[$name]}:$name"); done
  if [ "${TRACE:-0}" = 1 ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
    TR=/sys/kernel/tracing
    echo 8192 > $TR/buffer_size_kb
    echo 1 > $TR/events/scsi/scsi_dispatch_cmd_start/enable
    echo 1 > $TR/events/block/block_rq_issue/enable
    echo > $TR/trace; echo 1 > $TR/tracing_on
    ( sleep "${TRACE_SECONDS:-4}"; echo 0 > $TR/tracing_on; cat $TR/trace > "$RD/trace.txt"; say "trace saved" ) &
  fi
  say "writer starting: ${WARGS[*]} seed=$WSEED threads=$THREADS syncs=${SYNC_PERMILLE:-50}/1000${SABOTAGE:+ SABOTAGE}"
  /pc/pcio write --dir "$RD" --round "$R" --seed "$WSEED" --threads "$THREADS" --sync-permille "${SYNC_PERMILLE:-50}" ${SABOTAGE:+--sabotage} \
      --max-seconds "${WRITE_MAX_SECONDS:-400}" "${WARGS[@]}" 2> "$RD/writer.err" &
  WPID=$!
  n=2; died=0
  while kill -0 $WPID 2>/dev/null; do
    case "$KIND" in clone|both) sleep "${STATUS_INTERVAL:-8}"; clone_status $n; n=$((n+1)) ;; *) sleep 5 ;; esac
    if [ $died = 0 ] && ! kill -0 $TPID 2>/dev/null; then
      died=1; result "target_died=yes$(jvm_crash | tr ' ' _)"; say "the target died while the writer runs$(jvm_crash)"
    fi
  done
  say "writer ended before the cut?! $(cat "$RD/writer.err" | tr '\n' ' ')"
  result "error=writer-ended"
  sleep 600
  poweroff_now fast
fi

# ------------------------------------------------------------------ final boot: clean stop
case "$KIND" in clone|both) sleep 10; clone_status 2 ;; esac
timeout 60 iscsiadm -m node --logoutall=all >> "$LOG" 2>&1 || say "logout failed"
kill -TERM $TPID 2>/dev/null
for i in $(seq 1 600); do kill -0 $TPID 2>/dev/null || break; sleep 0.1; done
if kill -0 $TPID 2>/dev/null; then say "target did not stop on SIGTERM within 60 s"; kill -KILL -- -$TPID; result "target_stop=killed"
else wait $TPID; result "target_stop=$?"; fi
case "$KIND" in clone|both) meta_check final ;; snapshot) snap_meta final ;; esac
sync
timeout 60 umount /data || say "umount /data failed"
timeout 120 e2fsck -fn /dev/vdb > "$RD/e2fsck-final.txt" 2>&1; result "fsck_final=$?"
dmesg > "$RD/dmesg.txt" 2>&1
result "final=done"
say "final boot done, powering off"
poweroff_now
