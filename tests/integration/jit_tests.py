#!/usr/bin/env python3
"""-X perf_jit tests (issue 3 item 3): CPython 3.13 writes /tmp/jit-PID.dump
instead of a perf map; pyperf-merge reads it directly (names and unwind
rules per trampoline copy), and also reads recordings that went through
`perf inject --jit` (jitted-PID-N.so files with "py::" symbols).
Prints "jit: N passed, N failed, N skipped".

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps the
scratch directory. Needs root or perf_event_paranoid <= 1 for perf record.
"""
import glob
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as it  # noqa: E402  (helpers of the main integration suite)

suite = it.Suite("jit")
test = suite.test
Skip = it.Skip
PERF_OPTS = ["-k", "1", "--call-graph", "dwarf,65528", "-F", "999", "-m", "2048"]


def record_jit(tmp, seconds="2"):
    """Record calltree.py under 3.13 -X perf_jit. The dump CPython leaves in
    /tmp is moved into tmp/maps/ (so nothing is left behind and the analysis
    reads it from --maps-dir); returns (perf.data, pid, dump path)."""
    py = it.pyenv_python(it.PY313)
    pidfile = os.path.join(tmp, "pid")
    # exec keeps the pid, so the shell's $$ is Python's
    argv = ["/bin/sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile,
            py, "-X", "perf_jit", it.CALLTREE, seconds]
    started = time.time() - 1
    data = it.record(tmp, "jit.data", argv, PERF_OPTS)
    pid = int(open(pidfile).read())
    src = "/tmp/jit-%d.dump" % pid
    assert os.path.exists(src), "CPython wrote no %s" % src
    pmap = "/tmp/perf-%d.map" % pid
    # a map of an earlier process with the same pid may be lying there
    assert not (os.path.exists(pmap) and os.path.getmtime(pmap) >= started), \
        "-X perf_jit should not write a perf map"
    maps = os.path.join(tmp, "maps")
    os.makedirs(maps, exist_ok=True)
    dump = os.path.join(maps, os.path.basename(src))
    return data, pid, src, dump


def summary(data, *opts):
    return it.run([it.BIN, "--format", "text", "-o", "-"] + list(opts) + [data])


@test
def jit_calltree_313(tmp):
    """3.13 -X perf_jit, dump read directly: >= 99% complete call tree."""
    data, pid, src, dump = record_jit(tmp)
    shutil.move(src, dump)
    maps = os.path.dirname(dump)
    pct, got = it.calltree_check(it.folded(data, "--maps-dir", maps))
    print("    perf_jit 3.13: %.2f%% complete, shares %s" % (
        pct, {k: round(v, 1) for k, v in got.items()}))
    # without the dump: no Python frame at all (so the dump is what worked)
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    stacks = it.folded(data, "--maps-dir", empty)
    assert not any(it.pyname(f) for s, _ in stacks for f in s), \
        "Python frames without a dump"


@test
def jit_dump_damaged_and_untrusted(tmp):
    """A dump cut mid-record still gives the frames before the cut, with a
    warning; a dump owned by someone else is ignored unless --force."""
    data, pid, src, dump = record_jit(tmp, "1")
    shutil.move(src, dump)
    maps = os.path.dirname(dump)
    raw = open(dump, "rb").read()
    with open(dump, "wb") as f:
        f.write(raw[:len(raw) - 7])
    p = summary(data, "--maps-dir", maps)
    assert "data ends inside record" in p.stdout + p.stderr, p.stdout[-2000:]
    stacks = it.folded(data, "--maps-dir", maps)
    assert any(it.pyname(f) for s, _ in stacks for f in s)
    if os.geteuid() != 0:
        raise Skip("ownership part needs root (chown)")
    os.chown(dump, 4321, 4321)
    p = summary(data, "--maps-dir", maps)
    assert "not owned by current user or root" in p.stdout + p.stderr, \
        p.stdout[-2000:]
    stacks = it.folded(data, "--maps-dir", maps)
    assert not any(it.pyname(f) for s, _ in stacks for f in s)
    stacks = it.folded(data, "--maps-dir", maps, "--force")
    assert any(it.pyname(f) for s, _ in stacks for f in s)


@test
def jit_perf_inject(tmp):
    """perf inject --jit output: jitted-PID-N.so frames become Python frames;
    >= 99% complete without the dump."""
    data, pid, src, dump = record_jit(tmp)
    out = os.path.join(tmp, "injected.data")
    sos = "/tmp/jitted-%d-*.so" % pid
    try:
        p = it.run(["perf", "inject", "--jit", "-i", data, "-o", out],
                   check=False)
        made = glob.glob(sos)
        if p.returncode != 0 or not made:
            raise Skip("perf inject --jit does not work here (rc %d, %d "
                       ".so files): %s" % (p.returncode, len(made),
                                           p.stderr.strip()[-300:]))
        shutil.move(src, dump)
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        pct, got = it.calltree_check(it.folded(out, "--maps-dir", empty))
        print("    perf inject --jit: %.2f%% complete over %d .so files" % (
            pct, len(made)))
        stacks = it.folded(out, "--maps-dir", empty, "--native=all")
        assert not any(f.startswith("py::") for s, _ in stacks for f in s), \
            "raw py:: symbol names left in the output"
    finally:
        for f in glob.glob(sos):
            os.unlink(f)
        if os.path.exists(src):
            os.unlink(src)


if __name__ == "__main__":
    sys.exit(suite.main())
