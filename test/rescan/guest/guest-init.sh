#!/bin/bash
# PID 1 of the rescan test VM (entered from vm-initiator's initramfs via switch_root: the
# initramfs mounts the root snapshot, this directory as /harness and the results share as /out).
# Sets up the minimal system (as vm-initiator's and test/powercut's guest-init.sh do), mounts the
# 9p shares listed in /out/run.env (jdk, project), runs /harness/${TEST:-rescan}-test.sh with a watchdog,
# saves dmesg and powers the VM off.
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
hostname rescan
ip link set lo up

poweroff_now() {   # "fast": no sync (a hung iSCSI device could block sync forever)
  if [ "${1:-}" != fast ]; then sync; umount /out 2>/dev/null; fi
  echo o > /proc/sysrq-trigger
  sleep 20
  echo b > /proc/sysrq-trigger   # -no-reboot turns a reboot into a QEMU exit as well
}
say() { echo "[guest-init $(cut -d' ' -f1 /proc/uptime)] $*" > "$CON"; }

# shellcheck disable=SC1091
. /out/run.env
say "booted: kernel $(uname -r), net: $(ip -o link show | awk -F': ' '{printf "%s ", $2}')"

mount -t tmpfs -o "size=${SCRATCH_SIZE:-512m},mode=0755" tmpfs /scratch

# watchdog: whatever hangs, the VM powers itself off (the host's timeout is the last resort)
( sleep "${GUEST_TIMEOUT:-540}"; say "WATCHDOG: guest timeout ${GUEST_TIMEOUT:-540}s"
  echo "RESCAN: FAIL (watchdog: guest timeout ${GUEST_TIMEOUT:-540} s)" | tee -a /out/test.log > "$CON"
  dmesg > /out/dmesg.txt 2>&1; poweroff_now fast ) &

for spec in ${GUEST_MOUNTS:-}; do
  tag=${spec%%:*}; path=${spec#*:}
  mkdir -p "$path"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose "$tag" "$path" \
    || say "ERROR: cannot mount 9p share '$tag' at $path"
done
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
modprobe virtio_rng 2>/dev/null

bash "/harness/${TEST:-rescan}-test.sh" 2>&1 | tee /out/test.log > "$CON"

dmesg > /out/dmesg.txt 2>&1
say "done, powering off"
poweroff_now
