# test/rescan/guest/common.sh - helpers shared by the guest scripts (sourced, not run).
# So far only offload-test.sh sources it; rescan-test.sh and snapmount-test.sh still carry their
# own copies of these functions (they were verified as they are and were not changed with it).
#
# Before sourcing, set: NAME (log prefix), OUT, CT, STATE, PORT, PORTAL, and the arrays FAILS=()
# and STEPS=(); SERVE_ARGS (array) holds the arguments of `clonetarget serve` after --state-dir.
: "${CT_TRIES:=4}" "${TARGET_TRIES:=2}"
RES=$OUT/result.txt
up() { cut -d' ' -f1 /proc/uptime; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
log() { echo "[$NAME $(up)] $*"; }
result() { echo "$*" >> "$RES"; }
jvm_crash() { local f; f=$(ls "$OUT"/hs_err_pid*.log 2>/dev/null | tail -n 1); [ -n "$f" ] && echo " (JVM crashed: $(basename "$f"): $(grep -m1 -E 'SIG[A-Z]+ \(' "$f" | sed 's/^# *//'))"; }

# ct NAME ARGS...: a CLI command (a fresh JVM) over the admin socket, output in $OUT/NAME.txt;
# retried when the JVM died of a signal (the TCG JIT crash, README.md)
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
# start_target: clonetarget serve in its own session (TPID); waits for the port and the admin
# socket; the start is retried once when the JVM died of a signal before listening
TPID=""
start_target() {
  local try deadline rc
  for try in $(seq 1 "$TARGET_TRIES"); do
    ( cd "$OUT" && exec setsid "$CT" serve --state-dir "$STATE" "${SERVE_ARGS[@]}" ) >> "$OUT/target.log" 2>&1 < /dev/null &
    TPID=$!
    deadline=$(( $(date +%s) + 150 ))
    while [ "$(date +%s)" -lt $deadline ]; do
      if port_listening && [ -S "$STATE/admin.sock" ]; then log "target pid $TPID listening on $PORTAL (try $try)"; return 0; fi
      kill -0 $TPID 2>/dev/null || break
      sleep 0.25
    done
    wait $TPID 2>/dev/null; rc=$?
    log "target did not start (try $try, rc=$rc)$(jvm_crash): $(tail -n 5 "$OUT/target.log" | tr '\n' ' ' | cut -c1-400)"
    kill -KILL -- -$TPID 2>/dev/null
    if [ "$try" -lt "$TARGET_TRIES" ] && [ $rc -ge 128 ]; then
      log "RETRY: target JVM died of a signal (rc=$rc) before listening, starting it again"
      echo "retry target rc=$rc" >> "$OUT/retries.txt"; rm -f "$STATE/admin.sock" "$STATE/server.lock"
      continue
    fi
    return 1
  done
  return 1
}
# stop_target [KILL]: SIGTERM (up to 30 s, then SIGKILL to its process group), or SIGKILL at once
stop_target() {
  [ -n "${TPID:-}" ] && kill -0 "$TPID" 2>/dev/null || return 0
  if [ "${1:-}" = KILL ]; then kill -KILL -- "-$TPID" 2>/dev/null; else kill -TERM "$TPID"; fi
  for _ in $(seq 1 300); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$TPID" 2>/dev/null && { log "target did not stop within 30 s"; kill -KILL -- "-$TPID" 2>/dev/null; }
  wait "$TPID" 2>/dev/null
  return 0
}
# start_iscsid: iscsi_tcp, sd, sg and iscsid in the foreground of its own session (ISCSID_PID)
start_iscsid() {
  mkdir -p /run/lock/iscsi
  modprobe iscsi_tcp || return 1
  modprobe sd_mod; modprobe sg
  setsid iscsid -f -d "${ISCSID_DEBUG:-1}" > "$OUT/iscsid.log" 2>&1 < /dev/null &
  ISCSID_PID=$!
  for _ in $(seq 1 50); do timeout 5 iscsiadm -m session 2>&1 | grep -qi 'can not connect\|could not connect' || break; sleep 0.1; done
}
