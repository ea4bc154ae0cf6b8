"""Program with known definition lines for `pyperf-maps lines` tests.
Every code object it runs is marked on its definition line with a comment
"# def: QUALNAME"; the test reads the markers as the expected answer.

Usage: python linesprog.py [SECONDS]   (default 0.5)
"""
import functools
import sys
import time


def spin(n):  # def: spin
    acc = 0
    for i in range(n):
        acc = (acc + i) % 7
    return acc


def outer():  # def: outer
    def inner():  # def: outer.<locals>.inner
        return spin(2000)
    return inner() + sum(x for x in range(3))  # def: outer.<locals>.<genexpr>


class Shape:  # def: Shape
    class Corner:  # def: Shape.Corner
        def angle(self):  # def: Shape.Corner.angle
            return spin(1000)

    @functools.lru_cache(maxsize=None)
    @staticmethod
    def decorated(k):  # def: Shape.decorated
        return k

    def area(self):  # def: Shape.area
        f = lambda: spin(1000)  # def: Shape.area.<locals>.<lambda>
        return f() + self.Corner().angle() + Shape.decorated(3)


def main():  # def: main
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    end = time.monotonic() + seconds
    total = 0
    while time.monotonic() < end:
        total += outer() + Shape().area()
    print("linesprog done", total > 0)


main()
