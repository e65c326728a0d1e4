#!/bin/bash
# test/rescan/guest/offload-test.sh - persistent reservations with two initiator names, EXTENDED
# COPY and ODX, driven by the Linux kernel initiator and sg3-utils / ddpt (run.sh --test offload;
# runs inside the VM like rescan-test.sh; needs an image with ddpt: VM_EXTRA_PACKAGES=ddpt).
#
#   1. clonetarget serve --config: volumes src (64M, LUN 0), dst (256M, LUN 1), pr (16M, LUN 2),
#      one target $IQN, every initiator sees all three; the admin API off.
#   2. two open-iscsi ifaces, ifa and ifb, with the initiator names $INI_A and $INI_B; discovery
#      and login through both: two sessions, so each LUN is two SCSI disks.
#   3. reservations on LUN 2 (disk A = session A's, disk B = session B's; sg_persist -n):
#      register KA from A and KB from B; READ KEYS; RESERVE type 1 (Write Exclusive) from A;
#      READ RESERVATION from A and from B (KA, Write Exclusive); from B an O_DIRECT write must
#      fail (and sg_raw WRITE(10) must get RESERVATION CONFLICT) and leave the block as it was, a
#      read must work; from A a write must work; PREEMPT by B (rk KB, sark KA, type 1): READ
#      RESERVATION shows KB, READ KEYS only KB, A's write now fails and B's works;
#      A registers again with APTPL=1: REPORT CAPABILITIES says PTPL_A, the state file
#      exists; logout and login of both (the reservation outlives the nexus loss); then logout,
#      kill -9 of the server, start on the same state dir, login: READ KEYS shows KA and KB,
#      READ RESERVATION KB, A's write fails again; REGISTER AND IGNORE EXISTING KEY with
#      sark 0 from both: no keys, no reservation, A's write works.
#   4. copies from LUN 0 to LUN 1 through session A, 64 MiB of random data each, into three
#      distinct ranges of LUN 1 that read as zeros before: sg_xcopy (EXTENDED COPY LID1),
#      ddpt iflag=odx oflag=odx (POPULATE TOKEN + WRITE USING TOKEN), ddpt --xcopy; each
#      compared by sha256 on the initiator (O_DIRECT read) and in the target's volume file, and
#      the session's data octets (iscsiadm -s) must stay under OFFLOAD_MAX_DATA: the data did
#      not cross the wire. For scale, a plain dd copy (read + write through the initiator).
# Per check "OFFLOAD: PASS|FAIL name: detail"; at the end "RESCAN: PASS|FAIL offload: ..." and
# "RESCAN-RESULT: PASS|FAIL failed=N (...)" (the lines run.sh reads).
# Settings: COPY_MB (64), OFFLOAD_MAX_DATA (4194304 bytes), CT_TRIES (4), ISCSID_DEBUG (1),
# SG_TRIES (4: an sg3-utils/ddpt command is repeated when it got a UNIT ATTENTION, exit 6).
set -u
NAME=offload
OUT=/out
: "${COPY_MB:=64}" "${OFFLOAD_MAX_DATA:=4194304}" "${SG_TRIES:=4}"
CT=/project/bin/clonetarget
STATE=/scratch/state
PORT=3260
PORTAL=127.0.0.1:$PORT
IQN=iqn.2026-12.io.clonetarget:offload
INI_A=iqn.1993-08.org.debian:01:offload-a
INI_B=iqn.1993-08.org.debian:01:offload-b
KA=0xa1a1a1a1
KB=0xb2b2b2b2
SERVE_ARGS=(--config /scratch/ct.toml --admin-listen off)
FAILS=(); STEPS=(); CHECKS=()
# shellcheck source=common.sh
. /harness/common.sh
: > "$RES"
T_START=$(up)

check() {  # check NAME OK(0|1) DETAIL
  if [ "$2" = 0 ]; then CHECKS+=("PASS $1"); echo "OFFLOAD: PASS $1: $3"; result "pass=$1"
  else FAILS+=("$1"); CHECKS+=("FAIL $1"); echo "OFFLOAD: FAIL $1: $3"; result "fail=$1"; fi
}
finish() {
  local r=PASS retries=0 npass
  timeout 60 iscsiadm -m node --logoutall=all > "$OUT/logout.txt" 2>&1
  stop_target
  [ -n "${ISCSID_PID:-}" ] && kill "$ISCSID_PID" 2>/dev/null
  dmesg > "$OUT/dmesg.txt" 2>&1
  [ ${#FAILS[@]} = 0 ] || r=FAIL
  [ -f "$OUT/retries.txt" ] && retries=$(wc -l < "$OUT/retries.txt")
  npass=$(printf '%s\n' "${CHECKS[@]+"${CHECKS[@]}"}" | grep -c '^PASS')
  echo "RESCAN-DETAIL: duration=$(dt "$T_START" "$(up)")s jvm-retries=$retries sg-ua-retries=$(cat "$OUT/sg-retries.txt" 2>/dev/null | wc -l)"
  echo "RESCAN-CHECKS: ${CHECKS[*]:-none}"
  echo "RESCAN: $r offload: $npass of ${#CHECKS[@]} checks passed${FAILS[*]:+; failed: ${FAILS[*]}}"
  echo "RESCAN-RESULT: $r failed=${#FAILS[@]}${FAILS[*]:+ (${FAILS[*]})}"
  [ $r = PASS ]; exit $?
}
abort() { check "$1" 1 "${2:-}"; finish; }

# sg NAME CMD...: an sg3-utils/ddpt command, output in $OUT/sg/NAME.txt; repeated on exit 6
# (UNIT ATTENTION: the target reports reservation changes and the restart that way, and these
# tools do not retry; the command was not executed). Returns the command's exit status.
mkdir -p "$OUT/sg"
sg() {
  local name=$1 rc try; shift
  for try in $(seq 1 "$SG_TRIES"); do
    { echo "# $*"; timeout 300 "$@"; } > "$OUT/sg/$name.txt" 2>&1; rc=$?
    [ $rc = 6 ] && [ "$try" -lt "$SG_TRIES" ] || break
    echo "$name: unit attention, try $try: $(grep -i -m1 'attention' "$OUT/sg/$name.txt")" >> "$OUT/sg-retries.txt"
  done
  return $rc
}
sgout() { tail -n +2 "$OUT/sg/$1.txt"; }
oneline() { tr '\n' ' ' < "$OUT/sg/$1.txt" | sed 's/  */ /g' | cut -c1-400; }
# keys DEV NAME -> registered keys, one line, sorted ("none" when there are none)
keys() {
  sg "$2" sg_persist -n --in --read-keys "/dev/$1" || { echo "error rc=$?"; return 1; }
  local k; k=$(sgout "$2" | grep -oE '^ +0x[0-9a-f]+$' | tr -d ' ' | sort | tr '\n' ' ' | sed 's/ $//')
  echo "${k:-none}"
}
# resv DEV NAME -> "KEY TYPE" of the reservation, or "none"
resv() {
  sg "$2" sg_persist -n --in --read-reservation "/dev/$1" || { echo "error rc=$?"; return 1; }
  if sgout "$2" | grep -qi 'NO reservation'; then echo none; return 0; fi
  echo "$(sgout "$2" | grep -oE 'Key=0x[0-9a-f]+' | head -n 1 | cut -d= -f2) $(sgout "$2" | sed -n 's/.*type: *//p' | head -n 1 | sed 's/ *$//')"
}

# ============================================================================ 1. target
log "offload test: kernel $(uname -r), open-iscsi $(iscsiadm --version | awk '{print $NF}'), $(sg_persist -V 2>&1 | head -n 1), ddpt $(ddpt -V 2>&1 | head -n 1), clonetarget $(cat /project/COMMIT 2>/dev/null)"
command -v ddpt > /dev/null || abort ddpt-missing "no ddpt in the image: build it with VM_EXTRA_PACKAGES=ddpt (see README.md)"
mkdir -p "$STATE"
cat > /scratch/ct.toml <<EOF
[server]
listen = ["$PORTAL"]

[[volume]]
name = "src"
path = "/scratch/src.img"
size = "64M"

[[volume]]
name = "dst"
path = "/scratch/dst.img"
size = "256M"

[[volume]]
name = "pr"
path = "/scratch/pr.img"
size = "16M"

[[target]]
iqn = "$IQN"
lun = [ {lun = 0, volume = "src"}, {lun = 1, volume = "dst"}, {lun = 2, volume = "pr"} ]
EOF
cp /scratch/ct.toml "$OUT/ct.toml"
start_target || abort target-start "$(tail -n 5 "$OUT/target.log" | tr '\n' ' ')"

# ============================================================================ 2. two ifaces, two sessions
start_iscsid || abort iscsid
for i in a b; do
  n=$INI_A; [ $i = b ] && n=$INI_B
  timeout 10 iscsiadm -m iface -I if$i -o new > /dev/null || abort iface-$i
  timeout 10 iscsiadm -m iface -I if$i -o update -n iface.initiatorname -v "$n" > /dev/null || abort iface-$i-name
done
timeout 60 iscsiadm -m discovery -t st -p $PORTAL -I ifa -I ifb > "$OUT/discovery.txt" 2>&1 || abort discovery "$(cat "$OUT/discovery.txt")"
for i in a b; do
  timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -I if$i -o update -n node.session.timeo.replacement_timeout -v 300 > /dev/null
done
sid_of() { local s; for s in /sys/class/iscsi_session/session*; do [ "$(cat "$s/initiatorname" 2>/dev/null)" = "$1" ] && [ "$(cat "$s/targetname" 2>/dev/null)" = $IQN ] && { echo "${s##*session}"; return 0; }; done; return 1; }
disk_of() {  # disk_of SID LUN -> sdX, once it has a size
  local d b
  for d in /sys/class/iscsi_session/session"$1"/device/target*/*:*:*:"$2"; do
    [ -d "$d/block" ] || continue
    b=$(ls "$d/block" | head -n 1); [ -n "$b" ] && [ "$(cat "/sys/block/$b/size" 2>/dev/null || echo 0)" -gt 0 ] && { echo "$b"; return 0; }
  done
  return 1
}
sg_of() { ls "/sys/block/$1/device/scsi_generic" 2>/dev/null | head -n 1; }
wait_disk() { local dl=$(( $(date +%s) + 90 )) d; while [ "$(date +%s)" -lt $dl ]; do d=$(disk_of "$1" "$2") && { echo "$d"; return 0; }; sleep 0.1; done; return 1; }
# login_both TAG: log in through both ifaces, set SA SB (sids), A0 A1 A2 B2 (disks), SGA0 SGA1
login_both() {
  local i
  for i in a b; do
    timeout 90 iscsiadm -m node -T $IQN -p $PORTAL -I if$i --login > "$OUT/login-$1-$i.txt" 2>&1 || return 1
  done
  SA=$(sid_of $INI_A) && SB=$(sid_of $INI_B) || return 1
  A0=$(wait_disk "$SA" 0) && A1=$(wait_disk "$SA" 1) && A2=$(wait_disk "$SA" 2) && B2=$(wait_disk "$SB" 2) || return 1
  SGA0=$(sg_of "$A0"); SGA1=$(sg_of "$A1")
  for d in "$A0" "$A1" "$A2" "$B2"; do echo 120 > "/sys/block/$d/device/timeout"; done
  ISID_A=$(cat /sys/class/iscsi_session/session"$SA"/isid 2>/dev/null); ISID_B=$(cat /sys/class/iscsi_session/session"$SB"/isid 2>/dev/null)
  log "login $1: session $SA ($INI_A, isid $ISID_A): LUN0 $A0 ($SGA0) LUN1 $A1 ($SGA1) LUN2 $A2; session $SB ($INI_B, isid $ISID_B): LUN2 $B2"
}
logout_both() { timeout 60 iscsiadm -m node -T $IQN -p $PORTAL --logout > "$OUT/logout-$1.txt" 2>&1; }
login_both 1 || abort login "$(cat "$OUT"/login-1-*.txt | tr '\n' ' ')"
NSESS=$(ls -d /sys/class/iscsi_session/session* | wc -l)
[ "$NSESS" = 2 ] && [ "$SA" != "$SB" ] && [ "$A2" != "$B2" ] \
  && check two-initiators 0 "sessions $SA ($INI_A) and $SB ($INI_B); LUN 2 is $A2 and $B2" \
  || abort two-initiators "$NSESS sessions, SA=$SA SB=$SB A2=$A2 B2=$B2"
BS=$(cat "/sys/block/$A2/queue/logical_block_size")

# ============================================================================ 3. persistent reservations on LUN 2
head -c 4096 /dev/urandom > /tmp/pa; head -c 4096 /dev/urandom > /tmp/pb; head -c 4096 /dev/urandom > /tmp/pa2
BLK=10  # the 4 KiB block the writes go to
wr() { timeout 120 dd if="$2" of="/dev/$1" bs=4096 count=1 seek=$BLK oflag=direct conv=notrunc status=none 2>&1; }
rd_same() { timeout 120 dd if="/dev/$1" of=/tmp/rd bs=4096 count=1 skip=$BLK iflag=direct status=none 2>&1 && cmp -s /tmp/rd "$2"; }
# conflict_from DEV SGNAME DATA: an O_DIRECT write must fail; sg_raw WRITE(10) must see RESERVATION CONFLICT
conflict_from() {
  local e lba sgdev
  if e=$(wr "$1" "$3"); then echo "the write succeeded"; return 1; fi
  sgdev=$(sg_of "$1"); lba=$(( BLK * 4096 / BS ))
  head -c "$BS" "$3" > /tmp/raw1
  sg "$2" sg_raw -s "$BS" -i /tmp/raw1 "/dev/$sgdev" 2a 00 $(printf '%02x %02x %02x %02x' $((lba>>24&255)) $((lba>>16&255)) $((lba>>8&255)) $((lba&255))) 00 00 01 00
  if ! grep -qi 'reservation conflict' "$OUT/sg/$2.txt"; then echo "dd: $e; but sg_raw WRITE(10): $(oneline "$2")"; return 1; fi
  echo "dd O_DIRECT: $e; sg_raw WRITE(10) LBA $lba: $(grep -i -m1 'reservation conflict' "$OUT/sg/$2.txt" | sed 's/^ *//')"
}
e=$(wr "$A2" /tmp/pa) || abort pr-initial-write "$e"

sg reg-a sg_persist -n --out --register --param-sark=$KA "/dev/$A2"; r1=$?
sg reg-b sg_persist -n --out --register --param-sark=$KB "/dev/$B2"; r2=$?
k=$(keys "$A2" keys-1)
[ $r1 = 0 ] && [ $r2 = 0 ] && [ "$k" = "$KA $KB" ] && check pr-register 0 "KA from $A2, KB from $B2; READ KEYS: $k" \
  || check pr-register 1 "rc $r1/$r2, READ KEYS: $k ($(oneline reg-a) / $(oneline reg-b))"
sg reserve-a sg_persist -n --out --reserve --param-rk=$KA --prout-type=1 "/dev/$A2"; r1=$?
ra=$(resv "$A2" resv-1a); rb=$(resv "$B2" resv-1b)
[ $r1 = 0 ] && [ "$ra" = "$KA Write Exclusive" ] && [ "$rb" = "$ra" ] && check pr-reserve 0 "type 1 from A; READ RESERVATION from A: $ra, from B: $rb" \
  || check pr-reserve 1 "rc $r1 ($(oneline reserve-a)); from A: $ra; from B: $rb"
d=$(conflict_from "$B2" raw-b-1 /tmp/pb) && rd_same "$A2" /tmp/pa && check pr-write-b-refused 0 "$d; the block is unchanged" \
  || check pr-write-b-refused 1 "$d; block unchanged: $(rd_same "$A2" /tmp/pa && echo yes || echo no)"
e=$(timeout 60 dd if="/dev/$B2" of=/dev/null bs=4096 count=1 skip=$BLK iflag=direct status=none 2>&1) \
  && check pr-read-b-allowed 0 "O_DIRECT read from $B2 ok (Write Exclusive lets others read)" || check pr-read-b-allowed 1 "$e"
e=$(wr "$A2" /tmp/pa2) && rd_same "$B2" /tmp/pa2 && check pr-write-a-allowed 0 "O_DIRECT write from $A2 ok, read back through $B2" \
  || check pr-write-a-allowed 1 "${e:-the data read back through $B2 differs}"

sg preempt-b sg_persist -n --out --preempt --param-rk=$KB --param-sark=$KA --prout-type=1 "/dev/$B2"; r1=$?
ra=$(resv "$A2" resv-2a); rb=$(resv "$B2" resv-2b); k=$(keys "$B2" keys-2)
[ $r1 = 0 ] && [ "$ra" = "$KB Write Exclusive" ] && [ "$rb" = "$ra" ] && [ "$k" = "$KB" ] \
  && check pr-preempt 0 "B preempted A; READ RESERVATION from A: $ra, from B: $rb; READ KEYS: $k" \
  || check pr-preempt 1 "rc $r1 ($(oneline preempt-b)); from A: $ra; from B: $rb; READ KEYS: $k"
d=$(conflict_from "$A2" raw-a-2 /tmp/pa) && e=$(wr "$B2" /tmp/pb) && rd_same "$A2" /tmp/pb \
  && check pr-after-preempt 0 "A: $d; B's write ok" || check pr-after-preempt 1 "A: $d; B: ${e:-write or read-back failed}"

sg reg-a-aptpl sg_persist -n --out --register --param-sark=$KA --param-aptpl "/dev/$A2"; r1=$?
sg caps sg_persist -n --in --report-capabilities "/dev/$A2"
ptpl=$(sgout caps | sed -n 's/.*PTPL_A): *//p' | head -n 1)
PRFILE=$(ls "$STATE/reservations/$IQN/"*.pr 2>/dev/null | head -n 1)
k=$(keys "$A2" keys-3)
[ $r1 = 0 ] && [ "$ptpl" = 1 ] && [ -n "$PRFILE" ] && [ "$k" = "$KA $KB" ] \
  && check pr-aptpl 0 "A registered again with APTPL=1: PTPL_A=$ptpl, READ KEYS: $k, state file ${PRFILE#$STATE/} ($(stat -c %s "$PRFILE") bytes)" \
  || check pr-aptpl 1 "rc $r1 ($(oneline reg-a-aptpl)); PTPL_A=$ptpl; READ KEYS: $k; file: ${PRFILE:-none}"

# restart with both hosts logged in: kill -9 of the server, start on the same state dir; the
# kernel's session recovery logs in again with the same ISID, so each host is the same initiator
# port (I_T nexus) as before and finds its registration (and B its reservation)
isid_of() { grep "login from .*: $1 isid=.* -> $IQN" "$OUT/target.log" | tail -n 1 | sed -n 's/.*: [^ ]* isid=\([0-9a-f]*\) .*/\1/p'; }
ISIDS0="$(isid_of $INI_A)/$(isid_of $INI_B)"
NLOGIN0=$(grep -c "login from .* -> $IQN" "$OUT/target.log")
T0=$(up)
stop_target KILL
rm -f "$STATE/admin.sock" "$STATE/server.lock"
echo "----- restart at uptime $T0 -----" >> "$OUT/target.log"
start_target || abort target-restart "$(tail -n 5 "$OUT/target.log" | tr '\n' ' ')"
T1=$(up)
# wait until both sessions are logged in again (two new login lines, both sessions LOGGED_IN)
dl=$(( $(date +%s) + 180 ))
while [ "$(date +%s)" -lt $dl ]; do
  [ "$(grep -c "login from .* -> $IQN" "$OUT/target.log")" -ge $((NLOGIN0 + 2)) ] \
    && [ "$(cat /sys/class/iscsi_session/session"$SA"/state)" = LOGGED_IN ] && [ "$(cat /sys/class/iscsi_session/session"$SB"/state)" = LOGGED_IN ] && break
  sleep 0.5
done
T2=$(up)
ISIDS1="$(isid_of $INI_A)/$(isid_of $INI_B)"
RECOV="server killed and started again in $(dt "$T0" "$T1") s, sessions $SA and $SB $(cat /sys/class/iscsi_session/session"$SA"/state)/$(cat /sys/class/iscsi_session/session"$SB"/state) $(dt "$T1" "$T2") s later (isid $ISIDS0 -> $ISIDS1)"
log "restart: $RECOV"
ka=$(keys "$A2" keys-5a); kb=$(keys "$B2" keys-5b); ra=$(resv "$A2" resv-5)
sg caps-5 sg_persist -n --in --report-capabilities "/dev/$A2"
ptpl=$(sgout caps-5 | sed -n 's/.*PTPL_A): *//p' | head -n 1)
[ "$ka" = "$KA $KB" ] && [ "$kb" = "$ka" ] && [ "$ra" = "$KB Write Exclusive" ] && [ "$ptpl" = 1 ] && [ "$ISIDS1" = "$ISIDS0" ] \
  && check pr-aptpl-restart 0 "$RECOV: READ KEYS from A: $ka, from B: $kb; READ RESERVATION: $ra; PTPL_A=$ptpl; server: $(grep -m1 'restored' "$OUT/target.log" | sed 's/.*Reservations - //' | cut -c1-120)" \
  || check pr-aptpl-restart 1 "$RECOV: READ KEYS from A: $ka, from B: $kb; READ RESERVATION: $ra; PTPL_A=$ptpl; server log: $(grep -i 'reserv' "$OUT/target.log" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
d=$(conflict_from "$A2" raw-a-5 /tmp/pa) && e=$(wr "$B2" /tmp/pb) \
  && check pr-enforced-after-restart 0 "A (registered, not the holder): $d; B's write ok (the holder)" || check pr-enforced-after-restart 1 "A: $d; B: ${e:-}"

sg unreg-a sg_persist -n --out --register-ignore --param-sark=0 "/dev/$A2"; r1=$?
sg unreg-b sg_persist -n --out --register-ignore --param-sark=0 "/dev/$B2"; r2=$?
k=$(keys "$A2" keys-6); ra=$(resv "$B2" resv-6)
e=$(wr "$A2" /tmp/pa) && rd_same "$B2" /tmp/pa; w=$?
[ $r1 = 0 ] && [ $r2 = 0 ] && [ "$k" = none ] && [ "$ra" = none ] && [ $w = 0 ] \
  && check pr-unregister 0 "REGISTER AND IGNORE EXISTING KEY, sark 0, from A and B: READ KEYS: $k; READ RESERVATION: $ra; A's write ok; state file: $(ls "$STATE/reservations/$IQN/" 2>/dev/null | tr '\n' ' ')" \
  || check pr-unregister 1 "rc $r1/$r2 ($(oneline unreg-a) / $(oneline unreg-b)); READ KEYS: $k; READ RESERVATION: $ra; A's write: ${e:-rc $w}"

# a logout and a login: open-iscsi gives every new session a new ISID, so the host comes back as
# another initiator port; the registration of the old one stays (a registration outlives its
# I_T nexus), and the new one is not registered (its REGISTER AND IGNORE with sark 0 is a no-op)
sg reg-a-7 sg_persist -n --out --register --param-sark=$KA "/dev/$A2"; r1=$?
I0=$(isid_of $INI_A)
logout_both 7
login_both 8 || abort login-8 "$(cat "$OUT"/login-8-*.txt | tr '\n' ' ')"
I1=$(isid_of $INI_A)
k1=$(keys "$A2" keys-8)
sg unreg-a-8 sg_persist -n --out --register-ignore --param-sark=0 "/dev/$A2"; r2=$?
k2=$(keys "$A2" keys-8b)
sg reg-a-8 sg_persist -n --out --register-ignore --param-sark=$KA "/dev/$A2"; r3=$?
sg clear-a-8 sg_persist -n --out --clear --param-rk=$KA "/dev/$A2"; r4=$?
k3=$(keys "$A2" keys-8c)
[ $r1 = 0 ] && [ "$I0" != "$I1" ] && [ "$k1" = "$KA" ] && [ $r2 = 0 ] && [ "$k2" = "$KA" ] && [ $r3 = 0 ] && [ $r4 = 0 ] && [ "$k3" = none ] \
  && check pr-relogin-new-port 0 "register KA, logout + login: isid $I0 -> $I1, READ KEYS: $k1 (the old port's registration stays); sark 0 from the new port changes nothing ($k2); REGISTER AND IGNORE KA + CLEAR from the new port: $k3" \
  || check pr-relogin-new-port 1 "rc $r1/$r2/$r3/$r4; isid $I0 -> $I1; READ KEYS after login: $k1, after sark 0: $k2, after CLEAR: $k3"

# ============================================================================ 4. copies LUN 0 -> LUN 1
BLKS=$(( COPY_MB * 1048576 / BS ))
octets() { timeout 10 iscsiadm -m session -r "$SA" -s 2>/dev/null | awk '/txdata_octets/{t=$2} /rxdata_octets/{r=$2} END{print t+r}'; }
sha_dev() { timeout 300 dd if="/dev/$1" bs=1M count="$COPY_MB" skip="$2" iflag=direct status=none | sha256sum | cut -c1-64; }
sha_file() { dd if="$1" bs=1M count="$COPY_MB" skip="$2" status=none | sha256sum | cut -c1-64; }
ZERO=$(head -c $(( COPY_MB * 1048576 )) /dev/zero | sha256sum | cut -c1-64)
# fill_src: fresh random data on LUN 0 before each copy, so a copy that lands in another range of
# LUN 1 is told apart (where_is says which 64 MiB range of the volume file holds what)
fill_src() {
  local e
  e=$(timeout 300 dd if=/dev/urandom of="/dev/$A0" bs=1M count="$COPY_MB" oflag=direct status=none 2>&1) || abort fill-src "$e"
  SRC=$(sha_dev "$A0" 0)
  [ "$(sha_file /scratch/src.img 0)" = "$SRC" ] || abort fill-src "the volume file differs from what was written"
  log "LUN 0 ($A0): $COPY_MB MiB random, sha256 ${SRC:0:16}"
}
where_is() { local o h w=""; for o in $(seq 0 "$COPY_MB" 192); do h=$(sha_file /scratch/dst.img "$o"); w="$w $o:$([ "$h" = "$SRC" ] && echo src || { [ "$h" = "$ZERO" ] && echo zero || echo other; })"; done; echo "LUN 1 by ${COPY_MB} MiB:$w"; }
# copy_check NAME SEEK_MB CMD...: the range must be zeros before and the source after, on the
# initiator and in the volume file, with less than OFFLOAD_MAX_DATA data octets in session A
copy_check() {
  local name=$1 seek=$2 o0 o1 t0 t1 rc before after file; shift 2
  fill_src
  before=$(sha_dev "$A1" "$seek")
  o0=$(octets); t0=$(up)
  sg "$name" "$@"; rc=$?
  t1=$(up); o1=$(octets)
  after=$(sha_dev "$A1" "$seek"); file=$(sha_file /scratch/dst.img "$seek")
  local what="$COPY_MB MiB in $(dt "$t0" "$t1") s ($(awk -v m="$COPY_MB" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", m/(b-a)}') MiB/s), data octets in the session $((o1 - o0)), LUN 1 at ${seek} MiB"
  result "$name: rc=$rc seconds=$(dt "$t0" "$t1") octets=$((o1 - o0))"
  if [ $rc = 0 ] && [ "$before" = "$ZERO" ] && [ "$after" = "$SRC" ] && [ "$file" = "$SRC" ] && [ $((o1 - o0)) -lt "$OFFLOAD_MAX_DATA" ]; then
    check "$name" 0 "$what; sha256 equal on the initiator and in the volume file ($(grep -v '^#' "$OUT/sg/$name.txt" | grep -iE 'blocks|command|time|copied' | head -n 2 | tr '\n' ' ' | sed 's/  */ /g'))"
  else
    check "$name" 1 "rc $rc; $what; zeros before: $([ "$before" = "$ZERO" ] && echo yes || echo no); equal after: initiator $([ "$after" = "$SRC" ] && echo yes || echo no), file $([ "$file" = "$SRC" ] && echo yes || echo no); $(where_is); output: $(grep -v '^#' "$OUT/sg/$name.txt" | tail -n 6 | tr '\n' ' ' | cut -c1-500)"
  fi
}
copy_check xcopy-sg_xcopy 0 sg_xcopy if="/dev/$SGA0" of="/dev/$SGA1" bs="$BS" count="$BLKS" seek=0
# ddpt 0.97 and ODX: with count= and plain skip/seek it stops before sending anything
# ("odx_full_copy: count= value not equal to the sum of gather nums", exit 99); without count=
# its range has 0 blocks, so it sends POPULATE TOKEN with a 0-block range and loops on tokens
# that represent nothing. Given as LBA,NUM lists, the ranges are right.
copy_check odx-ddpt "$COPY_MB" ddpt if="/dev/$SGA0" iflag=odx skip="0,$BLKS" of="/dev/$SGA1" oflag=odx seek="$BLKS,$BLKS" bs="$BS" -vv
copy_check xcopy-ddpt $((2 * COPY_MB)) ddpt --xcopy if="/dev/$SGA0" of="/dev/$SGA1" bs="$BS" count="$BLKS" seek=$((2 * BLKS)) -vvv
# boot 2: ddpt printed "src_lba=0x0" for each of its 3 XCOPY commands (65535, 65535, 2 blocks);
# where did each segment's data come from? (16 MiB at the start of each of its segments)
x16() { dd if="$1" bs=512 skip="$2" count=32768 status=none | sha256sum | cut -c1-16; }
log "xcopy-ddpt segments: src@0 $(x16 /scratch/src.img 0) src@65535 $(x16 /scratch/src.img 65535); dst@seg1 $(x16 /scratch/dst.img $((2 * BLKS))) dst@seg2 $(x16 /scratch/dst.img $((2 * BLKS + 65535)))"
fill_src
# for scale: the same copy by reads and writes through the initiator (not a check)
o0=$(octets); t0=$(up)
timeout 300 dd if="/dev/$A0" of="/dev/$A1" bs=1M count="$COPY_MB" seek=$((3 * COPY_MB)) iflag=direct oflag=direct status=none 2>&1
t1=$(up); o1=$(octets)
log "for scale: dd O_DIRECT $A0 -> $A1 (read + write through the initiator): $COPY_MB MiB in $(dt "$t0" "$t1") s, data octets $((o1 - o0))"
result "dd-copy: seconds=$(dt "$t0" "$t1") octets=$((o1 - o0))"
finish
