"""Counts per value of an ordered index (value_counts.py): `count_by` equals what a plain Python model
counts after random creates, updates, deletes, rolled-back transactions, rebuilds and re-opens, with
values crossing the stored-count thresholds both ways; stored data written with a count key per value
(before count trees) keeps counting right after the upgrade."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra_simple_db import (
    Database,
    Entity,
    Integer,
    MemoryMap,
    String,
    db_engine,
    ordered_index,
    type_registry,
    value_counts,
)
from kybra_simple_db.ordered_index import OrderedIndex
from kybra_simple_db.ordered_keys import tree
from kybra_simple_db.system_time import SystemTime
from tail_model import nontails

LONG = "long-" + "z" * 40       # the index keeps Text this long as a prefix: counted under its own key
LABELS = ["a", "b", LONG + "1", LONG + "2"]
SIZES = st.integers(min_value=0, max_value=3)
IDS = st.integers(min_value=1, max_value=40)
OPS = st.one_of(
    st.tuples(st.just("create"), SIZES, st.sampled_from(LABELS), st.integers(min_value=1, max_value=8)),
    st.tuples(st.just("update"), IDS, SIZES, st.sampled_from(LABELS)),
    st.tuples(st.just("move_all"), SIZES, SIZES),
    st.tuples(st.just("delete"), IDS),
    st.tuples(st.just("failed_tx"), IDS, SIZES),
    st.tuples(st.just("reinit")),
    st.tuples(st.just("rebuild")),
)


@pytest.fixture
def small_thresholds(monkeypatch):
    """Thresholds of a few entries, so short sequences cross them both ways."""
    monkeypatch.setattr(value_counts, "HEAVY", 6)
    monkeypatch.setattr(value_counts, "LIGHT", 3)


@pytest.fixture
def mode_v(monkeypatch):
    """New ordered indexes count in mode "v" (as created before mode "t"), whose thresholds a test checks."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "v")


def _define():
    type_registry.clear()

    class Item(Entity):
        size = Integer(indexed=True)
        label = String(indexed=True)

    return Item


def _apply(Item, db, model: dict, op: tuple) -> None:
    kind = op[0]
    if kind == "create":
        with db.transaction():
            for _ in range(op[3]):
                model[Item(size=op[1], label=op[2]).id] = {"size": op[1], "label": op[2]}
    elif kind == "update" and op[1] in model:
        Item.load(op[1]).update_fields({"size": op[2], "label": op[3]})
        model[op[1]] = {"size": op[2], "label": op[3]}
    elif kind == "move_all":
        with db.transaction():
            for eid, fields in model.items():
                if fields["size"] == op[1]:
                    Item.load(eid).size = op[2]
                    fields["size"] = op[2]
    elif kind == "delete" and op[1] in model:
        Item.load(op[1]).delete()
        del model[op[1]]
    elif kind == "failed_tx":
        with pytest.raises(RuntimeError), db.transaction():
            Item(size=op[2], label="a")
            if op[1] in model:
                Item.load(op[1]).update_fields({"size": op[2], "label": "b"})
            raise RuntimeError("roll back")
    elif kind == "rebuild":
        cursor = Item.rebuild_keys(None, 7)
        while cursor is not None:
            cursor = Item.rebuild_keys(cursor, 7)


def _check(Item, db, model: dict) -> None:
    for field, values in (("size", range(4)), ("label", LABELS)):
        want = {v: sum(1 for f in model.values() if f[field] == v) for v in values}
        assert {v: Item.count_by(field, v) for v in values} == want, field
        tc = db.type_code("Item")
        gen = db.key_generations(Item, tc)["^" + field]
        stored = dict((v, c) for v, c in value_counts.count_tree(db, tc, field, gen).items())
        index = tree(db, tc, field, gen)
        if db.count_mode(Item, tc, "^" + field) == "t":     # nontail(V) of each value spanning leaves
            assert {(value_counts.rank(v), v): c for v, c in stored.items()} == nontails(index)
            assert index.check() == len(model)
            continue
        for value, count in want.items():       # the invariants value_counts relies on
            if type(value) is str and len(index.key(value)) < len(value):
                assert value not in stored      # counted under its own key
            elif value in stored:
                assert stored[value] == count and count >= value_counts.LIGHT
            else:
                assert count < value_counts.HEAVY
        assert index.check() == len(model)


@pytest.fixture(params=["v", "t"])
def count_mode(request, monkeypatch):
    """The count mode of the ordered indexes a test creates (see Database.count_mode)."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", request.param)
    return request.param


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=25), st.sampled_from([60, 200, 1000]))
def test_counts_match_a_model_across_thresholds(small_thresholds, count_mode, ops, value_size):
    _replay(MemoryMap(max_key_size=100, max_value_size=value_size), {}, ops, _check)


def _replay(storage: MemoryMap, model: dict, ops: list, check=None) -> tuple:
    """Apply `ops` (re-opening the database on "reinit") and `check` after each; (db, Item) at the end."""
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    model.update({item.id: {"size": item.size, "label": item.label} for item in Item.instances()})
    for op in ops:
        if op[0] == "reinit":
            db = Database.init(db_storage=storage, audit_enabled=False)
            Item = _define()
        else:
            _apply(Item, db, model, op)
        if check is not None:
            check(Item, db, model)
    return db, Item


def test_a_value_crossing_the_thresholds_gets_and_loses_its_stored_count(mode_v):
    db = Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=1000), audit_enabled=False)
    Item = _define()
    tc = db.type_code("Item")
    counts = value_counts.count_tree(db, tc, "size", db.key_generations(Item, tc)["^size"])
    items = [Item(size=7, label="a") for _ in range(value_counts.HEAVY - 1)]
    assert counts.items() == [] and Item.count_by("size", 7) == value_counts.HEAVY - 1
    items.append(Item(size=7, label="a"))
    assert counts.items() == [[7, value_counts.HEAVY]]
    moved = []
    while len(items) > value_counts.LIGHT:      # 7 keeps its stored count down to LIGHT entries
        items[-1].size = 8
        moved.append(items.pop())
    assert counts.items() == [[7, value_counts.LIGHT]]
    items[-1].size = 8                          # under LIGHT: 7 is counted from its entries again
    moved.append(items.pop())
    assert counts.items() == []
    while len(moved) < value_counts.HEAVY:
        moved.append(Item(size=8, label="b"))
    assert counts.items() == [[8, value_counts.HEAVY]]
    items.pop().delete()
    assert Item.count_by("size", 7) == value_counts.LIGHT - 2 and Item.count_by("size", 9) == 0
    assert Item.count_by("size", 8) == value_counts.HEAVY


def test_an_update_between_two_heavy_values_writes_one_count_node(mode_v):
    storage = MemoryMap(max_key_size=100, max_value_size=1000)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    with db.transaction():
        items = [Item(size=i % 2, label="a") for i in range(4 * value_counts.HEAVY)]
    before = dict(storage._data)
    items[0].size = 1
    changed = [k for k, v in storage._data.items() if before.get(k) != v]
    assert len([k for k in changed if "+size" in k]) == 1
    assert Item.count_by("size", 0) == 2 * value_counts.HEAVY - 1
    assert Item.count_by("size", 1) == 2 * value_counts.HEAVY + 1


def _saved_map() -> MemoryMap:
    """A map written by the engine before count trees: every value's count under its own key, key
    schema "c" (tests/engine/data/counts_per_value_keys.json says which commit wrote it)."""
    saved = json.loads((Path(__file__).parent / "data" / "counts_per_value_keys.json").read_text())
    storage = MemoryMap(max_key_size=saved["max_key_size"], max_value_size=saved["max_value_size"])
    storage._data.update(saved["map"])
    return storage


def _size_keys(storage: MemoryMap) -> set:
    return {key for key in storage._data if key.startswith("1=size=")}


def test_data_with_a_count_key_per_value_counts_right_after_the_upgrade():
    """Counts of an index stored with a count key per value stay exact through further changes; each
    value's key goes (into the count tree when the value has many entities) on its first change; a
    field indexed later uses count trees."""
    storage = _saved_map()
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    model = {item.id: {"size": item.size, "label": item.label} for item in Item.instances()}
    assert len(model) == 280 and Item.count_by("size", 0) >= value_counts.HEAVY
    _check_counts(Item, model)
    assert "1=size=0" in _size_keys(storage)
    for eid in sorted(model)[:30]:
        _apply(Item, db, model, ("update", eid, eid % 3, LABELS[eid % 4]))
    _apply(Item, db, model, ("create", 0, "b", 5))
    _apply(Item, db, model, ("delete", sorted(model)[-1]))
    _check_counts(Item, model)
    assert json.loads(storage.get("!k:1"))["c"] == ["^size", "^label"]
    tc = db.type_code("Item")
    sizes = value_counts.count_tree(db, tc, "size", 0).items()
    assert [0, Item.count_by("size", 0)] in sizes and "1=size=0" not in _size_keys(storage)
    assert not _size_keys(storage) & {"1=size=1", "1=size=2"}
    before = dict(storage._data)
    Item.load(sorted(model)[5]).size = 0 if model[sorted(model)[5]]["size"] else 1
    assert len([k for k, v in storage._data.items() if before.get(k) != v]) <= 3 + 2   # + document, counter

    type_registry.clear()

    class Item(Entity):     # noqa: F811 (the same type, with one more indexed field)
        size = Integer(indexed=True)
        label = String(indexed=True)
        rank = Integer(indexed=True)

    Database.init(db_storage=storage, audit_enabled=False)
    _rebuild(Item, None, 50)    # fills `rank` and moves every value's count key over
    for eid in sorted(model)[:70]:
        Item.load(eid).rank = 1
    assert Item.count_by("rank", 1) == 70
    schema = json.loads(storage.get("!k:1"))
    assert "c" not in schema and "m" not in schema and schema["v"] == ["^size", "^label"]
    assert schema["t"] == ["^rank"]     # (indexed since mode "t")
    assert _size_keys(storage) == set()
    model[sorted(model)[5]]["size"] = Item.load(sorted(model)[5]).size
    _check_counts(Item, model)


def _rebuild(Item, cursor, size: int) -> None:
    cursor = Item.rebuild_keys(cursor, size)
    while cursor is not None:
        cursor = Item.rebuild_keys(cursor, size)


def test_only_a_rebuild_over_every_id_stops_reading_count_keys():
    """A rebuild pass that skipped ids may have left count keys: the index keeps reading them."""
    storage = _saved_map()
    Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    model = {item.id: item.size for item in Item.instances()}
    _rebuild(Item, 100, 40)                  # from id 100 on: ids 1 to 100 not seen
    assert json.loads(storage.get("!k:1"))["c"] == ["^size", "^label"] and _size_keys(storage)
    first = Item.rebuild_keys(None, 40)
    Item.rebuild_keys(first + 40, 40)       # skips a page
    cursor = first + 80
    while cursor is not None:
        cursor = Item.rebuild_keys(cursor, 40)
    assert json.loads(storage.get("!k:1"))["c"] == ["^size", "^label"]
    for value in range(40):
        assert Item.count_by("size", value) == sum(1 for size in model.values() if size == value)
    _rebuild(Item, None, 40)
    assert "c" not in json.loads(storage.get("!k:1")) and _size_keys(storage) == set()
    for value in range(40):
        assert Item.count_by("size", value) == sum(1 for size in model.values() if size == value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=15))
def test_counts_of_an_upgraded_index_match_a_model(small_thresholds, ops):
    storage = _saved_map()
    model = {}
    db, Item = _replay(storage, model, ops)
    _check_counts(Item, model)
    tc = db.type_code("Item")
    stored = dict((v, c) for v, c in value_counts.count_tree(db, tc, "size", 0).items())
    for value in range(40):
        want = sum(1 for f in model.values() if f["size"] == value)
        if "1=size=" + str(value) in storage._data:
            assert "^size" in json.loads(storage.get("!k:1")).get("c", ())
            assert value not in stored and int(storage.get("1=size=" + str(value))) == want
        elif value in stored:
            assert stored[value] == want and want >= value_counts.LIGHT
        else:
            assert want < value_counts.HEAVY


def _check_counts(Item, model: dict) -> None:
    ordered_index._CACHE.clear()    # as a query call on a cold heap reads the nodes
    for field, values in (("size", range(40)), ("label", LABELS)):
        for value in values:
            assert Item.count_by(field, value) == sum(1 for f in model.values() if f[field] == value)


@pytest.mark.parametrize("seed", [1, 2])
def test_entries_of_a_value_are_counted_alike_from_the_root_and_from_the_changed_leaf(seed):
    """The B+tree's two ways of counting a value's entries (used by count_by, and right after an
    insert) agree with a model, whatever leaves and levels a value's entries span."""
    rng = random.Random(seed)
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=80))
    index = OrderedIndex(db, "1^x")
    model = {}
    for _ in range(1500):
        value = rng.choice([rng.randint(0, 6), rng.randint(0, 400)])
        eid = rng.randint(1, 10_000)
        with db.operation():
            if rng.random() < 0.3 and model:
                gone = rng.choice(sorted(model))
                assert index.remove(*gone)
                del model[gone]
            if index.insert(value, eid):
                model[(value, eid)] = True
                want = sum(1 for v, _ in model if v == value)
                if eid % 3 == 0:
                    ordered_index._CACHE.clear()    # a cold heap (a query call): nodes parsed lazily
                assert index.count_value(value, 10_000) == want
                assert index.count_near_change(value, 10_000) == want
                assert index.count_near_change(value, 5) == min(want, 5)
                assert index.count_value(value, 10_000) == want


def test_a_query_count_of_one_value_reads_its_count_in_one_call(count_mode):
    from kybra_simple_db import CountingMap

    storage = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    with db.transaction():
        for i in range(6000):       # more matches than one count_page call walks (COUNT_BUDGET)
            Item(size=i % 3 if i < 600 else 1, label="a" if i < 10 else "b")
    storage.reset()
    assert Item.query().where(size=1).count_page() == (5600, None)
    assert Item.query().where(size__in=[1, 2, 1, 7]).count_page() == (5600 + 200, None)
    assert Item.query().where(label="a").count_page() == (10, None)
    assert storage.reads <= 30
    assert Item.query().where(size__gte=1).count() == 5800      # ranges walk the index as before


def _count_changes(cold: bool, kind=value_counts.CountTree, seed: int = 11, waves: bool = False) -> list:
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=120))
    counts = kind(db, "1+x")
    rng = random.Random(seed)
    model = {}
    snapshots = []
    values = ["", "a", "ab", "a\x1e", "a ", "b", "é", 3, 3.0, True] + ["v" + str(i) for i in range(30)]
    for step in range(600):
        if cold:
            ordered_index._CACHE.clear()
        value = rng.choice(values)
        key = value_counts.rank(value), value
        with db.operation():    # (`waves`: counts dropped by turns, so nodes empty and merge)
            if key in model and rng.random() < (0.9 if waves and step % 150 > 100 else 0.1):
                counts.set(value, None)
                del model[key]
            elif key in model:
                delta = rng.choice([-3, 1, 2, 500])
                assert counts.add(value, delta, 5)
                model[key] = model[key] + delta
                if model[key] < 5:
                    del model[key]
            else:
                assert not counts.add(value, 1, 5)
                model[key] = rng.randint(5, 99)
                counts.set(value, model[key])
        snapshots.append(dict(db._storage._data))
        assert counts.get(value) == model.get(key)
    stored = sorted((value_counts.rank(v), v, c) for v, c in counts.items())
    assert stored == sorted(k + (c,) for k, c in model.items())
    return snapshots


def test_count_changes_on_a_cold_heap_store_what_they_store_on_decoded_nodes():
    """A stored count changed in the leaf's text (a cold heap) is stored byte for byte as on decoded
    nodes, through splits and merges, for Text with separators, prefixes of others, and numbers."""
    assert _count_changes(True) == _count_changes(False)


@pytest.mark.parametrize("seed", [12, 13])
def test_count_tree_changes_on_entry_texts_store_what_changes_on_decoded_nodes_store(seed):
    """The count tree's inserts, removals, splits and merges, made on its nodes' entry texts (nothing
    decoded), store byte for byte what the same changes made on decoded nodes stored."""
    from decoded_index import DecodedCounts

    for cold in (True, False):
        stored = _count_changes(cold, value_counts.CountTree, seed, True)
        assert stored == _count_changes(cold, DecodedCounts, seed, True)


def test_a_query_count_of_a_value_outside_the_fields_bounds_is_zero_not_an_error():
    """A filter value no entity can hold (past a field's bounds) matches nothing: counting it from the
    counts per value answers 0, as the query's page does, instead of refusing the value as a write would."""
    class Bounded(Entity):
        size = Integer(indexed=True, min_value=0, max_value=10)
        label = String(indexed=True, max_length=5)

    Bounded(size=1, label="a")
    for query in (Bounded.query().where(size=50), Bounded.query().where(label="toolongvalue")):
        assert query.page(limit=10).items == []
        assert query.count_page() == (0, None)
        assert query.count() == 0
    assert Bounded.query().where(size__in=[1, 50]).count_page() == (1, None)


def _workload(seed: int, reference: bool, monkeypatch) -> list:
    """Storage after each step of a random workload of creates (mostly a new largest id per value, as
    `OrderedIndex.insert` appends them), updates, deletes and rolled-back transactions over many Text values
    (plain, prefixes of each other, with separators, long) and numbers, on small nodes (leaves, inner
    nodes and count trees of several nodes). `reference`: counts kept by `entry_moved` alone."""
    if reference:
        monkeypatch.setattr(value_counts, "entry_added",
                            lambda db, index, tc, field, gen, value, keyed=False, counts=None:
                            value_counts.entry_moved(db, index, tc, field, gen, value, 1, keyed))
    storage = MemoryMap(max_key_size=100, max_value_size=160)
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    rng = random.Random(seed)
    labels = ["a", "ab", "a b", "b", "c\x1ed", "é", LONG + "1", ""] + ["v" + str(i) for i in range(12)]
    model = {}
    snapshots = []
    for step in range(700):
        if step % 50 == 49:
            ordered_index.forget_cached()       # a cold heap (an upgrade): nodes and headers read again
        roll = rng.random()
        if roll < 0.75 or not model:
            with db.transaction():
                for _ in range(rng.randint(1, 4)):
                    label = rng.choice(labels[:4] if rng.random() < 0.6 else labels)
                    model[Item(size=rng.randint(0, 3), label=label).id] = label
        elif roll < 0.85:
            eid = rng.choice(sorted(model))
            label = rng.choice(labels)
            Item.load(eid).label = label
            model[eid] = label
        elif roll < 0.95:
            eid = rng.choice(sorted(model))
            Item.load(eid).delete()
            del model[eid]
        else:
            with pytest.raises(RuntimeError), db.transaction():
                Item(size=1, label=rng.choice(labels))
                raise RuntimeError("roll back")
        snapshots.append(dict(storage._data))
    for label in labels:
        assert Item.count_by("label", label) == sum(1 for v in model.values() if v == label)
    return snapshots


@pytest.mark.parametrize("seed", [3, 4])
def test_counts_kept_from_an_appended_run_store_what_entry_moved_stores(small_thresholds, monkeypatch, seed):
    """`entry_added` (the run an append noted decides; a stored count raised in its node's text) leaves
    storage byte for byte as `entry_moved` does, through its fallbacks: non-plain and long Text, numbers,
    runs at a leaf's edges, values becoming heavy, count trees of several nodes, a cold heap."""
    clock = SystemTime.get_instance()
    clock.set_time(1_700_000_000_000)       # the documents' timestamps alike in both runs
    try:
        fast = _workload(seed, False, monkeypatch)
        monkeypatch.undo()
        monkeypatch.setattr(value_counts, "HEAVY", 6)
        monkeypatch.setattr(value_counts, "LIGHT", 3)
        assert _workload(seed, True, monkeypatch) == fast
    finally:
        clock.clear_time()


def test_an_image_stored_in_mode_v_keeps_counting_in_mode_v_and_new_indexes_count_tails(monkeypatch):
    """A map written in count mode "v" (tests/engine/data/counts_mode_v.json says which commit wrote it)
    keeps mode "v" and its invariants through further changes once new indexes count in mode "t"; a field
    indexed later counts in mode "t"."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")
    saved = json.loads((Path(__file__).parent / "data" / "counts_mode_v.json").read_text())
    storage = MemoryMap(max_key_size=saved["max_key_size"], max_value_size=saved["max_value_size"])
    storage._data.update(saved["map"])
    db = Database.init(db_storage=storage, audit_enabled=False)
    Item = _define()
    model = {item.id: {"size": item.size, "label": item.label} for item in Item.instances()}
    _check(Item, db, model)
    rng = random.Random(5)
    for _ in range(60):
        op = rng.choice([("create", rng.randint(0, 3), rng.choice(LABELS), rng.randint(1, 8)),
                         ("update", rng.choice(sorted(model)), rng.randint(0, 3), rng.choice(LABELS)),
                         ("delete", rng.choice(sorted(model))), ("failed_tx", rng.choice(sorted(model)), 1)])
        _apply(Item, db, model, op)
        _check(Item, db, model)
    _check_counts(Item, model)
    schema = {"n": 1, "k": {"^size": 0, "^label": 0}, "v": ["^size", "^label"]}
    assert json.loads(storage.get("!k:1")) == schema

    type_registry.clear()

    class Item(Entity):     # noqa: F811 (the same type, with one more indexed field)
        size = Integer(indexed=True)
        label = String(indexed=True)
        rank = Integer(indexed=True)

    db = Database.init(db_storage=storage, audit_enabled=False)
    _rebuild(Item, None, 50)
    for eid in sorted(model)[:90]:
        Item.load(eid).rank = eid % 2
    schema = json.loads(storage.get("!k:1"))
    assert schema["v"] == ["^size", "^label"] and schema["t"] == ["^rank"]
    tc = db.type_code("Item")
    index = tree(db, tc, "rank", schema["k"]["^rank"])
    stored = value_counts.count_tree(db, tc, "rank", schema["k"]["^rank"]).items()
    assert {(value_counts.rank(v), v): c for v, c in stored} == nontails(index) != {}
    assert Item.count_by("rank", 1) == 45 and Item.count_by("rank", 0) == 45
    _check_counts(Item, model)
