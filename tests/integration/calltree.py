"""Known-call-tree program for integration tests.

<module> -> main -> run -> {work_a (3 units), work_b (1 unit)} and
main -> other (1 unit), each unit the same pure-Python loop, so CPU shares
are work_a 60%, work_b 20%, other 20%, all under <module> -> main.

Usage: python calltree.py [SECONDS]   (default 3)
"""
import sys
import time

UNIT = 20000


def spin(n):
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1000003
    return acc


def work_a():
    return spin(3 * UNIT)


def work_b():
    return spin(UNIT)


def run():
    return work_a() + work_b()


def other():
    return spin(UNIT)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    end = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end:
        total += run()
        total += other()
    print("calltree done", total)


main()
