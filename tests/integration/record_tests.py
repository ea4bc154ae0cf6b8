#!/usr/bin/env python3
"""Tests of scripts/pyperf-record and scripts/pyperf-maps: real perf
recordings with the interpreters on the machine. Prints
"record: N passed, N failed, N skipped"; a skipped test says why.

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps the
scratch directories. Needs root or perf_event_paranoid <= 1 for perf record.
Usage: record_tests.py [TEST-NAME...]
"""
import json
import os
import re
import shutil
import sys
import tarfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, HERE, PY312, PY313, ROOT, Skip, Suite,  # noqa: E402,F401
                     fp_python, need, run)

SCRIPTS = os.path.join(ROOT, "scripts")
RECORD = os.path.join(SCRIPTS, "pyperf-record")
MAPS = os.path.join(SCRIPTS, "pyperf-maps")
PY311 = "/usr/bin/python3.11"
sys.path.insert(0, SCRIPTS)
import pyperf_perfdata  # noqa: E402
from run import EXPECTED, pyname  # noqa: E402  (the calltree.py design)

suite = Suite("record", needs_bin=False)
test = suite.test


def need_perf():
    if not shutil.which("perf"):
        raise Skip("perf is not installed")
    paranoid = int(open("/proc/sys/kernel/perf_event_paranoid").read())
    if os.geteuid() != 0 and paranoid > 1:
        raise Skip("not root and kernel.perf_event_paranoid=%d" % paranoid)


def dry(*args, env=None):
    p = run([RECORD, "--dry-run"] + list(args), env=env)
    m = re.search(r"^command: (.*)$", p.stdout, re.M)
    assert m, p.stdout
    return m.group(1), p.stdout


def record(tmp, name, argv, *opts):
    """pyperf-record into tmp/name; returns (path, stderr)."""
    out = os.path.join(tmp, name)
    p = run([RECORD, "-o", out] + list(opts) + ["--"] + argv, cwd=tmp)
    assert "recorded" in p.stderr, p.stderr
    return out, p.stderr


def copy_prog(tmp, name):
    dst = os.path.join(tmp, name)
    shutil.copy(os.path.join(HERE, name), dst)
    return dst


def collected(data):
    d = data + ".maps"
    return sorted(int(m.group(1)) for m in
                  (re.match(r"^perf-(\d+)\.map$", n) for n in os.listdir(d)) if m)


# ------------------------------------------------------------------ modes

@test
def dry_run_mode_matches_interpreter(tmp):
    """--dry-run: pyenv 3.12/3.13 -> --call-graph dwarf, frame-pointer
    build -> -g; PYTHONPERFSUPPORT=1; pyenv shims and #! scripts resolved."""
    for py in (need(PY312), need(PY313)):
        cmd, out = dry(py, "app.py")
        assert "--call-graph dwarf,65528" in cmd and " -g " not in cmd, cmd
        assert "PYTHONPERFSUPPORT=1" in cmd and "frame pointers: no" in out, out
        assert "-F 499" in cmd and "-e page-faults" in cmd, cmd
    cmd, out = dry(fp_python(), "app.py")
    assert " -g " in cmd and "dwarf" not in cmd and "frame pointers: yes" in out, out
    assert "ceval.c built with -fno-omit-frame-pointer" in out, out
    shims = os.path.expanduser("~/.pyenv/shims")
    if os.path.exists(os.path.join(shims, "python3.13")):
        env = dict(os.environ, PATH=shims + ":" + os.environ["PATH"], PYENV_VERSION="3.13.0")
        cmd, out = dry("python3.13", "app.py", env=env)
        assert "interpreter: %s " % PY313 in out and "dwarf" in cmd, out
    script = os.path.join(tmp, "tool")
    with open(script, "w") as f:
        f.write("#!/usr/bin/env python3.12\nprint('hi')\n")
    os.chmod(script, 0o755)
    env = dict(os.environ, PATH=os.path.dirname(PY312) + ":" + os.environ["PATH"])
    cmd, out = dry(script, env=env)
    assert "interpreter: %s " % PY312 in out, out
    cmd, out = dry("--mode=dwarf", fp_python(), "app.py")
    assert "--call-graph dwarf,65528" in cmd, cmd
    cmd, out = dry("--jit", need(PY313), "app.py")
    assert "PYTHON_PERF_JIT_SUPPORT=1" in cmd and "-k 1" in cmd, cmd


@test
def perf_options_pass_through(tmp):
    """Unknown options go to perf record in order; -c replaces -F; --memory
    and --sched add the tracepoints; --no-faults drops page-faults."""
    cmd, _ = dry("-c", "10000", "--switch-output=1s", "--no-faults", need(PY313), "app.py")
    assert "-c 10000 --switch-output=1s -- " in cmd and "-F " not in cmd, cmd
    assert "page-faults" not in cmd, cmd
    cmd, _ = dry("-e", "cpu-clock", "-F", "99", "--memory", "--sched", "--", PY313, "a.py")
    assert "-F 99" in cmd and cmd.count("-e cpu-clock") == 1, cmd
    if os.geteuid() == 0:
        for tp in ("syscalls:sys_enter_mmap", "syscalls:sys_exit_munmap", "sched:sched_switch"):
            assert tp in cmd, cmd


@test
def real_recording_each_mode(tmp):
    """One real recording with each interpreter: the perf.data call-graph mode
    matches, the map is collected with the program's functions."""
    cases = [(p, "dwarf") for p in (PY312, PY313) if os.path.exists(p)]
    cases.append((fp_python(), "fp"))
    need_perf()
    prog = copy_prog(tmp, "calltree.py")
    for i, (py, want) in enumerate(cases):
        data, err = record(tmp, "m%d.data" % i, [py, prog, "0.5"])
        rec = pyperf_perfdata.Recording(data)
        mode, size = rec.callgraph()
        assert mode == want, "%s: recorded %s, want %s" % (py, mode, want)
        assert want != "dwarf" or size == 65528, size
        assert rec.total_samples() > 50 and rec.lost == 0, (rec.samples, rec.lost)
        pids = collected(data)
        assert pids and set(pids) <= rec.pids, (pids, rec.pids)
        body = open(os.path.join(data + ".maps", "perf-%d.map" % pids[0])).read()
        assert "py::work_a:" + prog in body, body[:500]
        assert re.search(r"maps collected: 1 \(pids %d\)" % pids[0], err), err
        print("    %s: %s, %d samples" % (os.path.basename(py), mode, rec.total_samples()))


@test
def multiprocessing_workers_covered(tmp):
    """PYTHONPERFSUPPORT reaches fork and spawn multiprocessing workers: each
    writes a map, and each map is collected."""
    need_perf()
    prog = copy_prog(tmp, "mpworkers.py")
    data, err = record(tmp, "mp.data", [fp_python(), prog, "1"])
    rec = pyperf_perfdata.Recording(data)
    pids = collected(data)
    assert len(pids) >= 3, (pids, err)
    found = {}
    for pid in pids:
        body = open(os.path.join(data + ".maps", "perf-%d.map" % pid)).read()
        for fn in ("fork_worker_spin", "spawn_worker_spin"):
            if "py::%s:" % fn in body and rec.pid_samples.get(pid, 0) > 20:
                found.setdefault(fn, []).append(pid)
    assert len(found.get("fork_worker_spin", [])) == 1, (found, err)
    assert len(found.get("spawn_worker_spin", [])) == 1, (found, err)
    found = {k: v[0] for k, v in found.items()}
    assert found["fork_worker_spin"] != found["spawn_worker_spin"], found
    assert found["fork_worker_spin"] in rec.forked and found["spawn_worker_spin"] in rec.forked
    print("    maps of pids %s; workers %s" % (pids, found))


# ------------------------------------------------------------------ pyperf-maps

@test
def check_reports_missing_map(tmp):
    """check: complete recording -> exit 0; after deleting a map in FILE.maps
    and /tmp -> exit 1 and says that pid's map is missing."""
    need_perf()
    data, _ = record(tmp, "c.data", [fp_python(), copy_prog(tmp, "calltree.py"), "0.5"])
    p = run([MAPS, "check", data], check=False)
    assert p.returncode == 0 and "Everything the recording needs is here" in p.stdout, p.stdout
    assert "frame pointers yes" in p.stdout and "Call graph: frame pointers" in p.stdout
    pid = collected(data)[0]
    os.unlink(os.path.join(data + ".maps", "perf-%d.map" % pid))
    p = run([MAPS, "check", data], check=False)
    assert p.returncode == 1 and "found only in /tmp" in p.stdout, p.stdout
    try:
        os.unlink("/tmp/perf-%d.map" % pid)
    except FileNotFoundError:
        pass
    p = run([MAPS, "check", data], check=False)
    assert p.returncode == 1, p.stdout
    assert re.search(r"pid %d .*perf map missing" % pid, p.stdout), p.stdout


@test
def check_mode_mismatch(tmp):
    """check: -g recording of an interpreter without frame pointers is named."""
    need_perf()
    out = os.path.join(tmp, "g.data")
    run(["perf", "record", "-q", "-g", "-o", out, "--", need(PY313), "-X", "perf",
         copy_prog(tmp, "calltree.py"), "0.3"])
    p = run([MAPS, "check", out], check=False)
    assert p.returncode == 1 and "recorded with -g but the interpreter has no frame pointers" \
        in p.stdout, p.stdout


@test
def lines_are_right_and_changed_source_refused(tmp):
    """lines: each function's def line for a bundled program (markers in its
    source); a source edited after recording is reported and skipped."""
    need_perf()
    prog = copy_prog(tmp, "linesprog.py")
    want = {"<module>": 1}
    for n, line in enumerate(open(prog), 1):
        m = re.search(r"# def: (\S+)$", line)
        if m:
            want[m.group(1)] = n
    data, _ = record(tmp, "l.data", [fp_python(), prog])
    pid = collected(data)[0]
    lines_file = os.path.join(data + ".maps", "perf-%d.lines" % pid)
    os.unlink(lines_file)                      # written by pyperf-record; redo it
    run([MAPS, "lines", data])
    got = {}
    for line in open(lines_file):
        num, _, rest = line.rstrip("\n").partition(" ")
        q, _, fn = rest.partition(":")
        if fn == prog:
            got[q] = int(num)
    assert got == want, "got %s\nwant %s" % (sorted(got.items()), sorted(want.items()))
    # pyperf-merge picks the lines up next to the maps: "spin (linesprog.py:12)"
    p = run([BIN, "--format", "folded", "-o", "-", data])
    shown = set(re.findall(r"([\w.<>]+) \(linesprog\.py:(\d+)\)", p.stdout))
    assert ("spin", str(want["spin"])) in shown, sorted(shown)
    assert all(int(n) == want.get(q, -1) for q, n in shown), sorted(shown)
    with open(prog, "a") as f:
        f.write("# edited\n")
    p = run([MAPS, "lines", data])
    assert "%s: not trusted" % prog in p.stdout and "sha256" in p.stdout, p.stdout
    assert prog not in open(lines_file).read()
    os.unlink(os.path.join(data + ".maps", "sources.json"))   # mtime rule without it
    p = run([MAPS, "lines", data])
    assert "modified after the recording" in p.stdout, p.stdout
    print("    %d definitions right" % len(want))


@test
def archive_has_maps_and_binaries(tmp):
    """archive: ustar with manifest.json, the maps and every needed binary by
    build-id; each stored ELF has the build-id of its directory."""
    need_perf()
    data, _ = record(tmp, "a.data", [fp_python(), copy_prog(tmp, "calltree.py"), "0.3"])
    out = os.path.join(tmp, "a.tar")
    run([MAPS, "archive", data, "-o", out])
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert all(m.type in (tarfile.REGTYPE, tarfile.AREGTYPE) for m in tar.getmembers())
        man = json.load(tar.extractfile("manifest.json"))
        xdir = os.path.join(tmp, "x")
        tar.extractall(xdir)
    assert names[0] == "manifest.json", names[:3]
    pid = collected(data)[0]
    assert "maps/perf-%d.map" % pid in names and "maps/perf-%d.map" % pid in man["maps"]
    rec = pyperf_perfdata.Recording(data)
    libpy = [p for _, p, _ in rec.build_ids if "libpython" in p]
    assert libpy and libpy[0] in man["build_ids"], (libpy, man["build_ids"])
    n = 0
    for path, bid in man["build_ids"].items():
        if path.startswith("["):
            continue
        member = ".build-id/%s/%s/elf" % (bid[:2], bid[2:])
        assert member in names, member
        info = pyperf_perfdata.elf_read(os.path.join(xdir, member))
        assert info and info["build_id"] == bid, (path, info)
        n += 1
    for bid, member in man["debug"].items():
        assert member in names
    assert not man["missing"], man["missing"]
    print("    %d binaries, %d debug files, %d members" % (n, len(man["debug"]), len(names)))


# ------------------------------------------------------------------ failures

@test
def failure_messages(tmp):
    """Missing command (127), Python 3.11 without trampoline (125, names
    3.12+), perf not on PATH (125, how to install), helps exist."""
    p = run([RECORD, "--dry-run", "--", "no-such-command-xyz", "a"], check=False)
    assert p.returncode == 127 and "no-such-command-xyz: command not found" in p.stderr, p.stderr
    p = run([RECORD, "--dry-run", need(PY311), "-c", "pass"], check=False)
    assert p.returncode == 125, p.stderr
    assert "Python 3.11" in p.stderr and "no perf trampoline support" in p.stderr, p.stderr
    assert "CPython 3.12" in p.stderr and "x86-64 and aarch64" in p.stderr, p.stderr
    empty = os.path.join(tmp, "bin")
    os.mkdir(empty)
    p = run([sys.executable, RECORD, need(PY313), "-c", "pass"], check=False,
            env=dict(os.environ, PATH=empty))
    assert p.returncode == 125 and "perf is not installed" in p.stderr, p.stderr
    assert "apt-get install linux-perf" in p.stderr, p.stderr
    p = run([RECORD], check=False)
    assert p.returncode == 2 and "no command" in p.stderr, p.stderr
    for tool, words in ((RECORD, ("--no-faults", "--memory", "--dry-run", "before --")),
                        (MAPS, ("archive", "lines", "check", ".build-id/XX/REST/elf"))):
        p = run([tool, "--help"])
        for w in words:
            assert w in p.stdout, (tool, w)
    p = run([MAPS, "check", os.path.join(tmp, "nope.data")], check=False)
    assert p.returncode == 2 and "no such file" in p.stderr, p.stderr
    junk = os.path.join(tmp, "junk.data")
    with open(junk, "wb") as f:
        f.write(b"PERFILE2" + b"\xff" * 300)
    p = run([MAPS, "check", junk], check=False)
    assert p.returncode == 2 and p.stderr.startswith("pyperf-maps: ") and "offset" in p.stderr, \
        p.stderr


@test
def unprivileged_user_is_told_the_sysctl(tmp):
    """As an unprivileged user (setpriv to nobody): tracepoints need
    perf_event_paranoid=-1 or CAP_PERFMON, and paranoid 2 gives :u events."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv to become another user")
    paranoid = int(open("/proc/sys/kernel/perf_event_paranoid").read())
    pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    p = run(pre + [RECORD, "--dry-run", "--memory", "--", "/bin/true"], check=False, cwd="/")
    if paranoid > -1:
        assert p.returncode == 125, p.stderr
        assert "perf_event_paranoid=-1" in p.stderr and "CAP_PERFMON" in p.stderr, p.stderr
    p = run(pre + [RECORD, "--dry-run", "--", "/bin/true"], check=False, cwd="/")
    if paranoid == 2:
        assert p.returncode == 0 and "cpu-clock:u" in p.stdout, p.stdout + p.stderr
    elif paranoid > 2:
        assert p.returncode == 125 and "sysctl kernel.perf_event_paranoid=" in p.stderr, p.stderr


# ------------------------------------------------------------------ with pyperf-merge

def complete_share(folded_text):
    mine = complete = 0
    for line in folded_text.splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        py = [q for q, f in filter(None, map(pyname, frames)) if f == "calltree.py"]
        if not py:
            continue
        mine += n
        # complete: the whole designed Python chain, not cut short (native
        # frames rootward of <module>, e.g. Py_BytesMain, are allowed)
        if "[truncated]" not in frames and any(py == c or py == c[:-1]
                                               for c in EXPECTED.values()):
            complete += n
    return mine, complete


def calltree_after_tmp_maps_deleted(tmp, python, opts=()):
    if not os.access(BIN, os.X_OK):
        raise Skip("%s not built" % BIN)
    need_perf()
    data, _ = record(tmp, "t.data", [python, copy_prog(tmp, "calltree.py"), "3"], *opts)
    for pid in collected(data):
        try:
            os.unlink("/tmp/perf-%d.map" % pid)
        except FileNotFoundError:
            pass
    p = run([BIN, "--maps-dir", data + ".maps", "--format", "folded", "-o", "-", data])
    mine, complete = complete_share(p.stdout)
    # 3 s at 499 Hz (dwarf) is ~1500 samples on an idle machine
    assert mine > 200, "too few samples with calltree.py frames: %d" % mine
    pct = 100.0 * complete / mine
    assert pct >= 98.0, "only %.2f%% complete (%d/%d)" % (pct, complete, mine)
    print("    %.2f%% of %d samples complete" % (pct, mine))


@test
def calltree_fp_without_tmp_maps(tmp):
    """Frame-pointer CPython, pyperf-record, /tmp maps deleted, pyperf-merge
    --maps-dir FILE.maps: >= 98% of calltree.py samples have the full chain."""
    calltree_after_tmp_maps_deleted(tmp, fp_python())


@test
def calltree_dwarf_without_tmp_maps(tmp):
    """Same with pyenv's 3.13 (no frame pointers, so --call-graph dwarf)."""
    calltree_after_tmp_maps_deleted(tmp, need(PY313))


@test
def archive_elsewhere_with_binaries_hidden(tmp):
    """An archive analysed in another directory, after the interpreter's
    binaries and every perf map are gone, still symbolizes: >= 98% complete
    and libpython's own functions named."""
    if not os.access(BIN, os.X_OK):
        raise Skip("%s not built" % BIN)
    need_perf()
    fp = os.path.dirname(os.path.dirname(fp_python()))
    hidden = os.path.join(tmp, "hidden")
    os.makedirs(os.path.join(hidden, "bin"))
    os.makedirs(os.path.join(hidden, "lib"))
    shutil.copy(os.path.join(fp, "bin", "python3.13"), os.path.join(hidden, "bin"))
    shutil.copy(os.path.join(fp, "lib", "libpython3.13.so.1.0"), os.path.join(hidden, "lib"))
    os.symlink(os.path.join(fp, "lib", "python3.13"), os.path.join(hidden, "lib", "python3.13"))
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(hidden, "lib"))
    out = os.path.join(tmp, "t.data")
    run([RECORD, "-q", "-o", out, "--", os.path.join(hidden, "bin", "python3.13"),
         copy_prog(tmp, "calltree.py"), "2"], env=env, cwd=tmp)
    run([MAPS, "archive", out])
    for pid in collected(out):
        try:
            os.unlink("/tmp/perf-%d.map" % pid)
        except FileNotFoundError:
            pass
    shutil.rmtree(out + ".maps")
    os.rename(hidden, hidden + ".gone")
    other = os.path.join(tmp, "elsewhere")
    os.makedirs(other)
    for f in (out, out + ".pyperf.tar"):
        shutil.move(f, other)
    p = run([BIN, "--archive", "t.data.pyperf.tar", "--format", "folded", "-o", "-",
             "t.data"], cwd=other)
    mine, complete = complete_share(p.stdout)
    assert mine > 200, "too few samples with calltree.py frames: %d" % mine
    pct = 100.0 * complete / mine
    assert pct >= 98.0, "only %.2f%% complete (%d/%d)" % (pct, complete, mine)
    unknown = sum(int(l.rpartition(" ")[2]) for l in p.stdout.splitlines()
                  if "[unknown" in l)
    assert unknown < 0.05 * mine, "%d samples with [unknown] frames" % unknown
    assert re.search(r"(pymalloc|_PyObject_|_PyLong_)", p.stdout), p.stdout[:2000]
    print("    %.2f%% of %d samples complete from the archive" % (pct, mine))
    bad = run([BIN, "--archive", os.path.join(other, "t.data"), "-o", os.devnull,
               os.path.join(other, "t.data")], check=False)
    assert bad.returncode == 1 and "not a ustar header" in bad.stderr, bad.stderr


if __name__ == "__main__":
    sys.exit(suite.main())
