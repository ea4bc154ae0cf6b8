"""Workloads for tests/integration/events_tests.py. Usage:
    events_prog.py MODE [SCALE]
MODE faults: fault_a touches 8x the fresh anonymous pages of fault_b
             (huge pages off), then both unmap.
     mmaps:  map_a maps 3 x 10 MiB, map_b 5 x 1 MiB (anonymous, then unmapped).
     gc:     make_cycles creates cyclic garbage, no_cycles only computes.
     sleep:  sleeper sleeps in 10 ms steps, computer spins; in turn.
     gil:    two threads run gil_a and gil_b, both pure Python, at once.
Function names are what the tests look for; keep them unique.
"""
import gc
import mmap
import sys
import threading
import time

PAGE = mmap.PAGESIZE


def fresh_map(pages):
    m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        m.madvise(mmap.MADV_NOHUGEPAGE)
    return m


def touch(m, pages):
    for off in range(0, pages * PAGE, PAGE):
        m[off] = 1


def fault_a(m, pages):
    for off in range(0, pages * PAGE, PAGE):
        m[off] = 1


def fault_b(m, pages):
    for off in range(0, pages * PAGE, PAGE):
        m[off] = 1


def faults(scale):
    pages_b = 1000 * scale
    for _ in range(3):
        ma, mb = fresh_map(8 * pages_b), fresh_map(pages_b)
        fault_a(ma, 8 * pages_b)
        fault_b(mb, pages_b)
        ma.close()
        mb.close()


def map_a():
    maps = [mmap.mmap(-1, 10 << 20) for _ in range(3)]
    for m in maps:
        m.close()


def map_b():
    maps = [mmap.mmap(-1, 1 << 20) for _ in range(5)]
    for m in maps:
        m.close()


def mmaps(scale):
    map_a()
    map_b()


class Node:
    def __init__(self):
        self.other = None


def make_cycles(n):
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def no_cycles(n):
    x = 0
    for i in range(n):
        x += i * i % 7
    return x


def gc_mode(scale):
    gc.collect()
    for _ in range(20 * scale):
        make_cycles(20000)
        no_cycles(40000)


def sleeper(steps):
    for _ in range(steps):
        time.sleep(0.01)


def computer(n):
    x = 0
    for i in range(n):
        x += i % 3
    return x


def sleep_mode(scale):
    for _ in range(4 * scale):
        sleeper(10)
        computer(300000)


def gil_a(n):
    x = 0
    for i in range(n):
        x += i % 5
    return x


def gil_b(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def gil_mode(scale):
    ta = threading.Thread(target=gil_a, args=(3000000 * scale,))
    tb = threading.Thread(target=gil_b, args=(3000000 * scale,))
    ta.start()
    tb.start()
    ta.join()
    tb.join()


MODES = {"faults": faults, "mmaps": mmaps, "gc": gc_mode, "sleep": sleep_mode,
         "gil": gil_mode}

if __name__ == "__main__":
    MODES[sys.argv[1]](int(sys.argv[2]) if len(sys.argv) > 2 else 1)
