"""Recursion to a fixed depth, time spent at the bottom.

Usage: python recurse.py DEPTH [SECONDS]
Stack: <module> -> main -> down (DEPTH times) -> bottom.
"""
import sys
import time


def bottom(end):
    acc = 0
    while time.monotonic() < end:
        for i in range(2000):
            acc = (acc + i * i) % 1000003
    return acc


def down(level, end):
    if level <= 1:
        return bottom(end)
    return down(level - 1, end) + 1


def main():
    depth = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
    sys.setrecursionlimit(depth + 200)
    print("recurse done", down(depth, time.monotonic() + seconds))


main()
