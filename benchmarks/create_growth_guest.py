"""Guest side of benchmarks/create_growth.py: the engine's create under Kybra's RustPython.

KRP_ARGS: the directory holding the saved maps, the entity count, the samples. Prints one JSON line
per heap: "warm" (one create after another, as a canister's heap keeps the index nodes it read) and
"cold" (the index caches emptied before each create, as after an upgrade).
"""

import json
import os
import sys
import time

from create_growth_model import Item, item_values, load, open_db  # copied beside the saved maps
from kybra_simple_db import ordered_index

fuel = time.monotonic_ns
where, n, samples = os.environ.get("KRP_ARGS", "").split()
n = int(n)
samples = int(samples)
db, store, log = open_db(load(where + "/db.txt"), load(where + "/audit.txt"))
calls = {"reads": 0, "writes": 0}


def counted(method, kind):
    def call(*args):
        calls[kind] += 1
        return method(*args)
    return call


store.get = counted(store.get, "reads")
store.insert = counted(store.insert, "writes")
store.remove = counted(store.remove, "writes")
for i in range(n + 1, n + 4):
    Item(**item_values(i))
following = n + 4
for heap in ("warm", "cold"):
    calls["reads"] = calls["writes"] = 0
    total = 0
    for i in range(following, following + samples):
        if heap == "cold":
            ordered_index.forget_cached()
            db.forget_cached()
        start = fuel()
        Item(**item_values(i))
        total += fuel() - start
    following += samples
    print(json.dumps({"n": n, "heap": heap, "instructions": total // samples,
                      "reads": calls["reads"] / samples, "writes": calls["writes"] / samples}))
    sys.stdout.flush()
