# test/powercut/guest/snapshot-rounds.sh - the writing part of a KIND=snapshot boot (sourced by
# guest-init.sh after the scans; never returns: it writes until the host cuts the power).
#
# The snapshot LUNs scanned at the start are unmapped first (logout, clonetarget apply of the
# configuration with LUN 0 only, login again: a mapped snapshot cannot be deleted). Then rounds
# k = 1, 2, ...:
#   1. pcio write --final-sync on LUN 0 into $RD/rKK/ (round number R*64+k, so write ids keep the
#      issue order across rounds and boots) for 2..6 s; its last line is a completed SYNCHRONIZE
#      CACHE after every write returned, so the volume "as of round k" is known from the logs;
#   2. wait for the deletion started in the previous round (if any);
#   3. "C k NAME" in $RD/snaplog.txt, clonetarget snapshot create data@NAME (NAME = s<R>-<k>),
#      "c k NAME RC" after it returned (RC 0 = acknowledged);
#   4. with 3 or more snapshots alive, in half the rounds: "X NAME" (BEFORE), clonetarget
#      snapshot delete of a random older one in the background, "x NAME RC" after it returned;
#      it runs while the next round writes (copy-on-write and deletion at once).
# Every line of snaplog.txt is one write(2) to the 9p share (cache=none), so a line on the host
# happened in the guest. The host waits for $RD/first-ack (the first round's first ack).
SNAPLOG=$RD/snaplog.txt
: > "$SNAPLOG"
slog() { echo "$*" >> "$SNAPLOG"; }
RANDOM=$(( WSEED % 32768 ))
ALIVE=("${SNAPS[@]}")

if [ ${#SNAPS[@]} -gt 0 ]; then
  timeout 60 iscsiadm -m node --logoutall=all >> "$LOG" 2>&1 || say "logout failed"
  ct_cmd apply-origin apply -f /tmp/ct-origin.toml --force --state-dir /data/state || fatal "apply (unmap the snapshot LUNs) failed: $(tr '\n' ' ' < "$RD/apply-origin.txt" | cut -c1-300)"
  timeout 90 iscsiadm -m node -T $IQN -p $PORTAL --login >> "$LOG" 2>&1 || fatal "login after unmapping the snapshots"
fi
ODEV=$(wait_dev 0) || fatal "no disk for LUN 0 after the second login"
echo 120 > "/sys/block/${ODEV#/dev/}/device/timeout"
say "snapshot LUNs unmapped; origin = $ODEV; rounds start (alive: ${ALIVE[*]:-none})"

DELPID=""; DELNAME=""
k=1
while [ $k -lt 64 ]; do
  WD=$RD/r$(printf %02d $k)
  mkdir -p "$WD"
  secs=$(( 2 + RANDOM % 5 ))
  say "round $k: writing ${secs}s"
  /pc/pcio write --dir "$WD" --round $(( R * 64 + k )) --seed $(( WSEED + k )) --threads "$THREADS" \
      --sync-permille "${SYNC_PERMILLE:-50}" --max-seconds $secs --final-sync "$ODEV:file" 2> "$WD/writer.err"
  wrc=$?
  [ $k = 1 ] && : > "$RD/first-ack"
  [ $wrc = 0 ] || { say "round $k: writer rc=$wrc: $(tr '\n' ' ' < "$WD/writer.err")"; result "error=writer-rc-$wrc"; sleep 600; poweroff_now fast; }
  if [ -n "$DELPID" ]; then wait "$DELPID"; DELPID=""; fi
  name=s$R-$k
  slog "C $k $name"
  ct_cmd "snap-create-$k" snapshot create "data@$name" --state-dir /data/state; rc=$?
  slog "c $k $name $rc"
  say "round $k: snapshot create data@$name rc=$rc: $(tr '\n' ' ' < "$RD/snap-create-$k.txt" | cut -c1-200)"
  [ $rc = 0 ] && ALIVE+=("$name")
  if [ ${#ALIVE[@]} -ge 3 ] && [ $(( RANDOM % 2 )) = 0 ]; then
    i=$(( RANDOM % (${#ALIVE[@]} - 1) ))      # never the newest
    DELNAME=${ALIVE[$i]}
    ALIVE=("${ALIVE[@]:0:$i}" "${ALIVE[@]:$((i+1))}")
    slog "X $k $DELNAME"
    say "round $k: deleting data@$DELNAME (in the background)"
    ( ct_cmd "snap-delete-$k" snapshot delete "data@$DELNAME" --state-dir /data/state; slog "x $k $DELNAME $?" ) &
    DELPID=$!
  fi
  k=$((k+1))
done
say "64 rounds without a cut?!"
result "error=rounds-ended"
sleep 600
poweroff_now fast
