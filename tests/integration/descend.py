"""Gradual descent past the DWARF stack copy, then work at the bottom.

Usage: python descend.py [--named] [DEPTH [SECONDS_PER_LEVEL [BOTTOM_SECONDS]]]
Stack: <module> -> main -> descend (DEPTH times) -> bottom; with --named
the levels are distinct functions level_1 .. level_DEPTH, so a stack glued
at the wrong depth shows as a gap or a repeat in the sequence.

Each level spins in its own frame for a while before calling the next
level, so samples are taken at every depth on the way down: the shallow
ones hold the whole stack in their copy, the deep ones only its leaf end.
With -X perf each Python level costs ~540 bytes of C stack on 3.12 and
~620 on 3.13 (trampoline, _PyEval_EvalFrameDefault, vectorcall glue), so
a 64 KiB copy holds ~120 / ~105 levels and a 16 KiB copy ~30.
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


LEVEL = '''
def level_{n}(depth, per_level, bottom_seconds):
    acc = {n}
    end = time.monotonic() + per_level
    while time.monotonic() < end:
        for i in range(500):
            acc = (acc + i * i) % 1000003
    if {n} >= depth:
        return acc + bottom(bottom_seconds)
    return acc + level_{n1}(depth, per_level, bottom_seconds)
'''


def main():
    args = sys.argv[1:]
    named = "--named" in args
    args = [a for a in args if a != "--named"]
    depth = int(args[0]) if len(args) > 0 else 80
    per_level = float(args[1]) if len(args) > 1 else 0.02
    bottom_seconds = float(args[2]) if len(args) > 2 else 2.0
    sys.setrecursionlimit(depth + 200)
    if named:
        src = "".join(LEVEL.format(n=n, n1=n + 1) for n in range(1, depth + 1))
        exec(compile(src, __file__, "exec"), globals())
        r = globals()["level_1"](depth, per_level, bottom_seconds)
    else:
        r = descend(1, depth, per_level, bottom_seconds)
    print("descend done", r)


main()
