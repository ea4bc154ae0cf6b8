"""multiprocessing workload for tests/integration/record_tests.py: one worker
started with fork and one with spawn (a fresh interpreter), each spinning in
its own function, so both kinds of worker must write a perf map.

Usage: python mpworkers.py [SECONDS]   (default 1)
"""
import multiprocessing as mp
import sys
import time


def fork_worker_spin(seconds):
    end = time.monotonic() + seconds
    acc = 0
    while time.monotonic() < end:
        for i in range(10000):
            acc = (acc + i * i) % 1000003
    return acc


def spawn_worker_spin(seconds):
    end = time.monotonic() + seconds
    acc = 0
    while time.monotonic() < end:
        for i in range(10000):
            acc = (acc + i * i) % 1000003
    return acc


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    procs = [mp.get_context("fork").Process(target=fork_worker_spin, args=(seconds,)),
             mp.get_context("spawn").Process(target=spawn_worker_spin, args=(seconds,))]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print("mpworkers done", [p.exitcode for p in procs])


if __name__ == "__main__":
    main()
