"""The model run of count mode "t" (value_counts.py, tail_runs.py), without pytest so that it also runs
under Kybra's RustPython: random creates (custom ids: inserts before a value's last entry), updates,
deletes, rolled-back transactions, rebuilds, re-opens and cold heaps on small nodes (splits, merges,
emptied leaves), for Int, Float, Bool, Text with separators and long Text; after every step the count
tree holds exactly nontail(V) of every value spanning leaves, and at the end `count_by` and a one-value
query count equal the model's. test_tail_counts.py runs it; under RustPython:

    TAIL_MODEL_SEEDS=0:30 TAIL_MODEL_STEPS=160 KRP_ENV=TAIL_MODEL_SEEDS,TAIL_MODEL_STEPS \
        python $KYBRA_RUSTPYTHON/run.py tests/engine/tail_model.py canister/src
"""

import os
import random

from kybra_simple_db import (
    Boolean,
    Database,
    Entity,
    Float,
    Integer,
    MemoryMap,
    String,
    ordered_index,
    type_registry,
    value_counts,
)
from kybra_simple_db.ordered_keys import tree

LONG = "long-" + "z" * 40
LABELS = ["a", "ab", "a b", "", "c\x1ed", "\u00e9", LONG + "1", LONG + "2"] + ["v" + str(i) for i in range(6)]
SIZES = [0, 1, 2, 3, 7]
SCORES = [0.5, 1.0, 2.0, -3.25]


def define():
    type_registry.clear()

    class Item(Entity):
        size = Integer(indexed=True)
        label = String(indexed=True)
        score = Float(indexed=True)
        flag = Boolean(indexed=True)

    return Item


def leaves(index) -> list:
    """Every leaf's entries [value, id], in order."""
    header = index.header()
    if not header["r"]:
        return []
    out = []

    def visit(nid):
        node = index.read(nid)
        if type(node) is list:
            out.append(node)
        else:
            for child in node["c"]:
                visit(int(child))

    visit(header["r"])
    return out


def sort_key(value) -> tuple:
    return value_counts.rank(value), value


def _runs(index) -> dict:
    """{(rank, value): [entries, entries in the last leaf holding it]} from the leaves."""
    seen = {}
    for leaf in leaves(index):
        here = {}
        for value, _ in leaf:
            here[sort_key(value)] = here.get(sort_key(value), 0) + 1
        for key, count in here.items():
            entry = seen.setdefault(key, [0, 0])
            entry[0] += count
            entry[1] = count
    return seen


def nontails(index) -> dict:
    """{(rank, value): nontail} of every value with entries outside its last leaf, from the leaves."""
    return {key: total - last for key, (total, last) in _runs(index).items() if total > last}


def check_tails(db, Item, fields=("size", "label", "score", "flag")) -> None:
    tc = db.type_code("Item")
    for field in fields:
        gen = db.key_generations(Item, tc)["^" + field]
        assert db.count_mode(Item, tc, "^" + field) == "t"
        index = tree(db, tc, field, gen)
        stored = {sort_key(v): c for v, c in value_counts.count_tree(db, tc, field, gen).items()}
        assert stored == nontails(index), field
        runs = _runs(index)
        if len(runs) % 2:
            ordered_index._CACHE.clear()        # a cold heap: the nodes' texts searched, not decoded
        for key, (total, last) in runs.items():     # what a count reads: one descent, a leaf or two
            run, spans = index.tail_run(key[1])
            assert run == last and (spans or total == last), (field, key)


def _model_counts(model: dict, field: str, values) -> dict:
    return {v: sum(1 for f in model.values() if f[field] == v and type(f[field]) is type(v)) for v in values}


FIELDS = (("size", SIZES), ("label", LABELS), ("score", SCORES), ("flag", [True, False]))


def check_counts(db, Item, model: dict) -> None:
    for field, values in FIELDS:
        want = _model_counts(model, field, values)
        assert {v: Item.count_by(field, v) for v in values} == want, field
        for value in values:
            assert Item.query().where(field, "==", value).count_page()[0] == want[value]


def _fields(rng) -> dict:
    return {"size": rng.choice(SIZES), "label": rng.choice(LABELS if rng.random() < 0.5 else LABELS[:3]),
            "score": rng.choice(SCORES), "flag": rng.random() < 0.7}


def run(seed: int, value_size: int, steps: int, check_every: int = 1) -> int:
    """Replay seed `seed`'s random steps (checking the count trees every `check_every` steps) in count mode
    "t" (the mode of new indexes) on a map of `value_size`-byte values; the entities left."""
    storage = MemoryMap(max_key_size=100, max_value_size=value_size)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = define()
    rng = random.Random(seed)
    model = {}
    for step in range(steps):
        roll = rng.random()
        if roll < 0.45 or len(model) < 3:
            with db.transaction():
                for _ in range(rng.randint(1, 5)):
                    fields = _fields(rng)
                    model[Item(**fields).id] = fields
        elif roll < 0.55:       # custom ids: entries before a value's last one
            fields = _fields(rng)
            eid = rng.randint(1, 3 * steps)
            if eid not in model and Item.load(eid) is None:
                model[Item(_id=eid, **fields).id] = fields
        elif roll < 0.7:
            eid = rng.choice(sorted(model))
            fields = _fields(rng)
            Item.load(eid).update_fields(fields)
            model[eid] = fields
        elif roll < 0.8:
            with db.transaction():      # a run of deletes: leaves empty and merge
                for eid in rng.sample(sorted(model), min(len(model) - 1, rng.randint(1, 8))):
                    Item.load(eid).delete()
                    del model[eid]
        elif roll < 0.88:
            try:
                with db.transaction():
                    for _ in range(rng.randint(1, 12)):
                        Item(**_fields(rng))
                    Item.load(rng.choice(sorted(model))).update_fields(_fields(rng))
                    raise RuntimeError("roll back")
            except RuntimeError as error:
                assert str(error) == "roll back"
        elif roll < 0.92:
            cursor = Item.rebuild_keys(None, 9)
            while cursor is not None:
                cursor = Item.rebuild_keys(cursor, 9)
        elif roll < 0.96:
            ordered_index.forget_cached()
            db = Database.init(db_storage=storage, audit_enabled=False)
            Item = define()
        else:
            ordered_index._CACHE.clear()        # a cold heap: nodes parsed lazily
        if step % check_every == 0:
            check_tails(db, Item)
    check_tails(db, Item)
    check_counts(db, Item, model)
    return len(model)


if os.environ.get("TAIL_MODEL_SEEDS"):      # (run as a script: under RustPython `__name__` is not "__main__")
    first, last = (int(part) for part in os.environ["TAIL_MODEL_SEEDS"].split(":"))
    for number in range(first, last):
        left = run(number, 120 + number % 3 * 60, int(os.environ.get("TAIL_MODEL_STEPS", "160")))
        print("seed", number, "entities", left, flush=True)
    print("OK")
