#!/usr/bin/env python3
"""Integration tests: real perf recordings of real Python programs, analysed
with build/pyperf-merge. Prints "integration: N passed, N failed, N skipped".

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps the
scratch directory. Needs root or perf_event_paranoid <= 1 for perf record.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, HERE, PY312, PY313, Skip, Suite,  # noqa: E402,F401
                     dwarf_python, fp_python, run)

CALLTREE = os.path.join(HERE, "calltree.py")
suite = Suite("integration")
test = suite.test


def record(tmp, name, argv, perf_opts, pipe=False):
    """perf record argv; returns the perf.data path."""
    out = os.path.join(tmp, name)
    if pipe:
        with open(out, "wb") as f:
            p = subprocess.run(["perf", "record", "-q", "-o", "-"] + perf_opts +
                               ["--"] + argv, stdout=f, stderr=subprocess.PIPE,
                               text=True)
    else:
        p = subprocess.run(["perf", "record", "-q", "-o", out] + perf_opts +
                           ["--"] + argv, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise AssertionError("perf record failed: " + p.stderr[-2000:])
    return out


def folded(data, *opts):
    p = run([BIN, "--format", "folded", "-o", "-"] + list(opts) + [data])
    stacks = []
    for line in p.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        stacks.append((stack.split(";"), int(count)))
    return stacks


EXPECTED = {  # leaf Python function -> its chain under <module>
    "work_a": ["<module>", "main", "run", "work_a", "spin"],
    "work_b": ["<module>", "main", "run", "work_b", "spin"],
    "other": ["<module>", "main", "other", "spin"],
}


def pyname(frame):
    """'fib (app.py)' or 'fib (app.py:12)' (definition line known) ->
    ('fib', 'app.py'); None for non-Python frames."""
    m = re.match(r"^(\S+) \((.+?)(?::\d+)?\)$", frame)
    return (m.group(1), m.group(2)) if m else None


def calltree_check(stacks, min_complete=99.0):
    """The known-call-tree acceptance: >= 99% of the samples that have any
    calltree.py frame have exactly the designed chain; shares match."""
    mine = complete = 0
    share = {"work_a": 0, "work_b": 0, "other": 0}
    bad = []
    for frames, n in stacks:
        py = [pyname(f) for f in frames]
        py = [x[0] for x in py if x and x[1] == "calltree.py"]
        if not py:
            continue
        mine += n
        ok = False
        for key, chain in EXPECTED.items():
            if py == chain or py == chain[:-1]:
                if pyname(frames[0]) == ("<module>", "calltree.py"):
                    ok = True
                    share[key] += n
        if ok:
            complete += n
        else:
            bad.append((";".join(frames), n))
    assert mine > 500, "too few samples with calltree.py frames: %d" % mine
    pct = 100.0 * complete / mine
    bad.sort(key=lambda x: -x[1])
    assert pct >= min_complete, "only %.2f%% complete (%d/%d); worst: %s" % (
        pct, complete, mine, bad[:3])
    tot = sum(share.values())
    assert tot > 0, "no sample has a complete chain"
    got = {k: 100.0 * v / tot for k, v in share.items()}
    for k, want in (("work_a", 60), ("work_b", 20), ("other", 20)):
        assert abs(got[k] - want) <= 5, "share of %s is %.1f%%, designed %d%%" % (
            k, got[k], want)
    return pct, got


@test
def fp_calltree_complete(tmp):
    """-g on a frame-pointer CPython: >= 99% complete, shares as designed."""
    py = fp_python()
    data = record(tmp, "fp.data", [py, "-X", "perf", CALLTREE, "3"], ["-g", "-F", "2000"])
    pct, got = calltree_check(folded(data))
    print("    fp: %.2f%% complete, shares %s" % (pct, {k: round(v, 1) for k, v in got.items()}))


@test
def fp_pipe_and_compressed(tmp):
    """Pipe mode (-o -, read from stdin) and zstd (-z) give the same answer."""
    py = fp_python()
    data = record(tmp, "pipe.data", [py, "-X", "perf", CALLTREE, "1.5"], ["-g"], pipe=True)
    with open(data, "rb") as f:
        p = subprocess.run([BIN, "--format", "folded", "-o", "-", "-"], stdin=f,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    stacks = []
    for line in p.stdout.splitlines():
        s, _, c = line.rpartition(" ")
        stacks.append((s.split(";"), int(c)))
    calltree_check(stacks)
    z = record(tmp, "z.data", [py, "-X", "perf", CALLTREE, "1.5"], ["-g", "-z"])
    calltree_check(folded(z))


@test
def nofp_interpreter_is_explained(tmp):
    """-g on pyenv's 3.12 (no frame pointers): stacks break in libpython and
    the summary says so and how to record instead; no mis-rooted stacks."""
    if not os.path.exists(PY312):
        raise Skip("no %s" % PY312)
    data = record(tmp, "nofp.data", [PY312, "-X", "perf", CALLTREE, "1"], ["-g"])
    p = run([BIN, "-o", "-", "--format", "text", data])
    assert "built without frame" in p.stdout, p.stdout
    assert "--call-graph dwarf" in p.stdout, p.stdout
    for frames, n in folded(data):
        if any(pyname(f) for f in frames):
            assert frames[0] == "[truncated]", "mis-rooted: " + ";".join(frames)


@test
def default_run_writes_svg_and_summary(tmp):
    """Plain run: FILE.EVENT.svg next to the input, summary on stdout."""
    py = fp_python()
    data = record(tmp, "plain.data", [py, "-X", "perf", CALLTREE, "1"], ["-g", "-e", "cpu-clock,page-faults"])
    p = run([BIN, data])
    for ev in ("cpu-clock", "page-faults"):
        svg = data + "." + ev + ".svg"
        assert os.path.exists(svg), "missing " + svg
        body = open(svg, encoding="utf-8").read()
        assert body.startswith("<?xml") and "</svg>" in body
        assert "_[k]" in body          # kernel frames
        if ev == "cpu-clock":
            assert "&lt;module&gt; (calltree.py)" in body
            assert "work_a (calltree.py)" in body
    assert "event cpu-clock" in p.stdout and "event page-faults" in p.stdout
    assert "Top Python functions (self)" in p.stdout
    assert re.search(r"spin \(calltree\.py\)", p.stdout), p.stdout


@test
def filters_and_event_selection(tmp):
    """--event picks an event; --pid/--comm filter; unknown event is an error."""
    py = fp_python()
    data = record(tmp, "ev.data", [py, "-X", "perf", CALLTREE, "1"], ["-g", "-e", "cpu-clock,page-faults"])
    pf = folded(data, "--event", "page-faults")
    assert sum(n for _, n in pf) > 0
    p = run([BIN, "--format", "folded", "-o", "-", "--event", "nope", data], check=False)
    assert p.returncode == 2 and "no event named 'nope'" in p.stderr, p.stderr
    assert folded(data, "--pid", "1") == []
    assert sum(n for _, n in folded(data, "--comm", "python3.13")) > 0


# ---- DWARF unwinding (issue 3) ----

pyenv_python = dwarf_python   # the name the suites use


def python_chain(frames, script):
    """Qualnames of the Python frames of script, root first."""
    return [x[0] for x in (pyname(f) for f in frames) if x and x[1] == script]


@test
def dwarf_calltree_312(tmp):
    """--call-graph dwarf on 3.12 -X perf: >= 99% complete through trampolines."""
    py = pyenv_python(PY312)
    data = record(tmp, "d.data", [py, "-X", "perf", CALLTREE, "3"],
                  ["--call-graph", "dwarf,65528", "-F", "999", "-m", "2048"])
    pct, got = calltree_check(folded(data))
    print("    dwarf 3.12: %.2f%% complete, shares %s" % (pct, {k: round(v, 1) for k, v in got.items()}))


@test
def dwarf_calltree_313(tmp):
    """--call-graph dwarf on 3.13 -X perf: >= 99% complete."""
    py = pyenv_python(PY313)
    data = record(tmp, "d.data", [py, "-X", "perf", CALLTREE, "3"],
                  ["--call-graph", "dwarf,65528", "-F", "999", "-m", "2048"])
    pct, got = calltree_check(folded(data))
    print("    dwarf 3.13: %.2f%% complete, shares %s" % (pct, {k: round(v, 1) for k, v in got.items()}))


@test
def dwarf_fork_children(tmp):
    """Forked children resolve through their own (and their parent's) maps."""
    py = pyenv_python(PY312)
    data = record(tmp, "f.data", [py, "-X", "perf", os.path.join(HERE, "forkwork.py"), "1.5"],
                  ["--call-graph", "dwarf,65528", "-F", "499", "-m", "2048"])
    mine = ok = 0
    for frames, n in folded(data):
        chain = python_chain(frames, "forkwork.py")
        if "child" in chain or "spin" in chain:
            mine += n
            if frames[0] == "<module> (forkwork.py)" and chain[:3] == ["<module>", "main", "child"]:
                ok += n
    assert mine > 300, "few child samples: %d" % mine
    assert ok >= 0.99 * mine, "children complete: %d/%d" % (ok, mine)
    # each child has samples under its own pid
    child_pids = 0
    listing = run(["perf", "report", "-i", data, "--stdio", "--sort", "pid", "-q"], check=False).stdout
    for line in listing.splitlines():
        if "python3.12" in line:
            child_pids += 1
    assert child_pids >= 3, "expected parent + 2 children in:\n" + listing


@test
def dwarf_depth_limits(tmp):
    """20 levels complete with a 64 KiB copy; 60 levels with 16 KiB are
    [truncated] at the root, never mis-rooted."""
    py = pyenv_python(PY312)
    rec = os.path.join(HERE, "recurse.py")
    data = record(tmp, "r20.data", [py, "-X", "perf", rec, "20"],
                  ["--call-graph", "dwarf,65528", "-F", "499", "-m", "2048"])
    mine = ok = 0
    for frames, n in folded(data):
        chain = python_chain(frames, "recurse.py")
        if "bottom" in chain:
            mine += n
            if frames[0] == "<module> (recurse.py)" and chain == ["<module>", "main"] + ["down"] * 20 + ["bottom"]:
                ok += n
    assert mine > 200 and ok >= 0.99 * mine, "depth 20: %d/%d complete" % (ok, mine)
    data = record(tmp, "r60.data", [py, "-X", "perf", rec, "60"],
                  ["--call-graph", "dwarf,16384", "-F", "499", "-m", "2048"])
    mine = trunc = 0
    for frames, n in folded(data):
        chain = python_chain(frames, "recurse.py")
        if "bottom" in chain:
            mine += n
            assert frames[0] in ("[truncated]", "<module> (recurse.py)"), "mis-rooted: " + ";".join(frames[:4])
            if frames[0] == "[truncated]":
                trunc += n
                assert "<module>" not in chain
    assert mine > 200 and trunc >= 0.95 * mine, "depth 60: %d/%d truncated" % (trunc, mine)
    p = run([BIN, "--format", "text", "-o", "-", data])
    assert "truncated" in p.stdout and "65528" in p.stdout, p.stdout


@test
def dwarf_callbacks_from_c(tmp):
    """Methods, closures and sorted(key=...) called back from the native sort."""
    py = pyenv_python(PY312)
    data = record(tmp, "c.data", [py, "-X", "perf", os.path.join(HERE, "callbacks.py"), "1.5"],
                  ["--call-graph", "dwarf,65528", "-F", "999", "-m", "2048"])
    want = ["<module>", "main", "Sorter.run", "Sorter.sort_all",
            "Sorter.sort_all.<locals>.key", "weight"]
    mine = ok = 0
    for frames, n in folded(data):
        chain = python_chain(frames, "callbacks.py")
        if "weight" in chain:
            mine += n
            if frames[0] == "<module> (callbacks.py)" and chain == want:
                ok += n
    assert mine > 200 and ok >= 0.99 * mine, "callbacks: %d/%d" % (ok, mine)
    # with every frame kept, the native sort sits between sort_all and key
    for frames, n in folded(data, "--native=all"):
        chain = python_chain(frames, "callbacks.py")
        if chain[-2:] == ["Sorter.sort_all.<locals>.key", "weight"]:
            i = frames.index("Sorter.sort_all (callbacks.py)")
            j = frames.index("Sorter.sort_all.<locals>.key (callbacks.py)")
            between = frames[i + 1:j]
            assert any("sort" in f for f in between), between
            break
    else:
        raise AssertionError("no key() stack with --native=all")


def assert_clean_error(p, what):
    assert p.returncode in (1, 3), "%s: exit %d (signal?) %s" % (what, p.returncode, p.stderr)
    assert p.stderr.startswith("pyperf-merge: "), "%s: %r" % (what, p.stderr[:200])


@test
def bad_inputs(tmp):
    """Empty, wrong magic, truncated at many offsets, bogus sizes: a clear
    error and non-zero exit, never a crash."""
    empty = os.path.join(tmp, "empty.data")
    open(empty, "wb").close()
    p = run([BIN, "-o", os.devnull, empty], check=False)
    assert_clean_error(p, "empty")
    junk = os.path.join(tmp, "junk.data")
    with open(junk, "wb") as f:
        f.write(b"NOTPERF!" + b"\0" * 200)
    p = run([BIN, "-o", os.devnull, junk], check=False)
    assert_clean_error(p, "magic")
    p = run([BIN, "-o", os.devnull, os.path.join(tmp, "missing.data")], check=False)
    assert_clean_error(p, "missing")
    py = fp_python()
    data = record(tmp, "small.data", [py, "-X", "perf", "-c", "pass"], ["-g"])
    blob = open(data, "rb").read()
    cut = os.path.join(tmp, "cut.data")
    n = 0
    for off in sorted(set([1, 7, 8, 50, 103, 104, 105, 200, 400] +
                          list(range(0, len(blob), max(1, len(blob) // 60))))):
        with open(cut, "wb") as f:
            f.write(blob[:off])
        p = run([BIN, "-o", os.devnull, "--format", "folded", cut], check=False)
        assert p.returncode in (0, 1, 3), "offset %d: exit %d %s" % (off, p.returncode, p.stderr)
        if p.returncode:
            assert p.stderr.startswith("pyperf-merge: "), p.stderr
        n += 1
    # a record whose header.size is 0, placed where the data section starts
    import struct
    data_off = struct.unpack_from("<Q", blob, 40)[0]
    bad = bytearray(blob)
    struct.pack_into("<IHH", bad, data_off, 9, 0, 0)
    with open(cut, "wb") as f:
        f.write(bad)
    p = run([BIN, "-o", os.devnull, cut], check=False)
    assert_clean_error(p, "zero-size record")
    assert "offset" in p.stderr, p.stderr
    print("    %d truncations handled" % n)


if __name__ == "__main__":
    sys.exit(suite.main())
