#!/usr/bin/env python3
"""`pyperf-merge -j N`: samples are unwound and symbolized on N threads and
finished (stitching) and sunk in order on the caller's thread, so every
output -- folded, SVG, the JSON summary with its warnings and its
stitched/truncated counts -- must be byte-identical for every N. Real
--call-graph dwarf recordings of the workloads in this directory, analysed
with several -j. Prints "parallel: N passed, N failed, N skipped".

Each recording's /tmp/perf-PID.map files are moved into FILE.maps/ (where
pyperf-merge looks first, as for pyperf-record) so nothing is left in /tmp.
Every pyperf-merge run has a timeout: a pipeline that deadlocks fails the
test instead of hanging the suite.

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps the
scratch directories. Needs root or perf_event_paranoid <= 1 for perf record.
Usage: parallel_tests.py [TEST-NAME...]
"""
import difflib
import json
import os
import resource
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, HERE, PY312, ROOT, Suite, run  # noqa: E402
from harness import dwarf_python  # noqa: E402
from record_tests import need_perf  # noqa: E402  (Skip without perf rights)
from run import CALLTREE, calltree_check, python_chain, record  # noqa: E402
from stitch_tests import DESCEND, check_descend  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import pyperf_perfdata  # noqa: E402

FORKWORK = os.path.join(HERE, "forkwork.py")
DWARF = ["--call-graph", "dwarf,65528", "-F", "499", "-m", "2048"]
TIMEOUT = 30            # seconds per pyperf-merge run (~1 s here); a deadlock fails

suite = Suite("parallel")
test = suite.test


# ------------------------------------------------------------------ helpers

def keep_maps(data):
    """Move the /tmp/perf-PID.map files of the recording's processes into
    DATA.maps/; returns that directory and the Recording."""
    rec = pyperf_perfdata.Recording(data)
    maps = data + ".maps"
    os.makedirs(maps, exist_ok=True)
    for pid in rec.pids:
        src = "/tmp/perf-%d.map" % pid
        if os.path.exists(src):
            shutil.move(src, os.path.join(maps, os.path.basename(src)))
    return maps, rec


def record_dwarf(tmp, name, argv, opts=DWARF):
    """perf record --call-graph dwarf into tmp/name, maps kept beside it."""
    need_perf()
    data = record(tmp, name, argv, list(opts))
    maps, rec = keep_maps(data)
    return data, maps, rec


def merge(data, fmt, jobs=None, opts=(), stdin_file=None):
    """pyperf-merge [-j jobs] --format fmt -o - [opts] data; returns
    (stdout, stderr). With stdin_file, data should be "-" and the file is
    fed through a real pipe (`cat FILE | pyperf-merge -`), so the reader
    gets a stream and copies every event it keeps."""
    cmd = [BIN]
    if jobs is not None:
        cmd += ["-j", str(jobs)]
    cmd += ["--format", fmt, "-o", "-"] + list(opts) + [data]
    try:
        return _merge(cmd, stdin_file)
    except subprocess.TimeoutExpired:
        raise AssertionError("no exit after %d s (pipeline deadlock?): %s" % (
            TIMEOUT, " ".join(cmd)))


def _merge(cmd, stdin_file):
    if stdin_file is None:
        p = run(cmd, timeout=TIMEOUT)
        return p.stdout, p.stderr
    cat = subprocess.Popen(["cat", stdin_file], stdout=subprocess.PIPE)
    try:
        p = subprocess.run(cmd, stdin=cat.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           errors="replace", timeout=TIMEOUT)
    finally:
        cat.stdout.close()
        cat.wait()
    assert p.returncode == 0, "command failed (%d): %s\n%s" % (
        p.returncode, " ".join(cmd), p.stderr[-2000:])
    return p.stdout, p.stderr


def assert_same(outs, what):
    """outs: [(label, text)]; every text equals the first, else the first
    lines of a unified diff."""
    base_label, base = outs[0]
    for label, text in outs[1:]:
        if text != base:
            diff = list(difflib.unified_diff(
                base.splitlines(), text.splitlines(), base_label, label,
                lineterm="", n=1))
            raise AssertionError("%s: %s differs from %s (%d vs %d bytes):\n%s"
                                 % (what, label, base_label, len(text),
                                    len(base), "\n".join(
                                        l[:300] for l in diff[:40])))


def identical_across(data, jobs, fmts, opts=(), default=False):
    """Run each format with each -j (and without -j if default); assert the
    outputs and stderr are identical; returns {fmt: output}."""
    got = {}
    for fmt in fmts:
        outs, errs = [], []
        runs = [("-j%d" % j, j) for j in jobs]
        if default:
            runs.append(("no -j", None))
        for label, j in runs:
            out, err = merge(data, fmt, j, opts)
            outs.append((label, out))
            errs.append((label, err))
        assert_same(outs, "--format " + fmt)
        assert_same(errs, "stderr of --format " + fmt)
        got[fmt] = outs[0][1]
    return got


def parse_folded(text):
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        stacks.append((stack.split(";"), int(count)))
    return stacks


def first_event(json_text):
    doc = json.loads(json_text)
    events = doc.get("events") or []
    assert events, json_text[:2000]
    return doc, events[0]


# ------------------------------------------------------------------ tests

@test
def calltree_dwarf_identical_for_every_j(tmp):
    """calltree.py, 3.12 -X perf, --call-graph dwarf,65528 (several
    256-sample batches): -j1, -j2, -j4, -j8 and no -j give byte-identical
    folded, JSON and SVG output (and stderr); the stacks are the designed
    ones, so the comparison is of real unwinding work; -j8 repeated gives
    the same again."""
    py = dwarf_python(PY312)
    data, _, rec = record_dwarf(tmp, "c.data", [py, "-X", "perf", CALLTREE, "2"])
    assert rec.total_samples() > 3 * 256, \
        "only %d samples: fewer than 3 batches" % rec.total_samples()
    got = identical_across(data, (1, 2, 4, 8), ("folded", "json", "svg"),
                           default=True)
    pct, shares = calltree_check(parse_folded(got["folded"]))
    _, ev = first_event(got["json"])
    assert ev["unwound"] > 0.9 * ev["samples"], ev
    assert "work_a (calltree.py)" in got["svg"], got["svg"][:1000]
    for i in range(3):   # scheduling differs run to run; output must not
        out, _ = merge(data, "folded", 8)
        assert_same([("-j1", got["folded"]), ("-j8 again #%d" % i, out)],
                    "--format folded")
    # each thread's unwinder opens every binary: none may keep a descriptor
    # per binary and thread (-j8 under 32 descriptors failed that way)
    p = subprocess.run([BIN, "-j", "8", "--format", "folded", "-o", "-", data],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, errors="replace", timeout=TIMEOUT,
                       preexec_fn=lambda: resource.setrlimit(
                           resource.RLIMIT_NOFILE, (32, 32)))
    assert p.returncode == 0, "-j8 with 32 descriptors: exit %d\n%s" % (
        p.returncode, p.stderr[-2000:])
    assert_same([("-j1", got["folded"]), ("-j8, 32 fds", p.stdout)],
                "--format folded")
    print("    %d samples, %d unwound, %.2f%% complete; folded %d, json %d, "
          "svg %d bytes, same for -j1/2/4/8/default" % (
              ev["samples"], ev["unwound"], pct, len(got["folded"]),
              len(got["json"]), len(got["svg"])))


@test
def stitched_deep_stacks_identical(tmp):
    """descend.py --named 60 with 8 KiB stack copies (stacks are cut and
    completed from earlier samples of the thread): -j1, -j2, -j4 give
    identical folded and JSON; the JSON shows stitched > 0 and the stacks
    have the designed level sequence."""
    py = dwarf_python(PY312)
    data, _, _ = record_dwarf(
        tmp, "d.data", [py, "-X", "perf", DESCEND, "--named", "60", "0.01", "0.3"],
        ["--call-graph", "dwarf,8192", "-F", "999", "-m", "2048"])
    got = identical_across(data, (1, 2, 4), ("folded", "json"))
    _, ev = first_event(got["json"])
    assert ev["stitched"] > 0, "nothing stitched, the check means little: %s" % ev
    c = check_descend(parse_folded(got["folded"]), 60, named=True)
    assert c["complete"] >= 0.9 * c["mine"], c
    print("    %d samples, %d stitched, %d truncated; %d descend samples, "
          "%d complete" % (ev["samples"], ev["stitched"], ev["truncated"],
                           c["mine"], c["complete"]))


@test
def forked_workers_identical(tmp):
    """forkwork.py (parent + 2 forked children): -j1 and -j3 give identical
    folded and JSON, for the whole recording and for each child alone
    (--pid); each child has its own samples with the chain
    <module>;main;child."""
    py = dwarf_python(PY312)
    data, _, rec = record_dwarf(tmp, "f.data", [py, "-X", "perf", FORKWORK, "1"])
    identical_across(data, (1, 3), ("folded", "json"))
    children = sorted(p for p in rec.forked if rec.pid_samples.get(p, 0) > 50)
    assert len(children) >= 2, "children with samples: %s of %s" % (
        children, rec.pid_samples)
    for pid in children:
        got = identical_across(data, (1, 3), ("folded", "json"),
                               opts=["--pid", str(pid)])
        mine = ok = 0
        for frames, n in parse_folded(got["folded"]):
            chain = python_chain(frames, "forkwork.py")
            if "child" in chain:
                mine += n
                if chain[:3] == ["<module>", "main", "child"]:
                    ok += n
        assert mine > 50, "pid %d: %d child samples\n%s" % (
            pid, mine, got["folded"][:2000])
        assert ok >= 0.95 * mine, "pid %d: %d/%d complete" % (pid, ok, mine)
        print("    child %d: %d samples under child(), same for -j1/-j3" % (pid, mine))


@test
def pipe_stream_same_as_file(tmp):
    """`perf record -o - | tee FILE`, then `cat FILE | pyperf-merge -j1/-j2 -`
    (events copied out of the stream, not stable) gives the folded output
    of the file read by path; JSON of the stream is the same for -j1/-j2."""
    need_perf()
    py = dwarf_python(PY312)
    data = os.path.join(tmp, "p.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-o", "-"] + DWARF +
                            ["--", py, "-X", "perf", CALLTREE, "1.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tee = subprocess.Popen(["tee", data], stdin=perf.stdout,
                           stdout=subprocess.DEVNULL)
    perf.stdout.close()
    _, perr = perf.communicate(timeout=120)
    assert tee.wait(timeout=120) == 0 and perf.returncode == 0, perr[-2000:]
    maps, rec = keep_maps(data)
    assert rec.pipe, "perf -o - did not write a pipe-mode stream"
    assert rec.total_samples() > 2 * 256, rec.total_samples()
    opts = ["--maps-dir", maps]
    base, _ = merge(data, "folded", 1, opts)
    calltree_check(parse_folded(base))
    outs = [("file -j1", base)]
    jsons = []
    for j in (1, 2):
        outs.append(("stdin -j%d" % j,
                     merge("-", "folded", j, opts, stdin_file=data)[0]))
        jsons.append(("stdin -j%d" % j,
                      merge("-", "json", j, opts, stdin_file=data)[0]))
    assert_same(outs, "--format folded")
    assert_same(jsons, "--format json")
    _, ev = first_event(jsons[0][1])
    assert ev["unwound"] > 0.9 * ev["samples"], ev
    print("    pipe stream %d bytes, %d samples: stdin -j1/-j2 == file" % (
        os.path.getsize(data), ev["samples"]))


@test
def compressed_file_identical(tmp):
    """perf record -z: samples come out of decompressed COMPRESSED records
    (copied, not stable, like a stream): -j1 and -j2 give identical folded
    and JSON, and the stacks are the designed ones."""
    py = dwarf_python(PY312)
    data, _, rec = record_dwarf(tmp, "z.data", [py, "-X", "perf", CALLTREE, "1.5"],
                                DWARF + ["-z"])
    got = identical_across(data, (1, 2), ("folded", "json"))
    doc, _ = first_event(got["json"])
    assert doc["recording"]["compressed"] is True, doc["recording"]
    calltree_check(parse_folded(got["folded"]))


@test
def bad_jobs_is_usage_error(tmp):
    """-j 0, 9, abc, '', -1, 3x, 2^64 and --jobs=0: exit 2 with a message
    naming --jobs; -j 1 and -j 8 are accepted (the missing input is the
    only error then)."""
    missing = os.path.join(tmp, "missing.data")
    bad = [["-j", "0"], ["-j", "9"], ["-j", "abc"], ["-j", ""], ["-j", "-1"],
           ["-j", "3x"], ["-j", "18446744073709551617"], ["-j0"],
           ["--jobs=0"], ["--jobs", "9"]]
    for args in bad:
        p = run([BIN] + args + ["-o", os.devnull, missing], check=False,
                timeout=TIMEOUT)
        assert p.returncode == 2, "%r: exit %d, stderr %r" % (args, p.returncode, p.stderr)
        assert "--jobs" in p.stderr, "%r: %r" % (args, p.stderr)
        assert p.stderr.startswith("pyperf-merge: "), "%r: %r" % (args, p.stderr)
    for j in ("1", "8"):
        p = run([BIN, "-j", j, "-o", os.devnull, missing], check=False,
                timeout=TIMEOUT)
        assert p.returncode == 1, "-j %s: exit %d, %r" % (j, p.returncode, p.stderr)
        assert "--jobs" not in p.stderr, "-j %s: %r" % (j, p.stderr)


@test
def missing_maps_warnings_in_order(tmp):
    """forkwork.py with its perf maps out of reach (--maps-dir to an empty
    dir: a warning per process; to a dir with only the parent's map: one per
    child): the JSON warnings list, the JSON and the folded output are the
    same for -j1 and -j4, and the warnings name exactly the expected pids."""
    py = dwarf_python(PY312)
    data, maps, rec = record_dwarf(tmp, "w.data", [py, "-X", "perf", FORKWORK, "0.6"])
    parent = sorted(rec.pids - rec.forked)
    parent_map = os.path.join(maps, "perf-%d.map" % parent[0]) if parent else ""
    assert len(parent) == 1 and os.path.exists(parent_map), (rec.pids, rec.forked,
                                                             os.listdir(maps))
    sampled = {p for p, n in rec.pid_samples.items() if n > 0}
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    only_parent = os.path.join(tmp, "only-parent")
    os.mkdir(only_parent)
    shutil.copy(parent_map, only_parent)
    for d, want in ((empty, sampled), (only_parent, sampled - set(parent))):
        opts = ["--maps-dir", d]
        got = identical_across(data, (1, 4), ("json", "folded"), opts=opts)
        warnings = json.loads(got["json"]).get("warnings") or []
        named = {p for p in rec.pids
                 if any(w.startswith("pid %d " % p) and "perf-%d.map" % p in w
                        for w in warnings)}
        assert len(want) >= 2 and named == want, \
            "%s: warnings name pids %s, want %s:\n%s" % (
                os.path.basename(d), sorted(named), sorted(want), warnings)
        print("    --maps-dir %s: %d warnings, same order for -j1/-j4" % (
            os.path.basename(d), len(warnings)))



@test
def damaged_inputs_identical(tmp):
    """The fuzz corpus (truncated, corrupt and crafted perf.data files):
    -j1 and -j3 give the same JSON, stderr and exit status, so partial
    results and error messages on damaged input do not depend on -j."""
    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", "perfdata")
    files = sorted(os.listdir(corpus))
    assert len(files) > 50, "fuzz corpus missing: %s" % corpus
    empty = os.path.join(tmp, "maps")
    os.mkdir(empty)
    statuses = set()
    for name in files:
        outs, rcs = [], []
        for j in (1, 3):
            cmd = [BIN, "-j", str(j), "--maps-dir", empty, "--format",
                   "json", "-o", "-", os.path.join(corpus, name)]
            try:
                p = subprocess.run(cmd, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True,
                                   errors="replace", timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise AssertionError("no exit after %d s: %s" % (
                    TIMEOUT, " ".join(cmd)))
            assert p.returncode in (0, 1, 3), "%s: exit %d\n%s" % (
                " ".join(cmd), p.returncode, p.stderr[-2000:])
            outs.append(("-j%d" % j, p.stdout + "\n--stderr--\n" + p.stderr))
            rcs.append(p.returncode)
        assert len(set(rcs)) == 1, "%s: exit status %s for -j1/-j3" % (
            name, rcs)
        statuses.add(rcs[0])
        assert_same(outs, name)
    # the corpus holds good, empty and damaged files alike
    assert statuses >= {0, 3}, "exit statuses seen: %s" % sorted(statuses)
    print("    %d corpus files, exit statuses %s: same for -j1/-j3" % (
        len(files), sorted(statuses)))


if __name__ == "__main__":
    sys.exit(suite.main())
