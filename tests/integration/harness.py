"""Shared harness of the integration suites: paths, the test registry and
runner (summary line "NAME: N passed, N failed, N skipped"), subprocess
helpers and the frame-pointer CPython.

Environment: PYPERF_BIN (default build/pyperf-merge), PYPERF_KEEP=1 keeps
each test's scratch directory.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PYPERF_BIN", os.path.join(ROOT, "build", "pyperf-merge"))
HERE = os.path.join(ROOT, "tests", "integration")
PYENV = os.path.expanduser("~/.pyenv/versions")
PY312 = os.path.join(PYENV, "3.12.1", "bin", "python3.12")
PY313 = os.path.join(PYENV, "3.13.0", "bin", "python3.13")


class Skip(Exception):
    """Raised by a test that cannot run here; the message says why."""


class Suite:
    """A list of test functions taking a scratch directory."""

    def __init__(self, name, needs_bin=True):
        self.name = name
        self.needs_bin = needs_bin      # fail at once without build/pyperf-merge
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self, argv=None):
        only = (sys.argv[1:] if argv is None else argv)
        res = {"passed": 0, "failed": 0, "skipped": 0}
        if self.needs_bin and not os.access(BIN, os.X_OK):
            print("%s: %s not built (run make)" % (self.name, BIN))
            print("%s: 0 passed, 1 failed, 0 skipped" % self.name)
            return 1
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            tmp = tempfile.mkdtemp(prefix="pyperf-%s-" % self.name)
            try:
                fn(tmp)
                res["passed"] += 1
                print("ok   %s" % fn.__name__)
            except Skip as e:
                res["skipped"] += 1
                print("skip %s: %s" % (fn.__name__, e))
            except Exception:
                res["failed"] += 1
                doc = (fn.__doc__ or "").strip().splitlines()
                print("FAIL %s: %s" % (fn.__name__, doc[0] if doc else ""))
                traceback.print_exc(file=sys.stdout)
            finally:
                if not os.environ.get("PYPERF_KEEP"):
                    shutil.rmtree(tmp, ignore_errors=True)
            sys.stdout.flush()
        print("%s: %d passed, %d failed, %d skipped" % (
            self.name, res["passed"], res["failed"], res["skipped"]))
        return 1 if res["failed"] else 0


def run(cmd, check=True, **kw):
    """Run cmd capturing text output; raise with its stderr if check fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, errors="replace", **kw)
    if check and p.returncode != 0:
        raise AssertionError("command failed (%d): %s\n%s" %
                             (p.returncode, " ".join(cmd), p.stderr[-2000:]))
    return p


_fp_python = None
_fp_error = None


def fp_python():
    """The frame-pointer CPython 3.13 built (once, cached) by
    scripts/build-fp-python. A failed build fails every later caller at
    once rather than being tried again by each test."""
    global _fp_python, _fp_error
    if _fp_error:
        raise AssertionError(_fp_error)
    if _fp_python is None:
        p = run([os.path.join(ROOT, "scripts", "build-fp-python")], check=False)
        if p.returncode != 0:
            _fp_error = "scripts/build-fp-python failed:\n" + p.stderr[-3000:]
            raise AssertionError(_fp_error)
        _fp_python = p.stdout.strip().splitlines()[-1]
    return _fp_python


def need(path):
    """path, or Skip when this machine does not have it."""
    if not os.path.exists(path):
        raise Skip("no %s" % path)
    return path


def dwarf_python(path):
    """An interpreter to record with --call-graph dwarf: path (pyenv's, built
    without frame pointers) when this machine has it, else the frame-pointer
    CPython 3.13 that `make check` builds -- DWARF unwinding through its
    trampolines works the same, so the test still runs on a new machine."""
    if os.path.exists(path):
        return path
    print("    (no %s: using %s)" % (path, fp_python()))
    return fp_python()
