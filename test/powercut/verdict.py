#!/usr/bin/env python3
"""Verdict of one power cut: compare what the LUNs hold after the cut with the writers' logs.

Usage (standalone, to re-check a kept series directory):
    verdict.py SERIES_OUT_DIR BOOT [--lun NAME]...
reads SERIES_OUT_DIR/bNNN/log-NAME-*.txt of every boot before BOOT (the writes of every round
up to the cut) and SERIES_OUT_DIR/bBOOT/scan-NAME.txt (what each sector held after the cut).

Rules (per 512-byte sector s):
  durable(W)  = W acknowledged with rc 0 and (W is a FUA write (kind F or G), or W's ack event
                precedes the start event of a SYNCHRONIZE CACHE (fdatasync) on the same LUN in the
                same boot that itself completed with rc 0)
  floor(s)    = the last durable write covering s (writes of one sector are totally ordered: one
                thread owns each 64 KiB chunk in a boot, and boots follow each other; the write
                id is boot << 32 | n, so its order is the issue order)
  allowed(s)  = floor(s) or any write covering s issued after it (logged intent); without a floor
                also the initial content (zeroes for a file LUN, the golden sector for a clone)
  lost        = a sector holding the initial content or an older write than floor(s): counted once
                per durable write that is not (wholly) there
  corrupt     = a sector that is none of these (bad checksum/content, a stamp of another LBA,
                garbage, zeroes on a clone, golden data on a file LUN)
  unknown     = a valid stamp whose write id was never logged for that sector (cannot happen when
                the intent is logged before the write is issued; counted as a failure)
  unstable    = (warning) a sector not written since the previous scan whose content changed
A lost log line only makes the check weaker: a missing ack or sync completion makes a write
non-durable, and a missing intent cannot happen (the write is issued after its intent returned).
"""
import glob
import json
import os
import sys
from collections import defaultdict

SECT = 512


class LunLog:
    """All writes to one LUN (by name) across the boots before a scan."""

    def __init__(self):
        self.writes = {}            # wid -> [round, lba, nsect, kind, ev_i, ev_a, rc]
        self.sync_max_start = {}    # round -> max start ev of a completed sync
        self.acked = 0
        self.durable = set()
        self.rounds = set()

    def load_round(self, rdir, rnd, name):
        syncs = {}
        done = {}
        for path in sorted(glob.glob(os.path.join(rdir, "log-%s-*.txt" % name))):
            with open(path, "r", errors="replace") as f:
                for line in f:
                    if not line.endswith("\n"):
                        continue            # torn last line of a killed writer: ignore
                    p = line.split()
                    try:
                        if p[0] == "I" and len(p) == 6:
                            self.writes[int(p[2])] = [rnd, int(p[3]), int(p[4]), p[5], int(p[1]), None, None]
                        elif p[0] == "A" and len(p) == 4:
                            w = self.writes.get(int(p[2]))
                            if w is not None:
                                w[5] = int(p[1])
                                w[6] = int(p[3])
                        elif p[0] == "S" and len(p) == 3:
                            syncs[int(p[2])] = int(p[1])
                        elif p[0] == "D" and len(p) == 4:
                            done[int(p[2])] = int(p[3])
                    except (ValueError, IndexError):
                        continue
        best = 0
        for sid, ev in syncs.items():
            if done.get(sid) == 0:
                best = max(best, ev)
        self.sync_max_start[rnd] = best
        self.rounds.add(rnd)

    def classify(self):
        self.acked = 0
        self.durable = set()
        for wid, (rnd, lba, n, kind, ev_i, ev_a, rc) in self.writes.items():
            if ev_a is None or rc != 0:
                continue
            self.acked += 1
            if kind in ("F", "G") or ev_a < self.sync_max_start.get(rnd, 0):
                self.durable.add(wid)


def load_scan(path, sectors_hint=None):
    """Returns (n, observed list, bad dict). observed[s]: 'Z', 'G', an int wid, or None (bad)."""
    obs = None
    bad = {}
    n = None
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "#":
                if len(p) > 3 and p[1] == "scan":
                    for tok in p:
                        if tok.startswith("sectors="):
                            n = int(tok[8:])
                            obs = [None] * n
                continue
            if p[0] in ("Z", "G"):
                s, c = int(p[1]), int(p[2])
                obs[s:s + c] = [p[0]] * c
            elif p[0] == "W":
                s, c, wid = int(p[1]), int(p[2]), int(p[3])
                obs[s:s + c] = [wid] * c
            elif p[0] in ("X", "M", "E"):
                bad[int(p[1])] = " ".join(p)
    if obs is None:
        raise ValueError("no header in " + path)
    return n, obs, bad


def verdict(log_dirs, scan_path, name, kind_initial, prev_scan=None, since_epoch=None, cut_epochs=None):
    """log_dirs: [(epoch, dir)] of every boot before the scan (in order); scan_path: what the LUN
    held; kind_initial: 'Z' for file LUNs, 'G' for clones; prev_scan: the previous scan of the same
    LUN and since_epoch the first boot after it (for the 'unstable' warning); cut_epochs: the
    epochs whose writes the issued/acked/durable counts are of (default: the last one).
    Returns a dict of counts and examples."""
    log = LunLog()
    for epoch, d in log_dirs:
        log.load_round(d, epoch, name)
    log.classify()
    last = max(e for e, _ in log_dirs) if log_dirs else 0
    n, obs, bad = load_scan(scan_path)

    # per sector: sorted wids covering it, and the floor
    cover = defaultdict(list)
    for wid, w in log.writes.items():
        lba, cnt = w[1], w[2]
        for s in range(lba, min(lba + cnt, n)):
            cover[s].append(wid)
    floor = {}
    for s, wids in cover.items():
        wids.sort()
        f = None
        for wid in wids:
            if wid in log.durable:
                f = wid
        if f is not None:
            floor[s] = f

    lost_writes = set()
    lost_sectors = 0
    corrupt = 0
    unknown = 0
    examples = []
    state = defaultdict(int)     # what the written sectors hold: floor / newer / initial / older

    def ex(msg):
        if len(examples) < 20:
            examples.append(msg)

    for s in range(n):
        o = obs[s]
        wids = cover.get(s)
        if o is None:
            corrupt += 1
            ex("sector %d corrupt: %s (last durable %s)" % (s, bad.get(s, "?"), floor.get(s)))
            continue
        if o in ("Z", "G"):
            if o != kind_initial:
                corrupt += 1
                ex("sector %d holds %s, not a valid initial content for this LUN" % (s, o))
                continue
            if s in floor:
                lost_sectors += 1
                lost_writes.add(floor[s])
                ex("sector %d LOST: holds the initial content, durable write %d (boot %d, kind %s) gone"
                   % (s, floor[s], log.writes[floor[s]][0], log.writes[floor[s]][3]))
            elif wids:
                state["initial"] += 1
            continue
        # a write stamp
        if not wids or o not in log.writes or not (log.writes[o][1] <= s < log.writes[o][1] + log.writes[o][2]):
            unknown += 1
            ex("sector %d holds write %d which was never logged for it" % (s, o))
            continue
        f = floor.get(s)
        if f is not None and o < f:
            lost_sectors += 1
            lost_writes.add(f)
            ex("sector %d LOST: holds older write %d, durable write %d (boot %d, kind %s) gone"
               % (s, o, f, log.writes[f][0], log.writes[f][3]))
        elif f is not None and o == f:
            state["floor"] += 1
        elif f is not None:
            state["newer"] += 1
        else:
            state["nondurable"] += 1

    unstable = 0
    if prev_scan and os.path.exists(prev_scan):
        _, pobs, _ = load_scan(prev_scan)
        written_now = set()
        for wid, w in log.writes.items():
            if since_epoch is None or w[0] >= since_epoch:
                written_now.update(range(w[1], min(w[1] + w[2], n)))
        for s in range(min(n, len(pobs))):
            if obs[s] != pobs[s] and s not in written_now:
                unstable += 1
                if unstable <= 5:
                    ex("sector %d changed without a write since the previous scan: %s -> %s" % (s, pobs[s], obs[s]))

    cut_ep = cut_epochs if cut_epochs is not None else {last}
    cut_writes = [w for w in log.writes.values() if w[0] in cut_ep]
    return {
        "lun": name,
        "issued": len(cut_writes),
        "acked": sum(1 for w in cut_writes if w[5] is not None and w[6] == 0),
        "durable": sum(1 for wid, w in log.writes.items() if w[0] in cut_ep and wid in log.durable),
        "inflight": sum(1 for w in cut_writes if w[5] is None),
        "fua": sum(1 for w in cut_writes if w[3] in ("F", "G") and w[6] == 0),
        "lost": len(lost_writes),
        "lost_sectors": lost_sectors,
        "corrupt": corrupt,
        "unknown": unknown,
        "unstable": unstable,
        "sectors_written": len(cover),
        "state": dict(state),
        "examples": examples,
    }


def boot_dirs(out_dir):
    """[(boot number, dir)] of a series' out directory (b001, b002, ...), in order."""
    res = []
    for d in glob.glob(os.path.join(out_dir, "b[0-9][0-9][0-9]")):
        res.append((int(os.path.basename(d)[1:]), d))
    return sorted(res)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 64
    out_dir, boot = argv[1], int(argv[2])
    names = [argv[i + 1] for i in range(3, len(argv) - 1) if argv[i] == "--lun"] or ["file", "clone"]
    boots = boot_dirs(out_dir)
    before = [(e, d) for e, d in boots if e < boot]
    scan_dir = dict(boots)[boot]
    rc = 0
    for name in names:
        scan = os.path.join(scan_dir, "scan-%s.txt" % name)
        if not os.path.exists(scan):
            continue
        prev = [(e, d) for e, d in before if os.path.exists(os.path.join(d, "scan-%s.txt" % name))]
        prev_scan = os.path.join(prev[-1][1], "scan-%s.txt" % name) if prev else None
        v = verdict(before, scan, name, "Z" if name == "file" else "G", prev_scan, prev[-1][0] if prev else None)
        print(json.dumps(v, indent=1))
        if v["lost"] or v["corrupt"] or v["unknown"]:
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
