"""Demo program for `make demo`: a little of everything a Python profile
shows -- recursion, loops, a class method, json/zlib (native code), and a
sort whose key function is called back from C.
"""
import json
import zlib


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def sieve(limit):
    flags = bytearray([1]) * (limit + 1)
    flags[0:2] = b"\0\0"
    i = 2
    while i * i <= limit:
        if flags[i]:
            for j in range(i * i, limit + 1, i):
                flags[j] = 0
        i += 1
    return sum(flags)


class Inventory:
    def __init__(self, n):
        self.items = [{"id": i, "name": "item%d" % i, "qty": (i * 7) % 13}
                      for i in range(n)]

    def serialize(self):
        return zlib.compress(json.dumps(self.items).encode())

    def by_quantity(self):
        return sorted(self.items, key=lambda it: (it["qty"], -it["id"]))


def main():
    total = 0
    for _ in range(6):
        total += fib(24)
        total += sieve(300_000)
        inv = Inventory(40_000)
        total += len(inv.serialize())
        total += inv.by_quantity()[0]["id"]
    print("demo done", total)


if __name__ == "__main__":
    main()
