#!/usr/bin/env python3
"""Benchmarks (not timed tests): pyperf-merge against perf on the same file.

  tests/bench/run.py fp      frame-pointer recording, >= 100k samples:
                             pyperf-merge --format folded vs perf report --stdio
  tests/bench/run.py dwarf   DWARF recording, >= 30k samples: pyperf-merge vs
                             perf script, plus completeness of both
Recordings are cached in $PYPERF_BENCH_DIR (default /tmp/pyperf-bench).
Prints the commands, wall times (best of 3) and ratios measured in one run.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import run as it  # noqa: E402  (calltree_check, fp_python, record)

BIN = it.BIN
DIR = os.environ.get("PYPERF_BENCH_DIR", "/tmp/pyperf-bench")


def best_of(cmd, n=3, stdin=None):
    best = None
    for _ in range(n):
        t = time.monotonic()
        with open(os.devnull, "wb") as devnull:
            subprocess.run(cmd, stdout=devnull, stderr=devnull, check=True,
                           shell=isinstance(cmd, str))
        d = time.monotonic() - t
        best = d if best is None or d < best else best
    return best


def samples(data):
    out = subprocess.run(["perf", "report", "-i", data, "--stats"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("SAMPLE events:"):
            return int(line.split()[2])
    return -1


def perf_script_folded(data):
    """Stock perf script, collapsed like stackcollapse-perf.pl, into the
    (frames, count) shape calltree_check takes (py:: frames renamed)."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, errors="replace").stdout
    stacks = {}
    for block in out.split("\n\n"):
        lines = block.strip().splitlines()[1:]
        frames = []
        for ln in lines:
            parts = ln.strip().split(None, 1)
            sym = parts[1] if len(parts) > 1 else "[unknown]"
            sym = sym.split("+0x")[0]
            if sym.startswith("py::"):
                q, _, f = sym[4:].partition(":")
                sym = "%s (%s)" % (q, os.path.basename(f))
            frames.append(sym)
        if frames:
            key = tuple(reversed(frames))
            stacks[key] = stacks.get(key, 0) + 1
    return [(list(k), v) for k, v in stacks.items()]


def completeness(stacks):
    try:
        pct, _ = it.calltree_check(stacks, min_complete=0.0)
        return "%.2f%%" % pct
    except AssertionError as e:
        return "0%% (%s)" % str(e)[:80]


def bench_fp():
    os.makedirs(DIR, exist_ok=True)
    data = os.path.join(DIR, "fp-100k.data")
    if not os.path.exists(data):
        py = it.fp_python()
        it.record(DIR, "fp-100k.data", [py, "-X", "perf", it.CALLTREE, "14"],
                  ["-g", "-F", "10000", "-m", "1024"])
    n = samples(data)
    ours = best_of([BIN, "--format", "folded", "-o", os.devnull, data])
    report = best_of(["perf", "report", "-i", data, "--stdio"])
    print("fp: %s, %d samples" % (data, n))
    print("  pyperf-merge --format folded -o /dev/null %s: %.2f s" % (data, ours))
    print("  perf report -i %s --stdio > /dev/null:     %.2f s" % (data, report))
    print("  ratio: pyperf-merge is %.1fx faster than perf report" % (report / ours))


def bench_dwarf():
    os.makedirs(DIR, exist_ok=True)
    data = os.path.join(DIR, "dwarf-30k.data")
    py = it.dwarf_python(it.PY312)
    if not os.path.exists(data) or samples(data) < 30000:
        it.record(DIR, "dwarf-30k.data", [py, "-X", "perf", it.CALLTREE, "30"],
                  ["--call-graph", "dwarf,65528", "-F", "2000", "-m", "4096"])
    n = samples(data)
    cpus = os.cpu_count() or 1
    one = best_of([BIN, "-j", "1", "--format", "folded", "-o", os.devnull, data])
    ours = best_of([BIN, "--format", "folded", "-o", os.devnull, data])
    script = best_of(["perf", "script", "-i", data], n=1)
    print("dwarf: %s, %d samples, %d CPUs" % (data, n, cpus))
    print("  pyperf-merge --format folded -o /dev/null %s: %.2f s" % (data, ours))
    print("  ... with -j 1 (one thread):                 %.2f s" % one)
    print("  perf script -i %s > /dev/null:              %.2f s" % (data, script))
    print("  ratio: pyperf-merge is %.1fx faster than perf script" % (script / ours))
    print("  threads: -j %d is %.2fx faster than -j 1" % (min(cpus, 8), one / ours))
    print("  complete known call tree: pyperf-merge %s, perf script %s" % (
        completeness(it.folded(data)), completeness(perf_script_folded(data))))


def main():
    what = sys.argv[1:] or ["fp", "dwarf"]
    if "fp" in what:
        bench_fp()
    if "dwarf" in what:
        bench_dwarf()


if __name__ == "__main__":
    main()
