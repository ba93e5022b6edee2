"""Count mode "t" against a brute-force count through what test_tail_counts.py does not do: a hook that
creates and updates entities (index and count changes) and then raises (the operation rolls back as a
whole), a run of deletes that empties the trees, a dump restored into a fresh database, the audit log on,
skewed values (one spans many leaves) and `in` counts. After each step the count tree holds exactly each
value's entries outside its last leaf; every value's `count_by` and `==`/`in` query count match."""

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
    ordered_index,
    type_registry,
    value_counts,
)
from kybra_simple_db.ordered_keys import tree
from tail_model import nontails
from tail_model import sort_key as _key
from test_tail_counts import tails  # noqa: F401 (the fixture)

LONG = "L" * 60
TAGS = ["x", "y", "x y", "x\x1ey", "", "é", "z", LONG + "a", LONG + "b", "w"]
NS = [0, 1, 2, -5, 10**12]
FS = [0.0, 1.0, 1.5, -2.5]
DOMAINS = (("tag", TAGS), ("n", NS), ("f", FS), ("b", [True, False]))


class Boom(Exception):
    pass


def _define():
    type_registry.clear()

    class Rec(Entity):
        tag = String(indexed=True)
        n = Integer(indexed=True)
        f = Float(indexed=True)
        b = Boolean(indexed=True)

        def on_event(self, field, old, new, action):
            if field == "tag" and new == "BOOM":    # index and count changes, then a raise
                Rec(tag="x", n=0, f=0.0, b=True)
                first = Rec.load(min(e.id for e in Rec.load_some(1, 1)))
                first.update_fields({"tag": "y", "b": not first.b})
                raise Boom("boom")
            return True

    return Rec


def _skewed(rng, values: list):
    return rng.choices(values, [1 / (i + 1) ** 1.3 for i in range(len(values))])[0]


def _values(rng) -> dict:
    return {name: _skewed(rng, values) if name != "b" else rng.random() < 0.8 for name, values in DOMAINS}


def _brute(model: dict, field: str, value) -> int:
    return sum(1 for row in model.values() if row[field] == value and type(row[field]) is type(value))


def _check(db, Rec, model: dict, counts: bool) -> None:
    tc = db.type_code("Rec")
    for field, values in DOMAINS:
        gen = db.key_generations(Rec, tc)["^" + field]
        assert db.count_mode(Rec, tc, "^" + field) == "t"
        stored = {_key(v): c for v, c in value_counts.count_tree(db, tc, field, gen).items()}
        assert stored == nontails(tree(db, tc, field, gen)), field
        if not counts:
            continue
        for value in values:
            want = _brute(model, field, value)
            assert Rec.count_by(field, value) == want, (field, value)
            assert Rec.query().where(field, "==", value).count() == want, (field, value)
        some = values[:3]
        assert Rec.query().where(field, "in", some).count() == sum(_brute(model, field, v) for v in some)


def _restored(db, value_size: int, audit: bool):
    """A fresh database with `db`'s dump restored in pages."""
    records, cursor = [], None
    while True:
        page, cursor = db.dump_page(cursor, 50)
        records += page
        if cursor is None:
            break
    storage = MemoryMap(max_key_size=100, max_value_size=value_size)
    ordered_index.forget_cached()
    db = Database.init(db_storage=storage, audit_enabled=audit)
    Rec = _define()
    for start in range(0, len(records), 20):
        db.restore(records[start:start + 20])
    return storage, db, Rec


def _run(seed: int, value_size: int, steps: int) -> None:
    rng = random.Random(seed)
    audit = seed % 2 == 0
    storage = MemoryMap(max_key_size=100, max_value_size=value_size)
    db = Database.init(db_storage=storage, audit_enabled=audit)
    Rec = _define()
    model = {}
    for step in range(steps):
        roll = rng.random()
        if roll < 0.45 or len(model) < 4:
            with db.transaction():
                for _ in range(rng.randint(1, 6)):
                    row = _values(rng)
                    model[Rec(**row).id] = row
        elif roll < 0.55:       # a custom id: among a value's entries
            eid = rng.randint(1, 2 * max(model))
            if eid not in model and Rec.load(eid) is None:
                row = _values(rng)
                model[Rec(_id=eid, **row).id] = row
        elif roll < 0.68:
            eid = rng.choice(sorted(model))
            row = _values(rng)
            if rng.random() < 0.5:
                row = {name: row[name] for name in rng.sample(sorted(row), 1)}
            Rec.load(eid).update_fields(row)
            model[eid].update(row)
        elif roll < 0.78:
            with db.transaction():
                for eid in rng.sample(sorted(model), min(len(model), rng.randint(1, 12))):
                    Rec.load(eid).delete()
                    del model[eid]
        elif roll < 0.86:       # the hook's own changes, then its raise: nothing stays
            before = dict(storage._data)
            with pytest.raises(Boom):
                if rng.random() < 0.5:
                    Rec(tag="BOOM", n=1, f=1.0, b=False)
                else:
                    Rec.load(rng.choice(sorted(model))).update_fields({"n": 2, "tag": "BOOM"})
            assert dict(storage._data) == before
        elif roll < 0.9:
            ordered_index.forget_cached()
            db = Database.init(db_storage=storage, audit_enabled=audit)
            Rec = _define()
        elif roll < 0.93 and rng.random() < 0.3:      # everything deleted: emptied trees
            with db.transaction():
                for eid in sorted(model):
                    Rec.load(eid).delete()
            model.clear()
        elif roll < 0.96:
            storage, db, Rec = _restored(db, value_size, audit)
        _check(db, Rec, model, step % 5 == 0)
    _check(db, Rec, model, True)


@pytest.mark.usefixtures("tails")
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("value_size", [100, 220])
def test_counts_match_a_brute_force_count_through_hooks_restores_and_emptied_trees(seed, value_size):
    _run(seed, value_size, 220)


def _with_g(indexed: bool):
    """Rec with a field `g`, indexed or not (the same type: a schema change)."""
    type_registry.clear()

    class Rec(Entity):
        tag = String(indexed=True)
        g = String(indexed=indexed)

    return Rec


@pytest.mark.usefixtures("tails")
@pytest.mark.parametrize("seed", range(3))
def test_an_index_added_to_a_filled_type_counts_after_a_rebuild_interleaved_with_changes(seed):
    """A field indexed once the type has entities (pending, filled by `rebuild_keys` pages between which
    entities are created, moved and deleted), then dropped and indexed again: mode "t" counts exact."""
    rng = random.Random(seed)
    storage = MemoryMap(max_key_size=100, max_value_size=120)
    db = Database.init(db_storage=storage, audit_enabled=False)
    values = ["p", "q", "r s", ""]
    Rec = _with_g(False)
    model = {}

    def change(count: int) -> None:
        for _ in range(count):
            roll = rng.random()
            if roll < 0.5 or len(model) < 5:
                g = _skewed(rng, values)
                model[Rec(tag="t", g=g).id] = g
            elif roll < 0.8:
                eid = rng.choice(sorted(model))
                model[eid] = _skewed(rng, values)
                Rec.load(eid).g = model[eid]
            else:
                eid = rng.choice(sorted(model))
                Rec.load(eid).delete()
                del model[eid]

    change(120)
    for _ in range(2):
        ordered_index.forget_cached()
        Rec = _with_g(True)
        db = Database.init(db_storage=storage, audit_enabled=False)
        tc = db.type_code("Rec")
        assert "^g" in db.key_schema(Rec, tc)["p"]
        cursor = Rec.rebuild_keys(None, rng.randint(3, 15))
        while cursor is not None:
            change(rng.randint(0, 6))
            cursor = Rec.rebuild_keys(cursor, rng.randint(3, 15))
        assert "p" not in db.key_schema(Rec, tc) and db.count_mode(Rec, tc, "^g") == "t"
        gen = db.key_generations(Rec, tc)["^g"]
        change(60)
        stored = {_key(v): c for v, c in value_counts.count_tree(db, tc, "g", gen).items()}
        assert stored == nontails(tree(db, tc, "g", gen))
        for value in values:
            want = sum(1 for g in model.values() if g == value)
            assert Rec.count_by("g", value) == want and Rec.query().where("g", "==", value).count() == want
        Rec = _with_g(False)       # dropped; indexed again on the next round (a new generation)
        db = Database.init(db_storage=storage, audit_enabled=False)
        change(20)
