#!/usr/bin/env python3
"""Stitching (issue 3 item 7): stacks deeper than perf's stack copy,
completed from earlier samples of the same thread. Real recordings of
tests/integration/descend.py, which descends gradually (samples on the way
down) and then works at the bottom. Prints "stitch: N passed, N failed,
N skipped".

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, HERE, PY312, PY313, Suite, run  # noqa: E402
from harness import dwarf_python as pyenv_python  # noqa: E402
from run import folded, pyname, record  # noqa: E402

DESCEND = os.path.join(HERE, "descend.py")
suite = Suite("stitch")
test = suite.test


def stitched_count(data):
    """The summary's "N samples (x%) completed by stitching" figure."""
    out = run([BIN, "--format", "text", "-o", "-", data]).stdout
    m = re.search(r"(\d+) samples \(([\d.]+)%\) completed by stitching to "
                  r"earlier samples of the same thread", out)
    return (int(m.group(1)), float(m.group(2))) if m else (0, 0.0), out


def check_descend(stacks, depth, named):
    """Every descend.py sample is either [truncated] (never rooted
    anywhere else) or has exactly the designed chain: <module>, main,
    then the levels 1..n in order, then bottom only at n == depth.
    Returns counts."""
    c = {"mine": 0, "complete": 0, "truncated": 0, "bottom": 0,
         "bottom_complete": 0}
    bad = []
    for frames, n in stacks:
        chain = [x[0] for x in (pyname(f) for f in frames)
                 if x and x[1] == "descend.py"]
        levels = [x for x in chain if x.startswith(("descend", "level_"))]
        if not levels:
            continue
        c["mine"] += n
        at_bottom = chain[-1] == "bottom"
        if at_bottom:
            c["bottom"] += n
        if frames[0] == "[truncated]":
            c["truncated"] += n
            if "<module>" in chain or "main" in chain:
                bad.append(("truncated but rooted", frames, n))
            continue
        body = chain[2:-1] if at_bottom else chain[2:]
        want = (["level_%d" % i for i in range(1, len(body) + 1)] if named
                else ["descend"] * len(body))
        ok = (frames[0] == "<module> (descend.py)" and
              chain[:2] == ["<module>", "main"] and body == want and
              (not at_bottom or len(body) == depth) and len(body) <= depth)
        if not ok:
            bad.append(("wrong chain", frames, n))
            continue
        c["complete"] += n
        if at_bottom:
            c["bottom_complete"] += n
    if bad:
        why, frames, n = bad[0]
        short = [pyname(f)[0] if pyname(f) else f for f in frames]
        raise AssertionError("%d bad stacks, first (%s, %d samples): %s" % (
            sum(b[2] for b in bad), why, n, ";".join(short)[:1500]))
    return c


def report(name, c, stitched):
    print("    %s: %d samples, %.1f%% complete; bottom %d, %.1f%% complete; "
          "%d stitched (%.1f%% of samples)" % (
              name, c["mine"], 100.0 * c["complete"] / max(c["mine"], 1),
              c["bottom"], 100.0 * c["bottom_complete"] / max(c["bottom"], 1),
              stitched[0], stitched[1]))


@test
def stitch_descend_312_64k(tmp):
    """3.12, 64 KiB copies (~120 levels fit), 200 levels reached gradually:
    >= 95% of all samples and of the bottom ones complete and exact, none
    wrong; every complete bottom sample needed stitching. (Not deeper: at
    ~4 native frames per level, 250 levels reach the unwinder's limit of
    1024 frames.)"""
    py = pyenv_python(PY312)
    depth = 200
    data = record(tmp, "d.data", [py, "-X", "perf", DESCEND, str(depth),
                                  "0.01", "1.5"],
                  ["--call-graph", "dwarf,65528", "-F", "999", "-m", "2048"])
    c = check_descend(folded(data), depth, named=False)
    stitched, out = stitched_count(data)
    report("3.12 dwarf,65528 depth %d" % depth, c, stitched)
    assert c["bottom"] > 500, "few bottom samples: %s" % c
    assert c["bottom_complete"] >= 0.95 * c["bottom"], c
    assert c["complete"] >= 0.95 * c["mine"], c
    # 200 levels cannot fit in 64 KiB: complete bottom samples are stitched
    assert stitched[0] >= c["bottom_complete"], (stitched, c, out)


@test
def stitch_named_levels_313_16k(tmp):
    """3.13, 16 KiB copies (~25 levels fit), 80 distinct level functions:
    a stack glued at the wrong depth would break the level sequence; none
    does, and >= 95% of the samples are complete."""
    py = pyenv_python(PY313)
    depth = 80
    data = record(tmp, "n.data", [py, "-X", "perf", DESCEND, "--named",
                                  str(depth), "0.015", "1.0"],
                  ["--call-graph", "dwarf,16384", "-F", "999", "-m", "2048"])
    c = check_descend(folded(data), depth, named=True)
    stitched, out = stitched_count(data)
    report("3.13 dwarf,16384 named depth %d" % depth, c, stitched)
    assert c["bottom"] > 300 and c["mine"] > 1000, c
    assert c["bottom_complete"] >= 0.95 * c["bottom"], c
    assert c["complete"] >= 0.95 * c["mine"], c
    assert stitched[0] >= c["bottom_complete"], (stitched, c, out)


@test
def no_stitch_without_earlier_samples(tmp):
    """A recursion that dives to 60 levels at once (no samples on the way
    down) past a 16 KiB copy: nothing earlier shows those frames, so the
    bottom stays [truncated] and nothing is stitched."""
    py = pyenv_python(PY312)
    data = record(tmp, "r.data", [py, "-X", "perf",
                                  os.path.join(HERE, "recurse.py"), "60"],
                  ["--call-graph", "dwarf,16384", "-F", "499", "-m", "2048"])
    mine = trunc = 0
    for frames, n in folded(data):
        chain = [x[0] for x in (pyname(f) for f in frames)
                 if x and x[1] == "recurse.py"]
        if "bottom" in chain:
            mine += n
            if frames[0] == "[truncated]":
                trunc += n
    stitched, out = stitched_count(data)
    print("    recurse 60, dwarf,16384: %d bottom samples, %d truncated, "
          "%d stitched" % (mine, trunc, stitched[0]))
    assert mine > 200 and trunc == mine, (mine, trunc)
    assert stitched[0] == 0, out


@test
def stitch_summary_json(tmp):
    """The JSON summary carries the stitched count."""
    py = pyenv_python(PY312)
    data = record(tmp, "j.data", [py, "-X", "perf", DESCEND, "--named", "60",
                                  "0.01", "0.3"],
                  ["--call-graph", "dwarf,8192", "-F", "999", "-m", "2048"])
    import json
    out = run([BIN, "--format", "json", "-o", "-", data]).stdout
    doc = json.loads(out)
    events = doc.get("events") or []
    assert events and "stitched" in events[0], out[:2000]
    assert events[0]["stitched"] > 0, events[0]
    c = check_descend(folded(data), 60, named=True)
    assert c["complete"] >= 0.9 * c["mine"], c


if __name__ == "__main__":
    sys.exit(suite.main())
