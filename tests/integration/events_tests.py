#!/usr/bin/env python3
"""Event-summary tests (issue 4): page faults, memory syscalls, GC, off-CPU
and GIL wait, lost samples, DATA_SRC; real perf recordings of
tests/integration/events_prog.py analysed with build/pyperf-merge.
Prints "events: N passed, N failed, N skipped".

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps the
scratch directory. Needs root or perf_event_paranoid <= 1, and tracefs for
the tracepoint tests (skipped when an event is not available).
"""
import json
import shutil
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, HERE, Skip, Suite, fp_python, run  # noqa: E402,F401

PROG = os.path.join(HERE, "events_prog.py")
FIXTURES = os.path.join(HERE, "fixtures")
suite = Suite("events")
test = suite.test


def need_tracepoint(name):
    sysname, ev = name.split(":")
    for base in ("/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"):
        if os.path.isdir(os.path.join(base, sysname, ev)):
            return
    raise Skip("tracepoint %s not available" % name)


def record(tmp, name, mode, perf_opts, scale=1):
    out = os.path.join(tmp, name)
    p = subprocess.run(["perf", "record", "-q", "-o", out] + perf_opts +
                       ["--", fp_python(), "-X", "perf", PROG, mode, str(scale)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise AssertionError("perf record failed: " + p.stderr[-2000:])
    return out


def summary_json(data):
    p = run([BIN, "--format", "json", "-o", "-", data])
    doc = json.loads(p.stdout)
    assert doc["schema"] == "pyperf-merge/1", doc.get("schema")
    return doc


def py_rows(rows):
    """[{function, self, total}] -> {bare function name: (self, total)}"""
    return {r["function"].split(" (")[0]: (r["self"], r["total"]) for r in rows}


def folded_total(data, event, func):
    p = run([BIN, "--format", "folded", "-e", event, "-o", "-", data])
    n = 0
    for line in p.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        if any(f.startswith(func + " (") for f in stack.split(";")):
            n += int(count)
    return n


def check_ratio(a, b, want=8.0, tol=0.20):
    assert b > 0, "no faults under fault_b"
    ratio = a / b
    assert abs(ratio - want) <= want * tol, "fault_a/fault_b = %.2f, want %.1f +-%d%%" % (
        ratio, want, tol * 100)
    return ratio


@test
def faults_software_8x(tmp):
    """-e page-faults -c 1: fault_a gets 8x the faults of fault_b (summary
    and folded stacks), anonymous mappings dominate with -d."""
    data = record(tmp, "pf.data", "faults", ["-e", "page-faults", "-c", "1", "-d", "-g"])
    doc = summary_json(data)
    ev = [e for e in doc["analyses"]["faults"] if e["event"] == "page-faults"][0]
    rows = py_rows(ev["by_python_function"])
    r1 = check_ratio(rows["fault_a"][0], rows["fault_b"][0])
    r2 = check_ratio(folded_total(data, "page-faults", "fault_a"),
                     folded_total(data, "page-faults", "fault_b"))
    anon = ev["by_mapping"].get("anon", 0)
    assert anon >= 0.8 * ev["faults"], "anon mmap faults %d of %d" % (anon, ev["faults"])
    assert sum(ev["per_second"]) == ev["faults"]
    print("    summary ratio %.2f, folded ratio %.2f, anon %d/%d" % (r1, r2, anon, ev["faults"]))


@test
def faults_tracepoint_8x(tmp):
    """-e exceptions:page_fault_user: same 8x, writes to non-present pages."""
    need_tracepoint("exceptions:page_fault_user")
    ev_name = "exceptions:page_fault_user"
    data = record(tmp, "tp.data", "faults", ["-e", ev_name, "-g"])
    doc = summary_json(data)
    ev = [e for e in doc["analyses"]["faults"] if e["event"] == ev_name][0]
    rows = py_rows(ev["by_python_function"])
    r1 = check_ratio(rows["fault_a"][0], rows["fault_b"][0])
    r2 = check_ratio(folded_total(data, ev_name, "fault_a"),
                     folded_total(data, ev_name, "fault_b"))
    acc = ev["access"]
    assert acc["write"] >= 0.8 * ev["faults"], acc
    assert ev["mode"]["user"] == ev["faults"], ev["mode"]
    p = run([BIN, "--format", "text", "-o", "-", data])
    assert "page faults: exceptions:page_fault_user" in p.stdout, p.stdout[-2000:]
    print("    summary ratio %.2f, folded ratio %.2f, access %s" % (r1, r2, acc))


@test
def mmap_bytes_by_function(tmp):
    """map_a maps 3 x 10 MiB, map_b 5 x 1 MiB: bytes mapped and unmapped per
    function match; the mmap-bytes profile weighs stacks by bytes."""
    for t in ("sys_enter_mmap", "sys_exit_mmap", "sys_enter_munmap", "sys_exit_munmap"):
        need_tracepoint("syscalls:" + t)
    evs = []
    for t in ("sys_enter_mmap", "sys_exit_mmap", "sys_enter_munmap", "sys_exit_munmap"):
        evs += ["-e", "syscalls:" + t]
    data = record(tmp, "mm.data", "mmaps", evs + ["-g"])
    mem = summary_json(data)["analyses"]["memory"]
    mapped = py_rows(mem["mapped_by_python_function"])
    unmapped = py_rows(mem["unmapped_by_python_function"])
    mib = 1 << 20
    assert mapped["map_a"][0] == 30 * mib, mapped.get("map_a")
    assert mapped["map_b"][0] == 5 * mib, mapped.get("map_b")
    assert unmapped["map_a"][0] == 30 * mib, unmapped.get("map_a")
    assert unmapped["map_b"][0] == 5 * mib, unmapped.get("map_b")
    assert folded_total(data, "mmap-bytes", "map_a") == 30 * mib
    print("    mapped: map_a %d MiB, map_b %d MiB" % (mapped["map_a"][0] // mib,
                                                     mapped["map_b"][0] // mib))


@test
def gc_under_allocating_function(tmp):
    """Cyclic garbage in make_cycles only: >= 90% of [gc] samples under it."""
    data = record(tmp, "gc.data", "gc", ["-e", "cpu-clock", "-F", "2000", "-g"])
    gc = summary_json(data)["analyses"]["gc"]
    assert gc["gc_samples"] >= 20, gc
    rows = {r["function"].split(" (")[0]: r["gc_samples"] for r in gc["by_python_function"]}
    share = 100.0 * rows.get("make_cycles", 0) / gc["gc_samples"]
    assert share >= 90, "make_cycles has %.1f%% of GC: %s" % (share, rows)
    assert rows.get("no_cycles", 0) <= 0.02 * gc["gc_samples"], rows
    print("    %d GC samples of %d CPU, %.1f%% under make_cycles" % (
        gc["gc_samples"], gc["cpu_samples"], share))


@test
def offcpu_sleep_vs_compute(tmp):
    """sleeper blocks, computer does not: >= 90% of blocked time in sleeper;
    exact switch-in times with --switch-events."""
    need_tracepoint("sched:sched_switch")
    data = record(tmp, "sleep.data", "sleep",
                  ["-e", "sched:sched_switch", "--switch-events", "-g"])
    off = summary_json(data)["analyses"]["offcpu"]
    rows = py_rows(off["blocked_by_python_function"])
    sl = rows.get("sleeper", (0, 0))[0]
    assert off["blocked_ns"] >= 300e6, off["blocked_ns"]  # 40 x 10 ms sleeps
    assert sl >= 0.9 * off["blocked_ns"], (sl, off["blocked_ns"])
    assert rows.get("computer", (0, 0))[0] <= 0.05 * off["blocked_ns"], rows
    assert off["switch_in_from"]["switch"] > 0, off["switch_in_from"]
    assert folded_total(data, "offcpu", "sleeper") == sl
    print("    blocked %.0f ms, %.1f%% in sleeper" % (off["blocked_ns"] / 1e6,
                                                    100.0 * sl / off["blocked_ns"]))


@test
def gil_wait_in_contending_threads(tmp):
    """Two threads in pure Python: GIL wait in gil_a and gil_b, per thread.
    DWARF unwinding: glibc's futex wait has no frame pointers, so -g cannot
    reach take_gil from the blocking point."""
    need_tracepoint("sched:sched_switch")
    data = record(tmp, "gil.data", "gil", ["-e", "sched:sched_switch", "--switch-events",
                                           "--call-graph", "dwarf,16384"])
    off = summary_json(data)["analyses"]["offcpu"]
    rows = py_rows(off["gil_wait_by_python_function"])
    a, b = rows.get("gil_a", (0, 0))[0], rows.get("gil_b", (0, 0))[0]
    assert off["gil_wait_ns"] > 50e6, off["gil_wait_ns"]
    assert a > 0.2 * off["gil_wait_ns"] and b > 0.2 * off["gil_wait_ns"], rows
    waiting = [t for t in off["threads"] if t["gil_wait_ns"] > 0.2 * off["gil_wait_ns"]]
    assert len(waiting) >= 2, off["threads"]
    assert folded_total(data, "gil-wait", "gil_a") == a
    print("    GIL wait %.0f ms: gil_a %.0f ms, gil_b %.0f ms, %d threads" % (
        off["gil_wait_ns"] / 1e6, a / 1e6, b / 1e6, len(waiting)))


@test
def lost_samples_reported(tmp):
    """A 1-page buffer with 64 KiB stack copies loses samples: both the text
    and the JSON summary say so."""
    data = record(tmp, "lost.data", "faults",
                  ["-m", "1", "-e", "page-faults", "-c", "1", "--call-graph", "dwarf,65528"])
    p = run([BIN, "--format", "text", "-o", "-", data])
    assert "LOST" in p.stdout, p.stdout[:2000]
    doc = summary_json(data)
    assert doc["lost"]["samples"] > 0, doc["lost"]
    print("    %d samples lost" % doc["lost"]["samples"])


@test
def data_src_fixture(tmp):
    """Committed fixture (fixtures/README.md): DATA_SRC decoded, all-NA
    samples counted apart."""
    data = os.path.join(FIXTURES, "data_src.data")
    ds = summary_json(data)["analyses"]["memory"]["data_src"]
    n = ds["samples"] + ds["not_available"]
    assert n == 48 and ds["not_available"] == 12, ds
    assert ds["level"] == {"L1 hit": 12, "local RAM hit": 12, "L2 hit": 12}, ds["level"]
    assert ds["operation"] == {"load": 24, "store": 12}, ds["operation"]
    assert ds["lock"].get("locked") == 12 and ds["snoop"].get("hitm") == 12, ds
    assert ds["tlb"].get("miss/walker") == 12, ds["tlb"]
    p = run([BIN, "--format", "text", "-o", "-", data])
    assert "memory level: " in p.stdout and "L1 hit 33.3%" in p.stdout, p.stdout[-1500:]


@test
def json_escapes_and_parses(tmp):
    """JSON output parses, carries the CPU summary fields, and escapes
    names (a comm with a quote, backslash and control character)."""
    weird = os.path.join(tmp, 'we"ird\\\x01.py')
    shutil.copy(PROG, weird)
    out = os.path.join(tmp, "w.data")
    p = subprocess.run(["perf", "record", "-q", "-o", out, "-e", "cpu-clock", "-g", "--",
                        fp_python(), "-X", "perf", weird, "gc", "1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr[-1000:]
    doc = summary_json(out)
    ev = doc["events"][0]
    for k in ("samples", "with_python", "python_complete_pct", "top_python_self",
              "top_native_self"):
        assert k in ev, k
    names = [r["function"] for r in ev["top_python_self"]]
    assert any('we"ird\\\x01.py' in n for n in names), names[:5]


if __name__ == "__main__":
    sys.exit(suite.main())
