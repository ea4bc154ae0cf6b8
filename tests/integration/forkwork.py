"""Forks two worker processes (os.fork, as multiprocessing's fork start
method does) that each run a known chain: <module> -> main -> child -> spin.
"""
import os
import sys
import time


def spin(end):
    acc = 0
    while time.monotonic() < end:
        for i in range(2000):
            acc = (acc + i * i) % 1000003
    return acc


def child(seconds):
    spin(time.monotonic() + seconds)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            child(seconds)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    print("forkwork done")


main()
