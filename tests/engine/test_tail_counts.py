"""Count mode "t" (value_counts.py, tail_runs.py): the count tree holds, after every change, exactly
nontail(V) (entries of V outside its last leaf) for each value V whose entries span two or more leaves,
and `count_by` equals a model's count, through random creates (custom ids too: inserts before a value's
last entry), updates, deletes, rolled-back transactions (one after a split), rebuilds, re-opens and small
nodes (splits, merges, emptied leaves), for Int, Float, Bool, Text with separators and long Text; an
index stored in mode "v" keeps it."""

import json
import random

import pytest
from kybra_simple_db import (
    Boolean,
    Database,
    Entity,
    Float,
    Integer,
    MemoryMap,
    String,
    db_engine,
    ordered_index,
    type_registry,
    value_counts,
)
from kybra_simple_db.ordered_keys import tree

LONG = "long-" + "z" * 40
LABELS = ["a", "ab", "a b", "", "c\x1ed", "é", LONG + "1", LONG + "2"] + ["v" + str(i) for i in range(6)]
SIZES = [0, 1, 2, 3, 7]
SCORES = [0.5, 1.0, 2.0, -3.25]


@pytest.fixture
def tails(monkeypatch):
    """Every ordered index created in the test counts in mode "t"."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")


def _define():
    type_registry.clear()

    class Item(Entity):
        size = Integer(indexed=True)
        label = String(indexed=True)
        score = Float(indexed=True)
        flag = Boolean(indexed=True)

    return Item


def _leaves(index) -> list:
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


def _key(value) -> tuple:
    return value_counts.rank(value), value


def _runs(index) -> dict:
    """{(rank, value): [entries, entries in the last leaf holding it]} from the leaves."""
    seen = {}
    for leaf in _leaves(index):
        here = {}
        for value, _ in leaf:
            here[_key(value)] = here.get(_key(value), 0) + 1
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
        stored = {_key(v): c for v, c in value_counts.count_tree(db, tc, field, gen).items()}
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


def _run(seed: int, value_size: int, steps: int, check_every: int = 1) -> None:
    storage = MemoryMap(max_key_size=100, max_value_size=value_size)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
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
            with pytest.raises(RuntimeError), db.transaction():
                for _ in range(rng.randint(1, 12)):
                    Item(**_fields(rng))
                Item.load(rng.choice(sorted(model))).update_fields(_fields(rng))
                raise RuntimeError("roll back")
        elif roll < 0.92:
            cursor = Item.rebuild_keys(None, 9)
            while cursor is not None:
                cursor = Item.rebuild_keys(cursor, 9)
        elif roll < 0.96:
            ordered_index.forget_cached()
            db = Database.init(db_storage=storage, audit_enabled=False)
            Item = _define()
        else:
            ordered_index._CACHE.clear()        # a cold heap: nodes parsed lazily
        if step % check_every == 0:
            check_tails(db, Item)
    check_tails(db, Item)
    check_counts(db, Item, model)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("value_size", [120, 200])
def test_stored_nontails_match_the_leaves_after_every_change(tails, seed, value_size):
    _run(seed, value_size, 160)


@pytest.mark.parametrize("seed", range(100, 120))
def test_stored_nontails_match_the_leaves_many_seeds(tails, seed):
    _run(seed, 120 + seed % 3 * 60, 300, 3)


def test_a_rolled_back_insert_that_split_a_leaf_leaves_counts_as_they_were(tails):
    storage = MemoryMap(max_key_size=100, max_value_size=120)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    with db.transaction():
        items = [Item(size=1, label="a", score=0.5, flag=True) for _ in range(30)]
    before = dict(storage._data)
    tc = db.type_code("Item")
    leaves = len(_leaves(tree(db, tc, "size", db.key_generations(Item, tc)["^size"])))
    with pytest.raises(RuntimeError), db.transaction():
        for _ in range(12):
            Item(size=1, label="a", score=0.5, flag=True)
        assert len(_leaves(tree(db, tc, "size", db.key_generations(Item, tc)["^size"]))) > leaves
        raise RuntimeError("roll back")
    assert dict(storage._data) == before
    check_tails(db, Item)
    assert Item.count_by("size", 1) == 30 and Item.count_by("label", "a") == 30
    items[0].delete()
    check_tails(db, Item)
    assert Item.count_by("size", 1) == 29


def test_an_append_to_a_values_last_leaf_writes_no_count(tails):
    storage = MemoryMap(max_key_size=100, max_value_size=1000)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    with db.transaction():
        for i in range(400):
            Item(size=i % 2, label="ab"[i % 2] + "x", score=0.5, flag=True)
    check_tails(db, Item)
    tc = db.type_code("Item")
    gen = db.key_generations(Item, tc)["^label"]
    counts = value_counts.count_tree(db, tc, "label", gen)
    assert counts.items()       # both labels span leaves
    writes = 0
    for _ in range(20):
        before = dict(storage._data)
        Item(size=1, label="bx", score=0.5, flag=True)
        writes += len([k for k, v in storage._data.items() if before.get(k) != v and "+" in k.split(".")[0]])
    assert writes <= 2      # a count node changes only when its leaf splits
    check_tails(db, Item)
    assert Item.count_by("label", "bx") == 220 and Item.count_by("label", "ax") == 200


def test_an_index_stored_in_mode_v_keeps_it(monkeypatch):
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "v")
    storage = MemoryMap(max_key_size=100, max_value_size=300)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    with db.transaction():
        for i in range(150):
            Item(size=i % 3, label="a", score=0.5, flag=i % 2 == 0)
    assert json.loads(storage.get("!k:1"))["v"] == ["^size", "^label", "^score", "^flag"]
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")
    Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    for i in range(40):
        Item(size=i % 4, label="b", score=1.0, flag=True)
    for item in list(Item.instances())[:20]:
        item.delete()
    schema = json.loads(storage.get("!k:1"))
    assert "t" not in schema and schema["v"] == ["^size", "^label", "^score", "^flag"]
    model = {item.id: {"size": item.size, "label": item.label, "score": item.score, "flag": item.flag}
             for item in Item.instances()}
    check_counts(db, Item, model)
