"""Verdict of a --kind pr boot (see docs/powercut.md and guest/pr-rounds.sh).

The state a boot restored (READ KEYS and READ RESERVATION from both initiators, pr-verify.txt)
must be the state after the last PERSISTENT RESERVE OUT of the previous boot that was answered
GOOD, or the state after the one that was in flight at the cut (sent, no answer logged); with no
GOOD one in that boot, the state that boot itself restored. Nothing older, nothing mixed. A
reservation file the target set aside (an ERROR line, a .corrupt file) is a failure.
"""
import os

FRESH = "keys=none resv=none"


def parse_prlog(path):
    """-> dict(v=STATE|None, steps=[{s, who, cmd, expect, rc, good, read}], mismatch=[...])"""
    d = {"v": None, "steps": [], "mismatch": []}
    by = {}
    with open(path, errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split(" ")
            if len(p) < 3:
                continue
            tag, seq = p[0], p[1]
            if tag == "V":
                d["v"] = " ".join(p[3:])
            elif tag == "B" and len(p) >= 5:
                exp = line.split("expect=", 1)[1].strip() if "expect=" in line else None
                st = {"s": int(seq), "t": p[2], "who": p[3], "cmd": p[4], "expect": exp, "rc": None,
                      "good": None, "read": None, "line": line.strip()}
                d["steps"].append(st)
                by[seq] = st
            elif tag == "A" and seq in by:
                by[seq]["rc"] = p[3]
                by[seq]["good"] = len(p) > 4 and p[4] == "GOOD"
                by[seq]["t_ans"] = p[2]
            elif tag == "S" and seq in by:
                by[seq]["read"] = " ".join(p[3:])
            elif tag == "M":
                d["mismatch"].append(line.strip())
    return d


def allowed_after(bdir):
    """The states allowed after the cut of the boot in bdir, or None when that boot never got to
    its verification (then the boot before it decides)."""
    path = os.path.join(bdir, "prlog.txt")
    if not os.path.exists(path):
        return None
    d = parse_prlog(path)
    if d["v"] is None:
        return None
    good = [s for s in d["steps"] if s["good"]]
    last_good = good[-1]["expect"] if good else d["v"]
    a = {"boot": os.path.basename(bdir), "verified_at_start": d["v"], "steps": len(d["steps"]), "good": len(good),
         "last_good": ("s%d %s %s" % (good[-1]["s"], good[-1]["who"], good[-1]["cmd"])) if good else "none",
         "mismatch": d["mismatch"], "notgood": [s["line"] for s in d["steps"] if s["good"] is False]}
    states = {"last-good": last_good}
    last = d["steps"][-1] if d["steps"] else None
    if last is not None and last["good"] is not True:
        # in flight at the cut (no answer logged), or answered NOT GOOD (the loop then stopped)
        states["in-flight" if last["good"] is None else "not-good"] = last["expect"]
        a["inflight"] = "s%d %s %s" % (last["s"], last["who"], last["cmd"])
    else:
        a["inflight"] = "none"
    a["allowed"] = states
    return a


def check(out, bno, before_dirs):
    """before_dirs: the run dirs of the earlier boots, oldest first."""
    vdir = os.path.join(out, "b%03d" % bno)
    a = None
    for bd in reversed(before_dirs):
        a = allowed_after(bd)
        if a is not None:
            break
    if a is None:
        a = {"boot": "fresh-disk", "allowed": {"fresh": FRESH}, "inflight": "none", "last_good": "none", "steps": 0,
             "good": 0, "mismatch": [], "notgood": [], "verified_at_start": None}
    restored = {}
    with open(os.path.join(vdir, "pr-verify.txt"), errors="replace") as f:
        for line in f:
            if " " in line:
                who, st = line.strip().split(" ", 1)
                restored[who] = st
    errs = []
    try:
        with open(os.path.join(vdir, "target.log"), errors="replace") as f:
            errs = [x.strip() for x in f if "[ERROR]" in x]
    except OSError:
        pass
    corrupt = []
    try:
        with open(os.path.join(vdir, "prfiles-after-start.txt"), errors="replace") as f:
            corrupt = [x.strip() for x in f if ".corrupt" in x]
    except OSError:
        pass
    ra, rb = restored.get("A"), restored.get("B")
    matched = [k for k, v in a["allowed"].items() if v == ra]
    problems = []
    if ra != rb:
        problems.append("A and B see different states")
    if not matched:
        problems.append("restored state is not an allowed one")
    if errs:
        problems.append("ERROR in target.log")
    if corrupt:
        problems.append("reservation file set aside")
    if a["mismatch"]:
        problems.append("model mismatch in the cut boot")
    if a["notgood"]:
        problems.append("a PR OUT was not answered GOOD in the cut boot")
    return {"ok": not problems, "problems": problems, "restored_a": ra, "restored_b": rb, "matched": matched,
            "errors": errs[:5], "corrupt": corrupt, **a}
