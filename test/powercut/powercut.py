#!/usr/bin/env python3
"""Power-cut driver (called by test/powercut/run.sh; see docs/powercut.md).

A series = one fresh data disk and K cuts: boot 1 writes and is cut, boot 2 verifies cut 1,
writes and is cut, ..., boot K+1 verifies cut K and shuts down cleanly. Each boot is a QEMU VM
(vm-initiator's kernel, initrd and root image) whose second virtio disk holds the LUN files:
  plain:  the raw image file on the host, cache=writeback (flushes reach the host file; what QEMU
          wrote stays in the host page cache, so a cut drops only the guest's memory)
  strict: the raw image behind nbdkit --filter=cache cache=writeback on a UNIX socket; nbdkit
          holds every write until a flush and is SIGKILLed together with QEMU, so a cut also
          drops whatever the guest wrote but never flushed.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import verdict as V  # noqa: E402
import snapverdict as SV  # noqa: E402
import prverdict as PV  # noqa: E402

GSEED = 0x5EED601D
IQN = "iqn.2026-11.io.clonetarget:powercut"


def now():
    return time.monotonic()


def log(msg):
    print("[powercut %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Procs:
    """The processes of one boot; everything is SIGKILLed on any exit path."""

    def __init__(self):
        self.qemu = None        # the timeout wrapper (Popen)
        self.qemu_pidfile = None
        self.nbdkit = None

    def qemu_pid(self):
        try:
            with open(self.qemu_pidfile) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"qemu-system" in f.read():
                    return pid
        except (OSError, ValueError, TypeError):
            pass
        return None

    def cut(self):
        """The power cut: SIGKILL nbdkit first (its unflushed cache dies with it), then QEMU."""
        t = time.time()
        if self.nbdkit and self.nbdkit.poll() is None:
            self.nbdkit.kill()
        qp = self.qemu_pid()
        if qp:
            try:
                os.kill(qp, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.qemu and self.qemu.poll() is None:
            try:
                os.killpg(self.qemu.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return t

    def reap(self):
        for p in (self.qemu, self.nbdkit):
            if p is not None:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.qemu = self.nbdkit = None

    def kill_all(self):
        self.cut()
        self.reap()


CURRENT = Procs()


def on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def detect_accel(mode):
    if mode == "auto":
        ok = os.access("/dev/kvm", os.W_OK)
        with open("/proc/cpuinfo") as f:
            cpu = f.read()
        mode = "kvm" if ok and (" vmx" in cpu or " svm" in cpu) else "tcg"
    if mode == "kvm":
        return mode, ["-enable-kvm", "-cpu", "host"]
    return mode, ["-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max"]


def nbdkit_selftest(work):
    """Proves that nbdkit's cache filter (writeback) drops unflushed writes when SIGKILLed and
    writes flushed ones through. Returns a one-line description; raises on failure."""
    d = os.path.join(work, "nbdkit-selftest")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "tmp"))
    img = os.path.join(d, "img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    results = []
    for pattern, flush in ((0x5A, False), (0x6B, True)):
        sock = os.path.join(d, "sock")
        if os.path.exists(sock):
            os.unlink(sock)
        env = dict(os.environ, TMPDIR=os.path.join(d, "tmp"))
        nb = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent", "-U", sock, "--filter=cache", "file",
                               "file=" + img, "cache=writeback"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        cmd = ["qemu-io", "-f", "raw", "-t", "writeback", "-c", "write -P 0x%x 0 1M" % pattern]
        if flush:
            cmd += ["-c", "flush"]
        cmd += ["-c", "sleep 30000", "nbd+unix:///?socket=" + sock]
        qi = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        nb.kill()
        qi.kill()
        nb.wait()
        qi.wait()
        with open(img, "rb") as f:
            first = f.read(4)
        results.append(first == bytes([pattern]) * 4)
    shutil.rmtree(d, ignore_errors=True)
    if results != [False, True]:
        raise RuntimeError("nbdkit cache filter self-test failed: unflushed write survived=%s, flushed write "
                           "reached the file=%s" % results)
    return "nbdkit cache=writeback self-test: an unflushed write is gone after SIGKILL, a flushed one is in the file"


class Series:
    def __init__(self, args, idx, mode, kind, ncuts, seed, accel, totals):
        self.a = args
        self.idx = idx
        self.mode = mode
        self.kind = kind
        self.ncuts = ncuts
        self.rng = random.Random(seed)
        self.seed = seed
        self.accel = accel
        self.t = totals
        self.dir = os.path.join(args.out, "s%02d-%s-%s" % (idx, mode, kind))
        self.out = os.path.join(self.dir, "out")
        self.names = {"file": ["file"], "clone": ["clone"], "both": ["file", "clone"], "snapshot": ["file"],
                      "pr": []}[kind]

    # ---------------------------------------------------------------- disk
    def make_disk(self):
        os.makedirs(self.out, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        stage = os.path.join(self.dir, "stage")
        os.makedirs(stage, exist_ok=True)
        try:
            os.link(self.a.golden, os.path.join(stage, "golden.img"))
        except OSError:
            shutil.copyfile(self.a.golden, os.path.join(stage, "golden.img"))
        img = os.path.join(self.dir, "data.img")
        with open(img, "wb") as f:
            f.truncate(self.a.disk_mb << 20)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "pcdata", "-E",
                        "root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0", "-d", stage, img],
                       check=True)
        shutil.rmtree(stage)
        self.img = img

    # ---------------------------------------------------------------- one boot
    def bdir(self, bno):
        return os.path.join(self.out, "b%03d" % bno)

    def boot(self, bno, action):
        rdir = self.bdir(bno)
        os.makedirs(rdir)
        wseed = self.rng.getrandbits(48)
        sync_pm = self.rng.choice([3, 10, 30, 100])
        env = {
            "ROUND": bno, "ACTION": action, "KIND": self.kind, "MODE": self.mode,
            "LUN_SIZE": self.a.lun_size, "RATE": self.a.rate, "GSEED": GSEED, "WSEED": wseed,
            "THREADS": self.a.threads, "SNAP_LIMIT": self.a.snap_limit, "SYNC_PERMILLE": sync_pm, "SABOTAGE": "1" if self.a.sabotage == "writer" else "",
            "MOUNT_OPTS": "nobarrier" if self.a.sabotage == "nobarrier" else "",
            "TRACE": "1" if (self.a.trace and bno == 1) else "0",
            "GUEST_TIMEOUT": self.a.boot_timeout - 30,
            "JAVA_HOME": self.a.jdk,
            "GUEST_MOUNTS": "jdk:%s project:/project pc:/pc" % self.a.jdk,
        }
        with open(os.path.join(self.out, "run.env"), "w") as f:
            for k, v in env.items():
                f.write("%s=%s\n" % (k, shq(str(v))))
        p = CURRENT
        p.qemu_pidfile = os.path.join(rdir, "qemu.pid")
        if self.mode == "strict":
            sock = os.path.join(self.dir, "nbd.sock")
            if os.path.exists(sock):
                os.unlink(sock)
            nenv = dict(os.environ, TMPDIR=os.path.join(self.dir, "tmp"))
            p.nbdkit = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent", "-U", sock, "--filter=cache", "file",
                                         "file=" + self.img, "cache=writeback"], env=nenv,
                                        stdout=open(os.path.join(rdir, "nbdkit.log"), "w"), stderr=subprocess.STDOUT)
            for _ in range(200):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            data = ["-drive", "if=virtio,format=raw,cache=writeback,file.driver=nbd,file.server.type=unix,"
                              "file.server.path=" + sock]
        else:
            data = ["-drive", "if=virtio,format=raw,cache=writeback,aio=threads,file=" + self.img]
        img = self.a.image
        qemu = (["timeout", "--kill-after=10", str(self.a.boot_timeout), "qemu-system-x86_64"] + self.accel[1] +
                ["-machine", "q35", "-smp", "2", "-m", str(self.a.mem), "-nodefaults", "-no-user-config",
                 "-display", "none", "-vga", "none", "-no-reboot", "-nic", "none",
                 "-kernel", os.path.join(img, "vmlinuz"), "-initrd", os.path.join(img, "initrd.img"),
                 "-append", "console=ttyS0,115200 panic=1 loglevel=4 quiet",
                 "-drive", "file=%s,if=virtio,format=raw,snapshot=on,cache=unsafe" % os.path.join(img, "rootfs.img")]
                + data +
                ["-device", "virtio-rng-pci", "-pidfile", p.qemu_pidfile,
                 "-chardev", "file,id=ser0,path=" + os.path.join(rdir, "console.log"), "-serial", "chardev:ser0"])
        for tag, path, ro in (("harness", os.path.join(HERE, "guest"), True), ("out", self.out, False),
                              ("jdk", self.a.jdk, True), ("project", self.a.project, True), ("pc", self.a.bindir, True)):
            qemu += ["-virtfs", "local,path=%s,mount_tag=%s,security_model=none,multidevs=remap%s"
                     % (path, tag, ",readonly=on" if ro else "")]
        with open(os.path.join(rdir, "qemu-cmdline.txt"), "w") as f:
            f.write(" ".join(shq(x) for x in qemu) + "\n")
        qenv = dict(os.environ, TMPDIR=os.path.join(self.dir, "tmp"))
        t0 = now()
        p.qemu = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=open(os.path.join(rdir, "qemu.log"), "w"),
                                  stderr=subprocess.STDOUT, env=qenv, start_new_session=True)
        info = {"boot": bno, "action": action, "wseed": wseed, "sync_pm": sync_pm, "t_start": t0}
        first_ack = os.path.join(rdir, "first-ack")
        deadline = t0 + self.a.boot_timeout + 15
        if action == "write":
            while now() < deadline and p.qemu.poll() is None and not os.path.exists(first_ack):
                time.sleep(0.1)
            if not os.path.exists(first_ack):
                p.kill_all()
                info["error"] = "no acknowledged write (%s)" % self.guest_error(rdir)
                return info
            info["t_first_ack"] = now()
            delay = self.cut_delay()
            if self.kind == "snapshot" and self.rng.random() < self.a.delete_cuts:
                # aim at a deletion inside the server: wait for the next "X" line (a delete command
                # started), then for the server's own "deleting" line (logged under the gates, before
                # the deletion's commit: the CLI's JVM start under TCG takes seconds), then cut within
                # the time the commit takes; without that line in 120 s, 1 to 12 s after the X line
                snaplog = os.path.join(rdir, "snaplog.txt")
                target_log = os.path.join(rdir, "target.log")
                seen = count_lines(snaplog, "X ")
                limit = now() + 240
                while now() < limit and p.qemu.poll() is None and count_lines(snaplog, "X ") == seen:
                    time.sleep(0.05)
                deleting = count_matching(target_log, ": deleting,")
                limit = now() + 120
                while now() < limit and p.qemu.poll() is None and count_matching(target_log, ": deleting,") == deleting:
                    time.sleep(0.02)
                if count_matching(target_log, ": deleting,") > deleting:
                    delay = self.rng.uniform(0.0, 0.4)
                    info["aim"] = "delete-in-server"
                else:
                    delay = self.rng.uniform(1.0, 12.0)
                    info["aim"] = "delete"
            info["delay"] = delay
            end = now() + delay
            while now() < end and p.qemu.poll() is None:
                time.sleep(0.02)
            if self.kind == "pr" and self.rng.random() < self.a.pr_aim:
                # aim at a PR OUT in flight: the next "B" line (logged just before sg_persist runs),
                # then 0 to 0.3 s (a PR OUT with APTPL takes 0.3 to 1 s under TCG: temp file, fsync,
                # rename, directory fsync); without a B line within 60 s, cut anyway
                prlog = os.path.join(rdir, "prlog.txt")
                seen = count_lines(prlog, "B ")
                limit = now() + 60
                while now() < limit and p.qemu.poll() is None and count_lines(prlog, "B ") == seen:
                    time.sleep(0.01)
                extra = self.rng.uniform(0.0, 0.3)
                end = now() + extra
                while now() < end and p.qemu.poll() is None:
                    time.sleep(0.01)
                info["aim"] = "pr-out"
                info["delay"] = delay + extra
            if p.qemu.poll() is not None:
                p.kill_all()
                info["error"] = "VM ended before the cut (%s)" % self.guest_error(rdir)
                return info
            info["t_cut"] = now()
            p.cut()
            if self.kind == "snapshot":
                info["snaplog_at_cut"] = tail_lines(os.path.join(rdir, "snaplog.txt"), 2)
            p.reap()
        else:
            while now() < deadline and p.qemu.poll() is None:
                time.sleep(0.2)
            p.kill_all()
            res = read_result(rdir)
            if res.get("final") != "done":
                info["error"] = "final boot did not finish (%s)" % self.guest_error(rdir)
        info["t_end"] = now()
        return info

    def cut_delay(self):
        r = self.rng.random()
        if r < 0.15:
            return self.rng.uniform(0.0, 1.0)
        return self.rng.uniform(1.0, self.a.max_delay)

    def guest_error(self, rdir):
        res = read_result(rdir)
        if "error" in res:
            return "guest: " + res["error"]
        try:
            with open(os.path.join(rdir, "console.log"), errors="replace") as f:
                tail = f.read().strip().splitlines()[-3:]
            return "console: " + " | ".join(tail)
        except OSError:
            return "no console"

    # ---------------------------------------------------------------- run the series
    def run(self):
        """Boots until ncuts power cuts were made and verified, then a final clean boot. Every
        boot scans the LUNs first, and each scan is checked against the logs of all earlier
        boots (a boot that failed is a power cut as well; its logs count, its cut does not)."""
        self.make_disk()
        log("series s%02d: mode=%s kind=%s cuts=%d seed=%d disk=%s" % (self.idx, self.mode, self.kind, self.ncuts,
                                                                          self.seed, self.img))
        boots = []
        pending = None          # the last proper cut whose state no scan has checked yet
        cuts = 0
        failures = 0
        bno = 0
        while True:
            action = "write" if cuts < self.ncuts else "final"
            bno += 1
            info = self.boot(bno, action)
            self.count_retries(bno)
            rdir = self.bdir(bno)
            tr = os.path.join(rdir, "trace.txt")
            if os.path.exists(tr):
                log("  b%03d trace (4 s of writing): %s" % (bno, trace_summary(tr)))
            if self.kind == "pr":
                if os.path.exists(os.path.join(rdir, "pr-verify.txt")):
                    self.check_pr(bno, boots, pending, info)
                    pending = None
                elif bno > 1:
                    log("  b%03d: no PR verification (the state is checked at the next boot)" % bno)
            elif all(os.path.exists(os.path.join(rdir, "scan-%s.txt" % n)) for n in self.names):
                self.check_scan(bno, boots, pending, info)
                pending = None
            elif bno > 1:
                log("  b%03d: no scan (the state is checked at the next boot)" % bno)
            boots.append(info)
            if "error" in info:
                self.t["errors"] += 1
                failures += 1
                log("  b%03d (%s) failed: %s" % (bno, action, info["error"]))
                if failures > 2:
                    self.t["aborted_series"] += 1
                    log("  series s%02d aborted after %d failed boots" % (self.idx, failures))
                    return False
                continue
            if action == "final":
                self.report_final(bno, info)
                return True
            cuts += 1
            pending = info

    def count_retries(self, bno):
        path = os.path.join(self.bdir(bno), "retries.txt")
        if os.path.exists(path):
            with open(path) as f:
                lines = [x.strip() for x in f if x.strip()]
            self.t["jvm_retries"] += len(lines)
            for x in lines:
                log("  b%03d: JVM start retried once: %s" % (bno, x))

    def hydration(self, rdir):
        """(hydrated regions, regions, complete, state) samples of one boot: the count the target
        logged when it opened the clone, then every clone status taken during the boot."""
        import re
        vals = []
        try:
            with open(os.path.join(rdir, "target.log"), errors="replace") as f:
                m = re.search(r"volume \S+: clone of .*?hydrated \((\d+) of (\d+) regions", f.read())
            if m:
                vals.append((int(m.group(1)), int(m.group(2)), m.group(1) == m.group(2), "opened"))
        except OSError:
            pass
        for i in range(0, 100):
            path = os.path.join(rdir, "status-%d.txt" % i)
            if not os.path.exists(path):
                continue
            doc = parse_json(path)
            if not doc:
                continue
            for c in doc if isinstance(doc, list) else [doc]:
                if isinstance(c, dict) and "hydrated_regions" in c:
                    vals.append((c["hydrated_regions"], c.get("regions"), c.get("complete"), c.get("state")))
        return vals

    def check_pr(self, bno, boots, cut, vinfo):
        """--kind pr: the state boot bno restored against the PR OUT log of the last boot before it."""
        vdir = self.bdir(bno)
        res = read_result(vdir)
        try:
            v = PV.check(self.out, bno, [self.bdir(b["boot"]) for b in boots])
        except (OSError, ValueError, TypeError, KeyError, IndexError) as e:
            self.t["errors"] += 1
            v = {"ok": False, "problems": ["verdict-error(%s)" % e]}
        with open(os.path.join(vdir, "verdict-pr.json"), "w") as f:
            json.dump(v, f, indent=1)
        ok = v["ok"]
        parts = ["pr:after=%s,steps=%s,good=%s,last-good=[%s],in-flight=[%s],restored=[%s],allowed={%s},matched=%s"
                 % (v.get("boot"), v.get("steps"), v.get("good"), v.get("last_good"), v.get("inflight"),
                    v.get("restored_a"), "; ".join("%s: %s" % kv for kv in v.get("allowed", {}).items()),
                    ",".join(v.get("matched", [])) or "NONE")]
        if v.get("restored_b") != v.get("restored_a"):
            parts.append("restored-from-B=[%s]" % v.get("restored_b"))
        if v["problems"]:
            parts.append("PROBLEMS=[%s]" % "; ".join(v["problems"]))
        for e in v.get("errors", []) + v.get("corrupt", []) + v.get("mismatch", []) + v.get("notgood", []):
            log("    pr: %s" % e)
        if res.get("vdb_write_cache") != "write_back":
            self.t["errors"] += 1
            parts.append("VDB-WRITE-CACHE=%s" % res.get("vdb_write_cache"))
        fsck = res.get("fsck_boot")
        if fsck != "0":
            self.t["fsck_errors"] += 1
            parts.append("FSCK=%s" % fsck)
        if not ok:
            self.t["pr_fail"] = self.t.get("pr_fail", 0) + 1
            self.t["failed_checks"].append("s%02d/b%03d" % (self.idx, bno))
        if cut is None:
            what = "baseline (fresh disk)" if bno == 1 else "after a failed boot"
            print("VERIFY s%02d b%03d %s: %s %s" % (self.idx, bno, what, "OK" if ok else "FAIL", " ".join(parts)),
                  flush=True)
            return
        self.t["cuts"] += 1
        self.t["per"][(self.mode, self.kind)] = self.t["per"].get((self.mode, self.kind), 0) + 1
        if v.get("inflight") not in (None, "none"):
            self.t["pr_inflight"] = self.t.get("pr_inflight", 0) + 1
        for k in v.get("matched", []):
            self.t["pr_" + k] = self.t.get("pr_" + k, 0) + 1
        between = bno - cut["boot"] - 1
        secs = vinfo["t_start"] - cut["t_start"]
        self.t["cut_seconds"].append(secs)
        print("CUT %d: s%02d %s %s b%03d seed=%d delay=%.1fs aim=%s %s %s%s boot-to-cut=%.0fs cycle=%.0fs"
              % (self.t["cuts"], self.idx, self.mode, self.kind, cut["boot"], cut["wseed"], cut["delay"],
                 cut.get("aim", "random"),
                 "OK" if ok else "FAIL", " ".join(parts),
                 " (+%d failed boot(s) before this check)" % between if between else "",
                 cut["t_cut"] - cut["t_start"], secs), flush=True)

    def check_scan(self, bno, boots, cut, vinfo):
        """Checks boot bno's scans against the logs of all earlier boots; cut is the proper power
        cut this verifies (None after a failed boot, or for the first boot's baseline)."""
        vdir = self.bdir(bno)
        res = read_result(vdir)
        before = [(b["boot"], self.bdir(b["boot"])) for b in boots]
        snap = self.kind == "snapshot"
        if snap:
            boot_before = before
            before = SV.round_dirs(boot_before)   # the origin's writes are in rounds (rKK/)
        parts = []
        lost = corrupt = unknown = unstable = 0
        acked = durable = 0
        for name in self.names:
            prev = [(e, d) for e, d in (boot_before if snap else before)
                    if os.path.exists(os.path.join(d, "scan-%s.txt" % name))]
            try:
                cut_epochs = None
                if snap:
                    prev = [(e * 64, d) for e, d in prev]
                    cut_epochs = set(e for e, d in before if cut is not None and e // 64 == cut["boot"])
                v = V.verdict(before, os.path.join(vdir, "scan-%s.txt" % name), name, "Z" if name == "file" else "G",
                              os.path.join(prev[-1][1], "scan-%s.txt" % name) if prev else None,
                              prev[-1][0] if prev else None, cut_epochs=cut_epochs)
            except (OSError, ValueError, TypeError) as e:
                self.t["errors"] += 1
                parts.append("%s:verdict-error(%s)" % (name, e))
                continue
            with open(os.path.join(vdir, "verdict-%s.json" % name), "w") as f:
                json.dump(v, f, indent=1)
            lost += v["lost"]
            corrupt += v["corrupt"]
            unknown += v["unknown"]
            unstable += v["unstable"]
            if cut is not None:
                acked += v["acked"]
                durable += v["durable"]
            st = v["state"]
            parts.append("%s:issued=%d,acked=%d,durable=%d,inflight=%d,lost=%d,corrupt=%d,unknown=%d,unstable=%d,"
                         "held(floor=%d,newer=%d,nondurable=%d,initial=%d)"
                         % (name, v["issued"], v["acked"], v["durable"], v["inflight"], v["lost"], v["corrupt"],
                            v["unknown"], v["unstable"], st.get("floor", 0), st.get("newer", 0),
                            st.get("nondurable", 0), st.get("initial", 0)))
            for e in v["examples"][:5]:
                log("    %s: %s" % (name, e))
        meta_fail = 0
        if snap:
            m = res.get("snapmeta_boot")
            if m != "0" and not (m == "absent" and bno == 1):
                meta_fail = 1
                parts.append("SNAP-META-CHECK=%s" % m)
            else:
                parts.append("snapmeta=%s" % m)
            try:
                sv = SV.check(self.out, bno)
            except (OSError, ValueError, TypeError, KeyError) as e:
                self.t["errors"] += 1
                sv = None
                parts.append("snap:verdict-error(%s)" % e)
            if sv is not None:
                with open(os.path.join(vdir, "verdict-snapshots.json"), "w") as f:
                    json.dump(sv, f, indent=1)
                for e in sv["examples"][:8]:
                    log("    snapshots: %s" % e)
                for k in ("missing", "wrong", "resurrected", "unknown", "unscanned", "checked", "exact", "created",
                          "deletes_started"):
                    self.t["snap_" + k] = self.t.get("snap_" + k, 0) + (sv[k] if cut is not None or k in (
                        "missing", "wrong", "resurrected", "unknown", "unscanned", "checked", "exact") else 0)
                parts.append("snapshots:in-store=%d,expected=%d,checked=%d,exact=%d,missing=%d,wrong=%d,resurrected=%d,"
                             "unknown=%d,unscanned=%d,maybe(present=%d,absent=%d),created=%d,unacked=%d,deletes=%d/%d"
                             % (sv["in_store"], sv["expected_present"], sv["checked"], sv["exact"], sv["missing"],
                                sv["wrong"], sv["resurrected"], sv["unknown"], sv["unscanned"], sv["uncertain_present"],
                                sv["uncertain_absent"], sv["created"], sv["create_unacked"], sv["deletes_done"],
                                sv["deletes_started"]))
                if not sv["ok"]:
                    self.t["snap_fail"] = self.t.get("snap_fail", 0) + 1
            if cut is not None and cut.get("snaplog_at_cut") is not None:
                parts.append("aim=%s last-snaplog=[%s]" % (cut.get("aim", "random"), " | ".join(cut["snaplog_at_cut"])))
        if "clone" in self.names:
            m = res.get("meta_boot")
            if m != "0" and not (m == "absent" and bno == 1):
                meta_fail = 1
                parts.append("META-CHECK=%s" % m)
            else:
                parts.append("meta=%s" % m)
            hv = self.hydration(vdir)
            if hv:
                a, b = hv[0], hv[-1]
                grows = b[0] > a[0] or bool(b[2]) or bool(a[2])
                if len(hv) < 2:
                    parts.append("hydration=%s/%s(one sample)" % (a[0], a[1]))
                else:
                    parts.append("hydration=%s->%s/%s%s" % (a[0], b[0], b[1], "" if grows else " NOT-GROWING"))
                    if not grows and bno > 1:
                        self.t["hydration_stalls"] += 1
            else:
                parts.append("hydration=?")
                self.t["hydration_unknown"] += 1
        if res.get("vdb_write_cache") != "write_back":
            # without a write-back cache the guest sends no flushes and strict mode means nothing
            self.t["errors"] += 1
            parts.append("VDB-WRITE-CACHE=%s" % res.get("vdb_write_cache"))
        for name in self.names:
            if res.get("lun_%s_fua" % name) != "1":
                parts.append("%s-fua=%s" % (name, res.get("lun_%s_fua" % name)))
        fsck = res.get("fsck_boot")
        if fsck != "0":
            self.t["fsck_errors"] += 1
            parts.append("FSCK=%s" % fsck)
        if res.get("target_died"):
            parts.append("target-died-before-cut=%s" % res.get("target_died"))
        self.t["lost"] += lost
        self.t["corrupt"] += corrupt
        self.t["unknown"] += unknown
        self.t["unstable"] += unstable
        self.t["meta_fail"] += meta_fail
        self.t["acked"] += acked
        self.t["durable"] += durable
        ok = not (lost or corrupt or unknown or meta_fail)
        if snap and (sv is None or not sv["ok"]):
            ok = False
        if not ok:
            self.t["failed_checks"].append("s%02d/b%03d" % (self.idx, bno))
        if cut is None:
            what = "baseline (fresh disk)" if bno == 1 else "after a failed boot"
            print("VERIFY s%02d b%03d %s: %s %s" % (self.idx, bno, what, "OK" if ok else "FAIL", " ".join(parts)),
                  flush=True)
            return
        self.t["cuts"] += 1
        self.t["per"][(self.mode, self.kind)] = self.t["per"].get((self.mode, self.kind), 0) + 1
        died = read_result(self.bdir(cut["boot"])).get("target_died")
        if died:
            self.t["target_died"] += 1
        between = bno - cut["boot"] - 1
        secs = vinfo["t_start"] - cut["t_start"]
        self.t["cut_seconds"].append(secs)
        print("CUT %d: s%02d %s %s b%03d seed=%d syncs=%d/1000 delay=%.1fs %s %s%s%s boot-to-cut=%.0fs cycle=%.0fs"
              % (self.t["cuts"], self.idx, self.mode, self.kind, cut["boot"], cut["wseed"], cut["sync_pm"],
                 cut["delay"], "OK" if ok else "FAIL", " ".join(parts),
                 " (target died before the cut: %s)" % died if died else "",
                 " (+%d failed boot(s) before this scan)" % between if between else "",
                 cut["t_cut"] - cut["t_start"], secs), flush=True)

    def report_final(self, bno, info):
        rdir = self.bdir(bno)
        res = read_result(rdir)
        parts = ["target_stop=%s" % res.get("target_stop"), "fsck=%s" % res.get("fsck_final")]
        if "clone" in self.names:
            parts.append("meta_final=%s" % res.get("meta_final"))
            if res.get("meta_final") != "0":
                self.t["meta_fail"] += 1
            hv = self.hydration(rdir)
            if hv:
                parts.append("hydration=%s->%s/%s" % (hv[0][0], hv[-1][0], hv[0][1]))
        if self.kind == "snapshot":
            parts.append("snapmeta_final=%s" % res.get("snapmeta_final"))
            if res.get("snapmeta_final") not in ("0", "absent"):
                self.t["meta_fail"] += 1
        if res.get("fsck_final") != "0":
            self.t["fsck_errors"] += 1
        log("  s%02d final boot b%03d: %s (%.0f s)" % (self.idx, bno, " ".join(parts), info["t_end"] - info["t_start"]))


def trace_summary(path):
    """Counts what the kernel initiator sent (scsi_dispatch_cmd_start) per LUN: writes with and
    without the FUA bit, SYNCHRONIZE CACHE; and the block layer's request flags (block_rq_issue)."""
    import re
    scsi = {}
    rwbs = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r"scsi_dispatch_cmd_start: .* lun=(\d+) .*cmnd=\((\S+) .*raw=([0-9a-f ]+)\)", line)
            if m:
                lun, op, raw = m.group(1), m.group(2), m.group(3).split()
                if op.startswith("WRITE"):
                    op += "+FUA" if int(raw[1], 16) & 0x08 else ""
                d = scsi.setdefault(lun, {})
                d[op] = d.get(op, 0) + 1
                continue
            m = re.search(r"block_rq_issue: (\d+,\d+) (\S+) ", line)
            if m:
                k = "%s %s" % (m.group(1), m.group(2))
                rwbs[k] = rwbs.get(k, 0) + 1
    return ("SCSI commands per LUN: " + "; ".join("lun %s: %s" % (l, ", ".join("%s=%d" % kv for kv in sorted(d.items())))
                                                  for l, d in sorted(scsi.items()))
            + " | block requests (dev rwbs): " + ", ".join("%s=%d" % kv for kv in sorted(rwbs.items())))


def count_lines(path, prefix):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for x in f if x.startswith(prefix))
    except OSError:
        return 0


def count_matching(path, text):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for x in f if text in x)
    except OSError:
        return 0


def tail_lines(path, n):
    try:
        with open(path, errors="replace") as f:
            return [x.strip() for x in f.readlines()[-n:]]
    except OSError:
        return []


def read_result(rdir):
    res = {}
    try:
        with open(os.path.join(rdir, "result.txt")) as f:
            for line in f:
                for tok in line.split():
                    if "=" in tok:
                        k, v = tok.split("=", 1)
                        res[k] = v
                if line.startswith("error="):
                    res["error"] = line.strip()[6:]
    except OSError:
        pass
    return res


def parse_json(path):
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    for start in range(len(text)):
        if text[start] in "[{":
            try:
                return json.loads(text[start:])
            except ValueError:
                try:
                    return json.JSONDecoder().raw_decode(text[start:])[0]
                except ValueError:
                    continue
    return None


def shq(s):
    if s and all(c.isalnum() or c in "@%+=:,./-_" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def main():
    ap = argparse.ArgumentParser(description="power-cut test of clonetarget (see docs/powercut.md)")
    ap.add_argument("--cuts", type=int, default=1)
    ap.add_argument("--mode", choices=["plain", "strict", "both"], default="both")
    ap.add_argument("--kind", choices=["file", "clone", "both", "snapshot", "pr"], default="both",
                    help="snapshot: a file LUN with [volume.snapshots], written in rounds with a snapshot after each; "
                         "pr: persistent reservations with APTPL=1 changed by two initiators until the cut")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--sabotage", choices=["none", "writer", "nobarrier", "build"], default="none",
                    help="writer: plain writes logged as FUA, fake syncs; nobarrier: the data disk mounted "
                         "without flushes; build: --project is a sabotaged build (sabotage-build.sh)")
    ap.add_argument("--cuts-per-disk", type=int, default=4)
    ap.add_argument("--max-delay", type=float, default=30.0)
    ap.add_argument("--lun-size", default=None, help="default 256M (64M with --kind snapshot)")
    ap.add_argument("--snap-limit", default="512M", help="[volume.snapshots] limit (--kind snapshot)")
    ap.add_argument("--delete-cuts", type=float, default=0.4,
                    help="share of --kind snapshot cuts aimed at a snapshot deletion (default 0.4)")
    ap.add_argument("--pr-aim", type=float, default=0.5,
                    help="share of --kind pr cuts aimed at a PR OUT in flight (default 0.5)")
    ap.add_argument("--rate", default="1M")
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--disk-mb", type=int, default=1280)
    ap.add_argument("--mem", type=int, default=3072)
    ap.add_argument("--boot-timeout", type=int, default=900)
    ap.add_argument("--trace", action="store_true", help="record SCSI/block trace events for 4 s in round 1")
    ap.add_argument("--accel", default=os.environ.get("VM_ACCEL", "auto"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--jdk", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--golden", required=True)
    a = ap.parse_args()
    if a.lun_size is None:
        a.lun_size = {"snapshot": "64M", "pr": "16M"}.get(a.kind, "256M")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    os.makedirs(a.out, exist_ok=True)
    accel = detect_accel(a.accel)
    log("seed %d, %d cut(s), mode %s, kind %s, sabotage %s, %s, out %s" % (a.seed, a.cuts, a.mode, a.kind, a.sabotage,
                                                                           accel[0], a.out))
    master = random.Random(a.seed)
    totals = {"cuts": 0, "lost": 0, "corrupt": 0, "unknown": 0, "unstable": 0, "meta_fail": 0, "errors": 0,
              "aborted_series": 0, "fsck_errors": 0, "jvm_retries": 0, "hydration_stalls": 0,
              "hydration_unknown": 0, "target_died": 0, "failed_checks": [], "acked": 0, "durable": 0, "per": {}, "cut_seconds": []}
    modes = ["plain", "strict"] if a.mode == "both" else [a.mode]
    if "strict" in modes:
        log(nbdkit_selftest(a.out))
    t0 = now()
    remaining = a.cuts
    idx = 0
    try:
        while remaining > 0:
            mode = modes[idx % len(modes)]
            n = min(a.cuts_per_disk, remaining)
            idx += 1
            s = Series(a, idx, mode, a.kind, n, master.getrandbits(48), accel, totals)
            s.run()
            remaining -= n
    except KeyboardInterrupt as e:
        log("interrupted (%s)" % e)
        totals["errors"] += 1
    finally:
        CURRENT.kill_all()
    t = totals
    per = " ".join("%s/%s=%d" % (m, k, c) for (m, k), c in sorted(t["per"].items()))
    cs = t["cut_seconds"]
    log("per mode/kind: %s; acknowledged writes %d, of them durable %d; mean cycle per cut %.0f s; total %.0f s"
        % (per or "-", t["acked"], t["durable"], sum(cs) / len(cs) if cs else 0, now() - t0))
    if t["failed_checks"]:
        log("failed checks (evidence kept in %s): %s" % (a.out, " ".join(t["failed_checks"])))
    print("POWERCUT-DETAIL: corrupt=%d unknown=%d unstable=%d fsck-errors=%d hydration-stalls=%d failed-boots=%d "
          "aborted-series=%d jvm-retries=%d target-died-before-cut=%d sabotage=%s seed=%d"
          % (t["corrupt"], t["unknown"], t["unstable"], t["fsck_errors"], t["hydration_stalls"], t["errors"],
             t["aborted_series"], t["jvm_retries"], t["target_died"], a.sabotage, a.seed))
    if a.kind == "snapshot":
        print("POWERCUT-SNAPSHOTS: checks-failed=%d missing=%d wrong=%d resurrected=%d unknown=%d unscanned=%d "
              "images-checked=%d exact=%d created(acked)=%d deletes-started=%d"
              % tuple(t.get("snap_" + k, 0) for k in ("fail", "missing", "wrong", "resurrected", "unknown", "unscanned",
                                                      "checked", "exact", "created", "deletes_started")))
    if a.kind == "pr":
        print("POWERCUT-PR: checks-failed=%d cuts-with-a-pr-out-in-flight=%d restored-last-good=%d restored-in-flight=%d"
              % (t.get("pr_fail", 0), t.get("pr_inflight", 0), t.get("pr_last-good", 0), t.get("pr_in-flight", 0)))
    print("POWERCUT: cuts=%d lost=%d metadata-failures=%d" % (t["cuts"], t["lost"], t["meta_fail"]), flush=True)
    clean = (t["cuts"] == a.cuts and t["lost"] == 0 and t["corrupt"] == 0 and t["unknown"] == 0
             and t["meta_fail"] == 0 and t["aborted_series"] == 0 and t.get("snap_fail", 0) == 0
             and t.get("pr_fail", 0) == 0)
    if a.sabotage != "none":
        caught = t["lost"] > 0 or t["corrupt"] > 0 or t["meta_fail"] > 0
        print("SABOTAGE %s: %s" % (a.sabotage, "caught (the harness reported the early durability claims)"
                                   if caught else "NOT caught"))
        return 0 if caught else 1
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
