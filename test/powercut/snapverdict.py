#!/usr/bin/env python3
"""Snapshot checks of a KIND=snapshot power-cut boot (see docs/powercut.md, Snapshots).

Usage (standalone, to re-check a kept series): snapverdict.py SERIES_OUT_DIR BOOT

A boot's writes are in rounds, BOOT_DIR/rKK/log-file-T.txt, each ended by a completed SYNCHRONIZE
CACHE after every write returned (pcio --final-sync); round k of boot R has the round number
R*64+k (the epoch the origin verdict uses). After round k the guest took snapshot sR-k, logged in
BOOT_DIR/snaplog.txt:
  C k NAME       before `snapshot create data@NAME`      c k NAME RC   after it returned
  X k NAME       before `snapshot delete data@NAME`      x k NAME RC   after it returned
The image of sR-k must be exactly the origin as boot R's scan found it (scan-file.txt, before any
write of boot R), overlaid with every write of rounds 1..k of boot R in write-id order (the
writes of one sector are ordered: one thread owns each 64 KiB chunk, and rounds follow each
other). Rules, at the boot BOOT that scans the snapshots (BOOT_DIR/scan-snap-NAME.txt) and lists
them (metadata dump, BOOT_DIR/snapshots-boot.txt):
  missing    acknowledged (c ... 0), no deletion started (no X line), and not in the store
  wrong      a scanned snapshot image differs from its expected image (any sector; counted per
             snapshot, with the number of sectors)
  resurrected a snapshot whose deletion returned 0 is in the store
  unknown    a snapshot in the store that no boot ever asked to create
  unscanned  (failure) a valid snapshot in the store without a scan
A snapshot whose creation was not acknowledged (cut during create) or whose deletion started
may or may not be there; when it is there and valid, its image is checked all the same.
"""
import glob
import json
import os
import sys

sys.dont_write_bytecode = True
import verdict as V  # noqa: E402


def round_dirs(boot_dirs):
    """[(epoch, dir)] of the rounds of the given [(boot, dir)], epoch = boot*64+k, in order."""
    res = []
    for b, d in boot_dirs:
        for r in sorted(glob.glob(os.path.join(d, "r[0-9][0-9]"))):
            res.append((b * 64 + int(os.path.basename(r)[1:]), r))
    return res


def read_snaplog(bdir):
    ev = []
    try:
        with open(os.path.join(bdir, "snaplog.txt"), errors="replace") as f:
            for line in f:
                if line.endswith("\n"):
                    ev.append(line.split())
    except OSError:
        pass
    return ev


def history(boot_dirs):
    """name -> {boot, k, acked, delete_started, delete_rc} over the given boots."""
    h = {}
    for b, d in boot_dirs:
        for p in read_snaplog(d):
            if p[0] == "C" and len(p) == 3:
                h[p[2]] = {"boot": b, "k": int(p[1]), "acked": False, "delete_started": False, "delete_rc": None}
            elif p[0] == "c" and len(p) == 4 and p[2] in h:
                h[p[2]]["acked"] = p[3] == "0"
                h[p[2]]["create_rc"] = p[3]
            elif p[0] == "X" and len(p) == 3 and p[2] in h:
                h[p[2]]["delete_started"] = True
                h[p[2]]["delete_boot"] = b
            elif p[0] == "x" and len(p) == 4 and p[2] in h:
                h[p[2]]["delete_rc"] = p[3]
    return h


def store_list(bdir):
    """{name: state} the metadata dump listed at the start of boot bdir, or None (no store yet)."""
    path = os.path.join(bdir, "snapshots-boot.txt")
    if not os.path.exists(path):
        return None
    res = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2:
                res[p[0]] = p[1]
    return res


def expected_image(bdir, boot, k):
    """The image snapshot s<boot>-<k> must have (list per sector: 'Z', 'G' or a write id), or
    (None, why) when it cannot be computed."""
    n, obs, bad = V.load_scan(os.path.join(bdir, "scan-file.txt"))
    img = list(obs)
    writes = []
    for kk in range(1, k + 1):
        rdir = os.path.join(bdir, "r%02d" % kk)
        log = V.LunLog()
        log.load_round(rdir, boot * 64 + kk, "file")
        if log.sync_max_start.get(boot * 64 + kk, 0) == 0:
            return None, "round %d has no completed final sync" % kk
        for wid, (rnd, lba, cnt, kind, ev_i, ev_a, rc) in log.writes.items():
            if ev_a is None or rc != 0:
                return None, "round %d: write %d not acknowledged with 0" % (kk, wid)
            writes.append((wid, lba, cnt))
    writes.sort()
    for wid, lba, cnt in writes:
        for s in range(lba, min(lba + cnt, n)):
            img[s] = wid
    return img, None


def check(out_dir, bno):
    """Checks boot bno's snapshot store and scans against every earlier boot's snapshot log."""
    boots = V.boot_dirs(out_dir)
    before = [(b, d) for b, d in boots if b < bno]
    bdir = dict(boots)[bno]
    h = history(before)
    store = store_list(bdir)
    store = {} if store is None else store
    res = {"boot": bno, "created": sum(1 for x in h.values() if x["acked"]), "create_unacked": 0,
           "deletes_started": sum(1 for x in h.values() if x["delete_started"]),
           "deletes_done": sum(1 for x in h.values() if x["delete_rc"] == "0"),
           "in_store": len(store), "expected_present": 0, "checked": 0, "exact": 0,
           "missing": 0, "wrong": 0, "resurrected": 0, "unknown": 0, "unscanned": 0,
           "uncertain_present": 0, "uncertain_absent": 0, "examples": []}

    def ex(m):
        if len(res["examples"]) < 20:
            res["examples"].append(m)

    for name, x in sorted(h.items()):
        if not x["acked"] and not x["delete_started"]:
            res["create_unacked"] += 1
        must = x["acked"] and not x["delete_started"]
        there = store.get(name) is not None
        if must:
            res["expected_present"] += 1
            if not there:
                res["missing"] += 1
                ex("snapshot %s MISSING: creation acknowledged (boot %d), never deleted" % (name, x["boot"]))
        elif x["delete_rc"] == "0" and there:
            res["resurrected"] += 1
            ex("snapshot %s is in the store although its deletion returned 0" % name)
        elif there:
            res["uncertain_present"] += 1
        else:
            res["uncertain_absent"] += 1
    for name, state in sorted(store.items()):
        if name not in h:
            res["unknown"] += 1
            ex("snapshot %s in the store was never created by the test" % name)
            continue
        if state != "valid":
            ex("snapshot %s state %s" % (name, state))
            if h[name]["acked"] and not h[name]["delete_started"]:
                res["wrong"] += 1
            continue
        scan = os.path.join(bdir, "scan-snap-%s.txt" % name)
        if not os.path.exists(scan):
            res["unscanned"] += 1
            ex("snapshot %s not scanned" % name)
            continue
        x = h[name]
        exp, why = expected_image(dict(boots)[x["boot"]], x["boot"], x["k"])
        if exp is None:
            ex("snapshot %s: no expected image (%s)" % (name, why))
            res["unscanned"] += 1
            continue
        n, obs, bad = V.load_scan(scan)
        diff = [s for s in range(max(n, len(exp))) if s >= n or s >= len(exp) or obs[s] != exp[s]]
        res["checked"] += 1
        if diff:
            res["wrong"] += 1
            s = diff[0]
            ex("snapshot %s WRONG in %d sectors, first %d: holds %s, expected %s%s"
               % (name, len(diff), s, obs[s] if s < n else "-", exp[s] if s < len(exp) else "-",
                  " (%s)" % bad[s] if s in bad else ""))
        else:
            res["exact"] += 1
    res["ok"] = not (res["missing"] or res["wrong"] or res["resurrected"] or res["unknown"] or res["unscanned"])
    return res


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 64
    r = check(argv[1], int(argv[2]))
    print(json.dumps(r, indent=1))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
