#!/bin/bash
# test/rescan/guest/multipath-test.sh - implicit ALUA and dm-multipath with the Linux kernel
# initiator (run.sh --test multipath; runs inside the VM like offload-test.sh; needs an image with
# multipath-tools and nftables: run.sh adds them to VM_EXTRA_PACKAGES).
#
#   1. clonetarget serve with one LUN (a $LUN_MB MiB file) on two portals of one target,
#      127.0.0.1:3260 and 127.0.0.2:3260 (both portal group 1); the admin API off. udevd runs
#      (multipath reads the WWID from udev and creates /dev/mapper through it).
#   2. open-iscsi: SendTargets on 127.0.0.1, login on both portals: two sessions, two SCSI disks
#      for LUN 0. scsi_dh_alua must attach to both (dh_state alua, access_state). sg_rtpg on each
#      path: one target port group, id 1, active/optimized. multipathd with /etc/multipath.conf
#      (vendor CLONETGT: prio alua, hardware_handler "1 alua", group_by_prio, tur, no_path_retry
#      queue): `multipath -ll` must show ONE map with both disks, both "active ready", the alua
#      handler and prio 50.
#   3. mkfs.ext4 on the map, mount, a writer that keeps writing files ($FILE_KB KiB of random
#      data each, dd conv=fsync) and records each one it wrote (name, sha256, start, end) in
#      $OUT/writer.log. Then, for each portal in turn (127.0.0.2 first, then 127.0.0.1), an nft
#      rule drops every packet to and from that portal's port 3260 for $OUTAGE s (a pulled cable:
#      the target's portal stays open; `clonetarget portal remove` would not do, it leaves
#      established connections up, see docs/operations.md), then it is deleted. Measured: how
#      long until multipathd marks the path failed, how long until it is active again after the
#      rule goes, the writer's longest gap between two completed files, files written while the
#      path was down, and the writes the other disk took meanwhile. `multipath -ll` before,
#      during and after each outage is in $OUT/mpath-*.txt and in the log.
#   4. stop the writer, umount, e2fsck -fn on the map (must be clean), mount read-only, and every
#      file in writer.log must have its sha256.
# Per check "MULTIPATH: PASS|FAIL name: detail"; at the end "RESCAN: PASS|FAIL multipath: ..." and
# "RESCAN-RESULT: PASS|FAIL failed=N (...)" (the lines run.sh reads).
# Settings: LUN_MB (256), FILE_KB (256), OUTAGE (20 s), FAIL_WAIT (60 s: a path must be failed by
# then), BACK_WAIT (90 s: and active again after the rule is gone), REPLACEMENT_TIMEOUT (5),
# NOOP (2: node.conn[0].timeo.noop_out_interval and _timeout), CT_TRIES (4), ISCSID_DEBUG (1).
set -u
NAME=multipath
OUT=/out
: "${LUN_MB:=256}" "${FILE_KB:=256}" "${OUTAGE:=20}" "${FAIL_WAIT:=60}" "${BACK_WAIT:=90}"
: "${REPLACEMENT_TIMEOUT:=5}" "${NOOP:=2}"
CT=/project/bin/clonetarget
STATE=/scratch/state
PORT=3260
P1=127.0.0.1
P2=127.0.0.2
PORTAL=$P1:$PORT
IQN=iqn.2026-12.io.clonetarget:mpath
MNT=/mnt/mp
SERVE_ARGS=(--listen $P1:$PORT --listen $P2:$PORT --target $IQN --lun /scratch/mp.img,size=${LUN_MB}M --admin-listen off)
FAILS=(); STEPS=(); CHECKS=()
# shellcheck source=common.sh
. /harness/common.sh
: > "$RES"
T_START=$(up)
WPID=""; UDEVD_PID=""; MPD_PID=""

check() {  # check NAME OK(0|1) DETAIL
  if [ "$2" = 0 ]; then CHECKS+=("PASS $1"); echo "MULTIPATH: PASS $1: $3"; result "pass=$1"
  else FAILS+=("$1"); CHECKS+=("FAIL $1"); echo "MULTIPATH: FAIL $1: $3"; result "fail=$1"; fi
}
finish() {
  local r=PASS retries=0 npass
  touch /tmp/stop-writer; [ -n "$WPID" ] && { wait "$WPID" 2>/dev/null; WPID=""; }
  timeout 10 nft flush ruleset 2>/dev/null
  mountpoint -q $MNT && timeout 60 umount $MNT
  [ -n "$MPD_PID" ] && { timeout 30 multipath -F > "$OUT/multipath-flush.txt" 2>&1; kill "$MPD_PID" 2>/dev/null; }
  timeout 60 iscsiadm -m node --logoutall=all > "$OUT/logout.txt" 2>&1
  stop_target
  [ -n "${ISCSID_PID:-}" ] && kill "$ISCSID_PID" 2>/dev/null
  [ -n "$UDEVD_PID" ] && kill "$UDEVD_PID" 2>/dev/null
  dmesg > "$OUT/dmesg.txt" 2>&1
  [ ${#FAILS[@]} = 0 ] || r=FAIL
  [ -f "$OUT/retries.txt" ] && retries=$(wc -l < "$OUT/retries.txt")
  npass=$(printf '%s\n' "${CHECKS[@]+"${CHECKS[@]}"}" | grep -c '^PASS')
  echo "RESCAN-DETAIL: duration=$(dt "$T_START" "$(up)")s jvm-retries=$retries"
  echo "RESCAN-CHECKS: ${CHECKS[*]:-none}"
  echo "RESCAN: $r multipath: $npass of ${#CHECKS[@]} checks passed${FAILS[*]:+; failed: ${FAILS[*]}}"
  echo "RESCAN-RESULT: $r failed=${#FAILS[@]}${FAILS[*]:+ (${FAILS[*]})}"
  [ $r = PASS ]; exit $?
}
abort() { check "$1" 1 "${2:-}"; finish; }
oneline() { tr '\n' ' ' < "$1" | sed 's/  */ /g' | cut -c1-${2:-600}; }

# ============================================================================ 1. udevd, target
log "multipath test: kernel $(uname -r), open-iscsi $(iscsiadm --version | awk '{print $NF}'), $(multipath -h 2>&1 | grep -m1 -o 'multipath-tools v[0-9.]*'), $(nft --version 2>&1), clonetarget $(cat /project/COMMIT 2>/dev/null)"
for c in multipath multipathd nft mkfs.ext4 sg_rtpg; do command -v $c > /dev/null || abort tools "no $c in the image (VM_EXTRA_PACKAGES=multipath-tools,nftables, see README.md)"; done
modprobe dm_multipath; modprobe dm_round_robin; modprobe scsi_dh_alua
mkdir -p /run/udev
/lib/systemd/systemd-udevd --resolve-names=never > "$OUT/udevd.log" 2>&1 < /dev/null &
UDEVD_PID=$!
for _ in $(seq 1 100); do [ -S /run/udev/control ] && break; sleep 0.1; done
[ -S /run/udev/control ] || abort udevd "$(cat "$OUT/udevd.log")"
mkdir -p "$STATE"
start_target || abort target-start "$(tail -n 5 "$OUT/target.log" | tr '\n' ' ')"
listening() { awk 'FNR>1 && $4=="0A" {print $2}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep ":$(printf %04X $PORT)$" | tr '\n' ' '; }   # Java binds IPv6 sockets (::ffff:127.0.0.x)
for _ in $(seq 1 40); do [ "$(listening | wc -w)" -ge 2 ] && break; sleep 0.25; done
LISTEN=$(listening)
[ "$(echo "$LISTEN" | wc -w)" = 2 ] && check two-portals 0 "listening sockets (hex): $LISTEN" || abort two-portals "listening: $LISTEN"

# ============================================================================ 2. two paths, ALUA, one map
start_iscsid || abort iscsid
timeout 60 iscsiadm -m discovery -t st -p $PORTAL > "$OUT/discovery.txt" 2>&1 || abort discovery "$(oneline "$OUT/discovery.txt")"
grep -q "^$P2:$PORT,1 $IQN" "$OUT/discovery.txt" && grep -q "^$P1:$PORT,1 $IQN" "$OUT/discovery.txt" \
  && check discovery 0 "SendTargets on $PORTAL: $(oneline "$OUT/discovery.txt")" \
  || check discovery 1 "SendTargets on $PORTAL did not list both portals with tag 1: $(oneline "$OUT/discovery.txt")"
# a node record for the second portal even when SendTargets did not give it (the check above failed)
grep -q "^$P2:$PORT" "$OUT/discovery.txt" || timeout 30 iscsiadm -m discovery -t st -p $P2:$PORT >> "$OUT/discovery.txt" 2>&1
for p in $P1 $P2; do
  for kv in node.session.timeo.replacement_timeout=$REPLACEMENT_TIMEOUT node.conn[0].timeo.noop_out_interval=$NOOP node.conn[0].timeo.noop_out_timeout=$NOOP; do
    timeout 10 iscsiadm -m node -T $IQN -p $p:$PORT -o update -n "${kv%%=*}" -v "${kv#*=}" > /dev/null
  done
done
sid_of() { timeout 10 iscsiadm -m session 2>/dev/null | awk -v p="$1:$PORT," -v t=$IQN 'index($3, p) == 1 && $4 == t {gsub(/[][]/, "", $2); print $2; f=1; exit} END{exit !f}'; }
disk_of() {  # disk_of SID -> sdX (LUN 0), once it has a size
  local d b
  for d in /sys/class/iscsi_session/session"$1"/device/target*/*:*:*:0; do
    [ -d "$d/block" ] || continue
    b=$(ls "$d/block" | head -n 1); [ -n "$b" ] && [ "$(cat "/sys/block/$b/size" 2>/dev/null || echo 0)" -gt 0 ] && { echo "$b"; return 0; }
  done
  return 1
}
wait_disk() { local dl=$(( $(date +%s) + 90 )) d; while [ "$(date +%s)" -lt $dl ]; do d=$(disk_of "$1") && { echo "$d"; return 0; }; sleep 0.1; done; return 1; }
for p in $P1 $P2; do
  timeout 90 iscsiadm -m node -T $IQN -p $p:$PORT --login > "$OUT/login-$p.txt" 2>&1 || abort login-$p "$(oneline "$OUT/login-$p.txt")"
done
S1=$(sid_of $P1) && S2=$(sid_of $P2) || abort sessions "$(timeout 10 iscsiadm -m session 2>&1 | tr '\n' ' ')"
D1=$(wait_disk "$S1") && D2=$(wait_disk "$S2") || abort disks "session $S1: ${D1:-none}, session $S2: ${D2:-none}"
timeout 30 udevadm settle
log "path 1: $P1 session $S1 $D1; path 2: $P2 session $S2 $D2"
[ "$D1" != "$D2" ] && check two-disks 0 "LUN 0 is $D1 (session $S1 via $P1) and $D2 (session $S2 via $P2); vendor '$(cat /sys/block/$D1/device/vendor)' model '$(cat /sys/block/$D1/device/model)', $(( $(cat /sys/block/$D1/size) / 2048 )) MiB" \
  || abort two-disks "$D1 / $D2"
W1=$(cat /sys/block/$D1/device/wwid 2>/dev/null); W2=$(cat /sys/block/$D2/device/wwid 2>/dev/null)
dh="$D1: dh_state=$(cat /sys/block/$D1/device/dh_state 2>/dev/null) access_state=$(cat /sys/block/$D1/device/access_state 2>/dev/null); $D2: dh_state=$(cat /sys/block/$D2/device/dh_state 2>/dev/null) access_state=$(cat /sys/block/$D2/device/access_state 2>/dev/null)"
[ -n "$W1" ] && [ "$W1" = "$W2" ] && check same-wwid 0 "both disks: wwid $W1" || check same-wwid 1 "$D1: '$W1', $D2: '$W2'"
[ "$(cat /sys/block/$D1/device/dh_state 2>/dev/null)" = alua ] && [ "$(cat /sys/block/$D2/device/dh_state 2>/dev/null)" = alua ] \
  && grep -q 'active/optimized' /sys/block/$D1/device/access_state 2>/dev/null && grep -q 'active/optimized' /sys/block/$D2/device/access_state 2>/dev/null \
  && check alua-handler 0 "$dh; dmesg: $(dmesg | grep -m4 'alua: ' | sed 's/^\[[^]]*\] //' | tr '\n' ' ')" \
  || check alua-handler 1 "$dh; dmesg: $(dmesg | grep 'alua' | tail -n 4 | tr '\n' ' ')"
RTPG_OK=0; RTPG=""
for d in $D1 $D2; do
  sg=$(ls /sys/block/$d/device/scsi_generic | head -n 1)
  { echo "# sg_rtpg -d /dev/$sg ($d)"; timeout 60 sg_rtpg -d /dev/$sg 2>&1; echo "# sg_rtpg -H"; timeout 60 sg_rtpg -H /dev/$sg 2>&1;
    echo "# sg_vpd -p di /dev/$sg"; timeout 60 sg_vpd -p di /dev/$sg 2>&1; } > "$OUT/rtpg-$d.txt"
  sed 's/^/  /' "$OUT/rtpg-$d.txt"
  n=$(grep -c 'target port group id' "$OUT/rtpg-$d.txt")   # groups in the decoded answer (-H prints hex only)
  st=$(sed -n '/^# sg_rtpg -d/,/^# sg_rtpg -H/p' "$OUT/rtpg-$d.txt" | grep -m1 -i 'asymmetric access state' | sed 's/.*state *: *//')
  rel=$(sed -n '/^# sg_rtpg -d/,/^# sg_rtpg -H/p' "$OUT/rtpg-$d.txt" | sed -n '/Relative target port ids/{n;p}' | head -n 1 | tr -d ' ')
  [ "$n" = 1 ] && grep -q 'target port group id : 0x1 ' "$OUT/rtpg-$d.txt" && echo "$st" | grep -qi 'active/optimized' || RTPG_OK=1
  RTPG="$RTPG $d: $n group(s), $(grep -m1 'target port group id' "$OUT/rtpg-$d.txt" | sed 's/^ *//'), state $st, relative target port $rel;"
done
cmp -s <(grep -v '^#' "$OUT/rtpg-$D1.txt") <(grep -v '^#' "$OUT/rtpg-$D2.txt") && RTPG="$RTPG RTPG and VPD 83h identical on both paths" || RTPG="$RTPG (the two paths' answers differ: see rtpg-*.txt)"
check rtpg $RTPG_OK "$RTPG"

cat > /etc/multipath.conf <<'EOF'
defaults {
    user_friendly_names yes
    find_multipaths     no
    polling_interval    2
}
blacklist {
    devnode "^vd[a-z]"
}
devices {
    device {
        vendor               "CLONETGT"
        product              ".*"
        path_grouping_policy group_by_prio
        prio                 alua
        hardware_handler     "1 alua"
        path_checker         tur
        path_selector        "round-robin 0"
        failback             immediate
        no_path_retry        queue
        detect_prio          no
    }
}
EOF
cp /etc/multipath.conf "$OUT/multipath.conf"
setsid multipathd -d -s -v3 > "$OUT/multipathd.log" 2>&1 < /dev/null &
MPD_PID=$!
MAP=""
for _ in $(seq 1 120); do
  MAP=$(timeout 10 multipathd show maps raw format "%n" 2>/dev/null | grep -v '^name' | head -n 1)
  [ -n "$MAP" ] && [ "$(timeout 10 multipathd show paths raw format "%m %t" 2>/dev/null | grep -c "^$MAP active")" = 2 ] && break
  sleep 0.5
done
timeout 30 udevadm settle
mpll() { { echo "# $(up) $1"; timeout 20 multipath -ll 2>&1; echo "# multipathd show paths"; timeout 20 multipathd show paths format "%d %i %t %T %o %p %s" 2>&1; } > "$OUT/mpath-$1.txt"; }
mpll initial
sed 's/^/  /' "$OUT/mpath-initial.txt"
NMAPS=$(timeout 20 multipath -ll 2>/dev/null | grep -c 'CLONETGT')
LL=$(sed -n '2,/^# multipathd/p' "$OUT/mpath-initial.txt")
if [ "$NMAPS" = 1 ] && [ -n "$MAP" ] && [ -b /dev/mapper/$MAP ] && echo "$LL" | grep -q "hwhandler='1 alua'" \
   && [ "$(echo "$LL" | grep -E " ($D1|$D2) " | grep -c 'active ready running')" = 2 ] && [ "$(echo "$LL" | grep -c 'prio=50 status=active')" = 1 ]; then
  check one-map 0 "$(echo "$LL" | head -n 3 | tr '\n' ' ' | sed 's/  */ /g'); paths: $(echo "$LL" | grep -E " ($D1|$D2) " | sed 's/^[^0-9]*//' | tr '\n' ';' | sed 's/  */ /g')"
else
  check one-map 1 "maps with CLONETGT: $NMAPS, map '$MAP'; $(echo "$LL" | tr '\n' ' ' | sed 's/  */ /g' | cut -c1-700); multipathd: $(grep -iE 'blacklist|wwid|CLONETGT|error|fail' "$OUT/multipathd.log" | tail -n 6 | tr '\n' ' ' | cut -c1-600)"
  finish
fi
MDEV=/dev/mapper/$MAP

# ============================================================================ 3. ext4, writer, outages
e=$(timeout 300 mkfs.ext4 -F -q -E lazy_itable_init=0,lazy_journal_init=0 $MDEV 2>&1) || abort mkfs "$e"
mkdir -p $MNT
e=$(timeout 60 mount $MDEV $MNT 2>&1) || abort mount "$e"
mkdir -p $MNT/w
check mkfs-mount 0 "mkfs.ext4 and mount of $MDEV ($(df -h $MNT | awk 'NR==2{print $2}'))"
rm -f /tmp/stop-writer; : > "$OUT/writer.log"; : > "$OUT/writer-errors.txt"
writer() {
  local i=0 f s t0
  while [ ! -f /tmp/stop-writer ]; do
    i=$((i + 1)); f=$MNT/w/f$i
    head -c $((FILE_KB * 1024)) /dev/urandom > /tmp/wbuf; s=$(sha256sum < /tmp/wbuf | cut -c1-64)
    t0=$(up)
    if dd if=/tmp/wbuf of=$f bs=64k conv=fsync status=none 2>> "$OUT/writer-errors.txt"; then
      echo "f$i $s $t0 $(up)" >> "$OUT/writer.log"
    else
      echo "f$i ERROR $t0 $(up)" >> "$OUT/writer-errors.txt"
    fi
  done
}
writer & WPID=$!
sleep 5
wcount() { awk '{print $7}' /sys/block/$1/stat; }   # sectors written
pstate() { timeout 10 multipathd show paths raw format "%d %t" 2>/dev/null | awk -v d="$1" '$1==d {print $2}'; }
nfiles() { wc -l < "$OUT/writer.log"; }
# outage N PORTAL DISK OTHER_DISK
outage() {
  local n=$1 p=$2 d=$3 o=$4 t0 tf="" tr tb="" w0 w1 f0 f1 st
  mpll "$n-before"
  log "outage $n: dropping $p:$PORT (path $d) for $OUTAGE s"
  f0=$(nfiles); w0=$(wcount "$o")
  timeout 10 nft add table inet mpt && timeout 10 nft add chain inet mpt out '{ type filter hook output priority 0; }' \
    && timeout 10 nft add rule inet mpt out ip daddr $p tcp dport $PORT drop && timeout 10 nft add rule inet mpt out ip saddr $p tcp sport $PORT drop \
    || { check outage-$n 1 "nft failed: $(nft list ruleset 2>&1 | tr '\n' ' ')"; return 1; }
  t0=$(up)
  nft list ruleset > "$OUT/nft-$n.txt"
  while [ "$(awk -v a="$t0" -v b="$(up)" 'BEGIN{print (b-a < '"$FAIL_WAIT"')}')" = 1 ]; do
    st=$(pstate "$d"); [ -z "$tf" ] && [ "$st" = failed ] && { tf=$(up); log "outage $n: $d failed after $(dt "$t0" "$tf") s"; mpll "$n-during"; }
    [ -n "$tf" ] && [ "$(awk -v a="$t0" -v b="$(up)" 'BEGIN{print (b-a >= '"$OUTAGE"')}')" = 1 ] && break
    sleep 0.5
  done
  [ -n "$tf" ] || mpll "$n-during"
  timeout 10 nft delete table inet mpt; tr=$(up)
  f1=$(nfiles); w1=$(wcount "$o")
  log "outage $n: rule removed after $(dt "$t0" "$tr") s"
  while [ "$(awk -v a="$tr" -v b="$(up)" 'BEGIN{print (b-a < '"$BACK_WAIT"')}')" = 1 ]; do
    st=$(pstate "$d"); [ "$st" = active ] && { tb=$(up); break; }
    sleep 0.5
  done
  mpll "$n-after"
  for x in before during after; do sed 's/^/  /' "$OUT/mpath-$n-$x.txt"; done
  local during=$((f1 - f0)) ow=$(( (w1 - w0) / 2 ))
  result "outage-$n: portal=$p disk=$d failed_after=${tf:+$(dt "$t0" "$tf")} down=$(dt "$t0" "$tr") back_after=${tb:+$(dt "$tr" "$tb")} files_during=$during other_kib=$ow"
  local mf="never (within $FAIL_WAIT s)" mb="not within $BACK_WAIT s" gap
  [ -n "$tf" ] && mf="after $(dt "$t0" "$tf") s"
  [ -n "$tb" ] && mb="$(dt "$tr" "$tb") s after the rule went"
  # the writer's longest wait for a file from the drop until the path was back
  gap=$(awk -v a="$t0" -v b="$(up)" 'BEGIN{p=a} $4 >= a && $4 <= b {if ($4 - p > m) m = $4 - p; p = $4} END{printf "%.2f", m}' "$OUT/writer.log")
  result "outage-$n-writer-gap: $gap"
  OUTAGE_MSG="$p ($d) dropped $(dt "$t0" "$tr") s: multipathd marked it failed $mf, active again $mb; the writer finished $during files while it was down (longest wait for one $gap s), $o took $ow KiB of writes"
  [ -n "$tf" ] && [ -n "$tb" ] && [ "$during" -gt 0 ] && [ "$ow" -gt 0 ] && [ ! -s "$OUT/writer-errors.txt" ] && kill -0 "$WPID" 2>/dev/null
}
outage 1 $P2 $D2 $D1 && check outage-1 0 "$OUTAGE_MSG" || check outage-1 1 "$OUTAGE_MSG; writer errors: $(oneline "$OUT/writer-errors.txt" 300)"
sleep 5
outage 2 $P1 $D1 $D2 && check outage-2 0 "$OUTAGE_MSG" || check outage-2 1 "$OUTAGE_MSG; writer errors: $(oneline "$OUT/writer-errors.txt" 300)"
sleep 5
touch /tmp/stop-writer; wait "$WPID"; WPID=""
N=$(nfiles); NE=$(grep -c ERROR "$OUT/writer-errors.txt")
GAP=$(awk 'NR>1 {g=$4-prev; if (g>m) {m=g; at=$1}} {prev=$4} END{printf "%.2f s (before %s)", m, at}' "$OUT/writer.log")
SPAN=$(awk 'NR==1{a=$3} {b=$4} END{printf "%.0f", b-a}' "$OUT/writer.log")
[ -s "$OUT/writer-errors.txt" ] && check writer-no-errors 1 "$N files written, $NE failed: $(oneline "$OUT/writer-errors.txt" 400)" \
  || check writer-no-errors 0 "$N files of $FILE_KB KiB written with fsync in $SPAN s, no I/O error; longest gap between two completed files $GAP"
grep -iE 'I/O error|Buffer I/O|EXT4-fs error|blk_update_request' <(dmesg) > "$OUT/dmesg-errors.txt"
grep -q "dm-" "$OUT/dmesg-errors.txt" && check no-dm-io-errors 1 "$(head -n 5 "$OUT/dmesg-errors.txt" | tr '\n' ' ')" \
  || check no-dm-io-errors 0 "no I/O error on the map in dmesg ($(wc -l < "$OUT/dmesg-errors.txt") lines about the sd paths: $(grep -c ' sd' "$OUT/dmesg-errors.txt"))"

# ============================================================================ 4. umount, e2fsck, contents
e=$(timeout 120 umount $MNT 2>&1) || abort umount "$e"
timeout 300 e2fsck -fn $MDEV > "$OUT/e2fsck.txt" 2>&1; rc=$?
[ $rc = 0 ] && check e2fsck 0 "e2fsck -fn clean: $(tail -n 1 "$OUT/e2fsck.txt")" || check e2fsck 1 "rc $rc: $(oneline "$OUT/e2fsck.txt" 500)"
e=$(timeout 60 mount -o ro $MDEV $MNT 2>&1) || abort mount-ro "$e"
bad=0; badl=""
while read -r f s _; do
  [ "$(sha256sum < $MNT/w/$f 2>/dev/null | cut -c1-64)" = "$s" ] || { bad=$((bad + 1)); badl="$badl $f"; }
done < "$OUT/writer.log"
[ $bad = 0 ] && [ "$N" -gt 0 ] && check contents 0 "all $N files have the sha256 the writer recorded" || check contents 1 "$bad of $N files differ or are missing:$(echo "$badl" | cut -c1-300)"
timeout 60 umount $MNT
finish
