# test/powercut/guest/pr-rounds.sh - a KIND=pr boot after the target started (sourced by
# guest-init.sh; never returns).
#
# One LUN (/data/lun.img, the state dir /data/state on the cut disk, so the reservation file
# /data/state/reservations/IQN/NAA.pr is subject to the cut). Two open-iscsi ifaces, ifa and ifb,
# with the initiator names $INI_A and $INI_B, log in (always a first, then b: the same ISIDs in
# every boot, so the restored registrations belong to the same I_T nexuses).
#   1. verification: READ KEYS and READ RESERVATION from A and from B (sg_persist -n --in -k / -r,
#      repeated on a UNIT ATTENTION), READ FULL STATUS for the record; "V <state>" in prlog.txt and
#      $RD/pr-verify.txt (checked on the host against the previous boot's prlog.txt);
#   2. ACTION=final: logout, SIGTERM, umount, e2fsck -fn, power off;
#      ACTION=write: reset (A: REGISTER AND IGNORE EXISTING KEY, CLEAR), then cycles of PR OUT with
#      APTPL=1 until the host cuts the power (the keys carry the step number s = R*10000 + n):
#        A REGISTER (rk = A's key or 0, new key), B REGISTER AND IGNORE EXISTING KEY (new key),
#        A RESERVE (type 1/3/5/6), B PREEMPT A (another type), A REGISTER (rk 0, new key),
#        B RELEASE, and in odd cycles B REGISTER AND IGNORE EXISTING KEY with key 0 (unregister).
# prlog.txt, one write(2) per line to the 9p share, guest uptime in seconds:
#   "B s t WHO CMD ARGS expect=STATE"  before the command is sent (STATE = the model's state after it)
#   "A s t rc=RC GOOD|NOTGOOD tries=N" after it was answered (GOOD = sg_persist exit 0)
#   "S s t STATE"                      the state read back from A after a GOOD answer
#   "M s t ..."                        the read-back differs from the model (the loop stops)
# STATE = "keys=K1,K2|none resv=KEY/TYPE|none" (keys sorted, TYPE without spaces and commas).
INI_A=iqn.1993-08.org.debian:01:powercut-a
INI_B=iqn.1993-08.org.debian:01:powercut-b
PRLOG=$RD/prlog.txt
SGD=$RD/sg; mkdir -p "$SGD"
up() { cut -d' ' -f1 /proc/uptime; }
plog() { echo "$*" >> "$PRLOG"; }
stop_here() { result "error=$1"; say "PR loop stopped: $1"; sleep 600; poweroff_now fast; }

# ------------------------------------------------------------------ two ifaces, two sessions
echo "InitiatorName=$INI_A" > /etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi
modprobe iscsi_tcp || fatal "modprobe iscsi_tcp"
modprobe sd_mod; modprobe sg
setsid iscsid -f > "$RD/iscsid.log" 2>&1 < /dev/null &
for i in $(seq 1 50); do timeout 5 iscsiadm -m session 2>&1 | grep -qi 'can not connect\|could not connect' || break; sleep 0.1; done
PORTAL=127.0.0.1:$PORT
for i in a b; do
  n=$INI_A; [ $i = b ] && n=$INI_B
  timeout 10 iscsiadm -m iface -I if$i -o new > /dev/null || fatal "iface $i"
  timeout 10 iscsiadm -m iface -I if$i -o update -n iface.initiatorname -v "$n" > /dev/null || fatal "iface $i name"
done
timeout 60 iscsiadm -m discovery -t st -p $PORTAL -I ifa -I ifb > "$RD/discovery.txt" 2>&1 || fatal "discovery"
for i in a b; do
  timeout 10 iscsiadm -m node -T $IQN -p $PORTAL -I if$i -o update -n node.session.timeo.replacement_timeout -v 60 > /dev/null
  timeout 90 iscsiadm -m node -T $IQN -p $PORTAL -I if$i --login >> "$LOG" 2>&1 || fatal "login $i"
done
sid_of() { local s; for s in /sys/class/iscsi_session/session*; do [ "$(cat "$s/initiatorname" 2>/dev/null)" = "$1" ] && { echo "${s##*session}"; return 0; }; done; return 1; }
disk_of() {
  local d b
  for d in /sys/class/iscsi_session/session"$1"/device/target*/*:*:*:0; do
    [ -d "$d/block" ] || continue
    b=$(ls "$d/block" | head -n 1); [ -n "$b" ] && [ "$(cat "/sys/block/$b/size" 2>/dev/null || echo 0)" -gt 0 ] && { echo "/dev/$b"; return 0; }
  done
  return 1
}
wait_disk() { local dl=$(( $(date +%s) + 90 )) d; while [ "$(date +%s)" -lt $dl ]; do d=$(disk_of "$1") && { echo "$d"; return 0; }; sleep 0.1; done; return 1; }
SA=$(sid_of $INI_A) && SB=$(sid_of $INI_B) || fatal "no sessions"
DA=$(wait_disk "$SA") && DB=$(wait_disk "$SB") || fatal "no disks"
say "session $SA ($INI_A) = $DA; session $SB ($INI_B) = $DB"
timeout 20 iscsiadm -m session -P 3 > "$RD/sessions.txt" 2>&1
dev_of() { [ "$1" = A ] && echo "$DA" || echo "$DB"; }

# sgp NAME WHO ARGS...: sg_persist -n ARGS on WHO's disk, repeated on a UNIT ATTENTION (exit 6:
# the command was not executed); output in $SGD/NAME.txt; sets TRIES
sgp() {
  local name=$1 who=$2 rc; shift 2
  TRIES=0
  while :; do
    TRIES=$((TRIES+1))
    timeout 120 sg_persist -n "$@" "$(dev_of "$who")" > "$SGD/$name.txt" 2>&1; rc=$?
    [ $rc = 6 ] && [ $TRIES -lt 5 ] || break
    cp "$SGD/$name.txt" "$SGD/$name.ua$TRIES.txt"
  done
  return $rc
}
tname() { sed -n 's/.*type: *//p' "$1" | head -n 1 | tr -d ' ,'; }
# readstate WHO TAG -> STATE as seen from WHO
readstate() {
  local k r
  sgp "$2-k" "$1" --in --read-keys || { echo "error-k-rc=$?"; return 1; }
  k=$(grep -oE '^ +0x[0-9a-f]+$' "$SGD/$2-k.txt" | tr -d ' ' | sort | paste -sd, -)
  sgp "$2-r" "$1" --in --read-reservation || { echo "error-r-rc=$?"; return 1; }
  if grep -qi 'NO reservation' "$SGD/$2-r.txt"; then r=none
  else r="$(grep -oE 'Key=0x[0-9a-f]+' "$SGD/$2-r.txt" | head -n 1 | cut -d= -f2)/$(tname "$SGD/$2-r.txt")"; fi
  echo "keys=${k:-none} resv=$r"
}

# ------------------------------------------------------------------ 1. verification
VA=$(readstate A verify-a); VB=$(readstate B verify-b)
sgp verify-full A --in --read-full-status
printf 'A %s\nB %s\n' "$VA" "$VB" > "$RD/pr-verify.txt"
ls -la /data/state/reservations/*/ > "$RD/prfiles-after-start.txt" 2>&1
say "restored state: from A: $VA; from B: $VB"
plog "V 0 $(up) $VA"

if [ "$ACTION" = final ]; then
  timeout 60 iscsiadm -m node --logoutall=all >> "$LOG" 2>&1 || say "logout failed"
  kill -TERM $TPID 2>/dev/null
  for i in $(seq 1 600); do kill -0 $TPID 2>/dev/null || break; sleep 0.1; done
  if kill -0 $TPID 2>/dev/null; then kill -KILL -- -$TPID; result "target_stop=killed"; else wait $TPID; result "target_stop=$?"; fi
  sync
  timeout 60 umount /data || say "umount /data failed"
  timeout 120 e2fsck -fn /dev/vdb > "$RD/e2fsck-final.txt" 2>&1; result "fsck_final=$?"
  dmesg > "$RD/dmesg.txt" 2>&1
  result "final=done"
  say "final boot done, powering off"
  poweroff_now
fi

# ------------------------------------------------------------------ 2. the model and the loop
TYPES=(x "Write Exclusive" x "Exclusive Access" x "Write Exclusive, registrants only" "Exclusive Access, registrants only")
tstr() { echo "${TYPES[$1]}" | tr -d ' ,'; }
MA=""; MB=""; RH=""; RT=""          # the model: A's key, B's key, holder (A|B), type number
# the model from the verified state (same ISIDs: A's key is the 0xaa one, B's the 0xbb one)
case "$VA" in error*) stop_here "verify-read-failed" ;; esac
for k in $(echo "$VA" | sed 's/^keys=\([^ ]*\) .*/\1/' | tr , ' '); do
  case $k in 0xaa*) MA=$k ;; 0xbb*) MB=$k ;; none) ;; *) stop_here "unknown-key-$k" ;; esac
done
r=${VA##*resv=}
case "$r" in none) ;; 0x*/?*) ;; *) stop_here "unparsed-reservation-$r" ;; esac
if [ "$r" != none ]; then
  rk=${r%%/*}; RT=""
  for t in 1 3 5 6; do [ "$(tstr $t)" = "${r#*/}" ] && RT=$t; done
  if [ "$rk" = "$MA" ]; then RH=A; elif [ "$rk" = "$MB" ]; then RH=B; else stop_here "unknown-holder-$rk"; fi
fi
obs() {  # the model's STATE
  local k r=none
  k=$(printf '%s\n' $MA $MB | sort | paste -sd, -)
  if [ -n "$RH" ]; then if [ "$RH" = A ]; then r="$MA/$(tstr $RT)"; else r="$MB/$(tstr $RT)"; fi; fi
  echo "keys=${k:-none} resv=$r"
}
S=$(( R * 10000 ))
key() { printf '0x%s%014x' "$1" "$2"; }
# step WHO CMD SG-ARGS... : the model's new state (N* variables) is set by the caller
step() {
  local who=$1 cmd=$2 rc o e; shift 2
  local sMA=$MA sMB=$MB sRH=$RH sRT=$RT
  MA=$NA; MB=$NB; RH=$NH; RT=$NT; e=$(obs)
  plog "B $S $(up) $who $cmd $* expect=$e"
  sgp "s$S" "$who" --out "$@"; rc=$?
  if [ $rc = 0 ]; then plog "A $S $(up) rc=0 GOOD tries=$TRIES"
  else plog "A $S $(up) rc=$rc NOTGOOD tries=$TRIES $(tr '\n' ' ' < "$SGD/s$S.txt" | cut -c1-200)"
    MA=$sMA; MB=$sMB; RH=$sRH; RT=$sRT; stop_here "pr-out-not-good-s$S-rc$rc"; fi
  [ -e "$RD/first-ack" ] || : > "$RD/first-ack"
  o=$(readstate A "r$S")
  plog "S $S $(up) $o"
  [ "$o" = "$e" ] || { plog "M $S $(up) model=$e read=$o"; stop_here "model-mismatch-s$S"; }
  S=$((S+1))
}
keep() { NA=$MA; NB=$MB; NH=$RH; NT=$RT; }

say "PR loop starts from $(obs)"
# reset: A REGISTER AND IGNORE EXISTING KEY (new key), CLEAR
keep; NA=$(key aa $S); step A register-ignore --register-ignore --param-sark=$NA --param-aptpl
keep; NA=""; NB=""; NH=""; NT=""; step A clear --clear --param-rk=$MA
i=0
T1=(1 3 5 6); T2=(3 6 1 5)
while :; do
  t1=${T1[$((i % 4))]}; t2=${T2[$((i % 4))]}
  keep; NA=$(key aa $S)
  if [ -n "$MA" ]; then step A register --register --param-rk=$MA --param-sark=$NA --param-aptpl
  else step A register --register --param-sark=$NA --param-aptpl; fi
  keep; NB=$(key bb $S); step B register-ignore --register-ignore --param-sark=$NB --param-aptpl
  keep; NH=A; NT=$t1; step A reserve --reserve --param-rk=$MA --prout-type=$t1
  keep; NA=""; NH=B; NT=$t2; step B preempt --preempt --param-rk=$MB --param-sark=$MA --prout-type=$t2
  keep; NA=$(key aa $S); step A register --register --param-sark=$NA --param-aptpl
  keep; NH=""; NT=""; step B release --release --param-rk=$MB --prout-type=$RT
  if [ $((i % 2)) = 1 ]; then keep; NB=""; step B unregister --register-ignore --param-sark=0 --param-aptpl; fi
  i=$((i+1))
done
