"""Gradual descent past the DWARF stack copy, then work at the bottom.

Usage: python descend.py [DEPTH [SECONDS_PER_LEVEL [BOTTOM_SECONDS]]]
Stack: <module> -> main -> descend (DEPTH times) -> bottom.

Each level spins in descend's own frame for a while before calling the next
level, so samples are taken at every depth on the way down: the shallow
ones hold the whole stack in their copy, the deep ones only its leaf end.
With -X perf each Python level costs ~2 KiB of C stack (trampoline,
_PyEval_EvalFrameDefault, vectorcall glue), so 80 levels are well past the
64 KiB that perf can copy.
"""
import sys
import time


def bottom(seconds):
    acc = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i in range(2000):
            acc = (acc * 31 + i) % 1000003
    return acc


def descend(level, depth, per_level, bottom_seconds):
    acc = level
    end = time.monotonic() + per_level
    while time.monotonic() < end:
        for i in range(500):
            acc = (acc + i * i) % 1000003
    if level >= depth:
        return acc + bottom(bottom_seconds)
    return acc + descend(level + 1, depth, per_level, bottom_seconds)


def main():
    depth = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    per_level = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
    bottom_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    sys.setrecursionlimit(depth + 200)
    print("descend done", descend(1, depth, per_level, bottom_seconds))


main()
