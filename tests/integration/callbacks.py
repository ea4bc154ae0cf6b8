"""Methods, closures and callbacks from C: sorted(key=...) calls back into
Python from the native sort.

Stack of interest: <module> -> main -> Sorter.run -> Sorter.sort_all ->
(sorted, native) -> Sorter.sort_all.<locals>.key -> weight
"""
import sys
import time


def weight(x):
    acc = 0
    for i in range(40):
        acc += (x * i) % 7
    return acc


class Sorter:
    def __init__(self, n):
        self.data = [(i * 7919) % 10007 for i in range(n)]

    def sort_all(self):
        def key(x):
            return weight(x)
        return sorted(self.data, key=key)

    def run(self, end):
        n = 0
        while time.monotonic() < end:
            n += len(self.sort_all())
        return n


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    print("callbacks done", Sorter(3000).run(time.monotonic() + seconds))


main()
