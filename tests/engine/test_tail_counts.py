"""Count mode "t" (value_counts.py, tail_runs.py): the count tree holds, after every change, exactly
nontail(V) (entries of V outside its last leaf) for each value V whose entries span two or more leaves,
and `count_by` equals a model's count, through random creates (custom ids too: inserts before a value's
last entry), updates, deletes, rolled-back transactions (one after a split), rebuilds, re-opens and small
nodes (splits, merges, emptied leaves), for Int, Float, Bool, Text with separators and long Text; an
index stored in mode "v" keeps it."""

import json

import pytest
from kybra_simple_db import Database, MemoryMap, db_engine, value_counts
from kybra_simple_db.ordered_keys import tree
from tail_model import check_counts, check_tails, define, leaves, run


@pytest.fixture
def tails(monkeypatch):
    """Every ordered index created in the test counts in mode "t"."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("value_size", [120, 200])
def test_stored_nontails_match_the_leaves_after_every_change(tails, seed, value_size):
    run(seed, value_size, 160)


@pytest.mark.parametrize("seed", range(100, 120))
def test_stored_nontails_match_the_leaves_many_seeds(tails, seed):
    run(seed, 120 + seed % 3 * 60, 300, 3)


def test_a_rolled_back_insert_that_split_a_leaf_leaves_counts_as_they_were(tails):
    storage = MemoryMap(max_key_size=100, max_value_size=120)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = define()
    with db.transaction():
        items = [Item(size=1, label="a", score=0.5, flag=True) for _ in range(30)]
    before = dict(storage._data)
    tc = db.type_code("Item")
    leaf_count = len(leaves(tree(db, tc, "size", db.key_generations(Item, tc)["^size"])))
    with pytest.raises(RuntimeError), db.transaction():
        for _ in range(12):
            Item(size=1, label="a", score=0.5, flag=True)
        assert len(leaves(tree(db, tc, "size", db.key_generations(Item, tc)["^size"]))) > leaf_count
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
    Item = define()
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
    Item = define()
    with db.transaction():
        for i in range(150):
            Item(size=i % 3, label="a", score=0.5, flag=i % 2 == 0)
    assert json.loads(storage.get("!k:1"))["v"] == ["^size", "^label", "^score", "^flag"]
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")
    Database.init(db_storage=storage, audit_enabled=False)
    Item = define()
    for i in range(40):
        Item(size=i % 4, label="b", score=1.0, flag=True)
    for item in list(Item.instances())[:20]:
        item.delete()
    schema = json.loads(storage.get("!k:1"))
    assert "t" not in schema and schema["v"] == ["^size", "^label", "^score", "^flag"]
    model = {item.id: {"size": item.size, "label": item.label, "score": item.score, "flag": item.flag}
             for item in Item.instances()}
    check_counts(db, Item, model)
