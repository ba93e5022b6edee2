"""post_upgrade's read-ahead (restart_warmup.warm_types): after it, the first create of each type reads
no index header or inner node from storage (only the leaf it changes), it writes nothing, and it stops at
its node and instruction bounds however large the database is."""

import pytest
from kybra_simple_db import MemoryMap, json_text, ordered_index, restart_warmup
from test_node_cache import LoggingMap
from test_node_cache import _open as _open_items


def _open(storage):
    """test_node_cache's database and `Item` over `storage` as an upgrade opens them: the heap's node
    caches empty."""
    ordered_index.forget_cached()
    return _open_items(storage)


@pytest.fixture
def upgraded():
    storage = LoggingMap(MemoryMap(1, 100, 300))
    _, Item = _open(storage)
    for i in range(700):
        Item(sku="s" + str(i), name="n" + str(i % 9), qty=i)
    db, Item = _open(storage)
    storage.read_keys.clear()
    storage.reset()
    return storage, db, Item


def _tree_keys(storage, db, Item) -> dict:
    """{key: stored text} of Item's index and count trees (headers `<tc>^field`, `<tc>+field`, nodes)."""
    tc = str(db.type_code(Item.__type_name__))
    return {k: v for k, v in storage.inner._data.items() if k.startswith((tc + "^", tc + "+"))}


def _headers_and_inner(trees: dict) -> set:
    return {k for k, v in trees.items() if "." not in k or v.startswith("I")}


def test_the_read_ahead_reads_every_header_and_inner_node_and_only_leaves_where_text_values_end(upgraded):
    storage, db, Item = upgraded
    trees = _tree_keys(storage, db, Item)
    wanted = _headers_and_inner(trees)
    assert any(v.startswith("I") and k.count(".") for k, v in trees.items() if "^" in k)
    read = restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    seen = set(storage.read_keys) & set(trees)
    assert wanted <= seen
    assert read == len(seen) + 1  # and qty's count tree header, absent (no qty value is heavy)
    for key in wanted - {k for k in wanted if "." not in k}:
        cached = ordered_index._CACHE[key]
        assert cached[0] == trees[key] and cached[3] is not None and cached[4] is not None
    leaves = seen - wanted
    assert all(trees[k].startswith("L") for k in leaves)
    name_leaves = {k for k, v in trees.items() if k.startswith("1^name.") and v.startswith("L")}
    assert 0 < len(leaves & name_leaves) < len(name_leaves) / 2, "a few leaves: where a value's run ends"
    assert len({k for k in leaves if k.startswith("1^qty.")}) <= 1, "no Int leaf (the last one may hold Text)"
    hints = ordered_index._TAILS["1^name"]
    assert len(hints) >= 4
    for value, (key, _path) in hints.items():
        last = trees[key].rpartition("\x1es" + value + "\x1f")[2]
        assert "\x1e" in last, "the value's last entry is followed by another value's in that leaf"
    assert storage.writes == 0, "the read-ahead writes nothing"


def test_the_read_ahead_keeps_each_type_s_field_names_as_json(upgraded):
    _, db, _ = upgraded
    json_text._KEY_HEADS.clear()
    json_text._KEY_PIECES.clear()
    restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    assert {"sku", "name", "qty"} <= set(json_text._KEY_HEADS)


def test_the_first_create_of_a_value_after_the_read_ahead_reads_no_index_or_count_key(upgraded):
    storage, db, Item = upgraded
    trees = _tree_keys(storage, db, Item)
    restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    for value in ordered_index._TAILS["1^name"]:
        storage.read_keys.clear()
        Item(sku="new" + value, name=value, qty=5000)
        assert not set(storage.read_keys) & set(trees)
    assert Item.count_by("name", "n4") == 79
    assert [e.qty for e in Item.find_all_by("qty", 5000)] == [5000] * len(ordered_index._TAILS["1^name"])


def test_the_read_ahead_gives_the_same_answers_as_a_cold_heap(upgraded):
    storage, db, Item = upgraded
    restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    warm = [Item.count_by("name", "n" + str(v)) for v in range(9)]
    for v in range(9):
        Item(sku="w" + str(v), name="n" + str(v), qty=-v)
    warm_after = [Item.count_by("name", "n" + str(v)) for v in range(9)]
    warm_ids = sorted(e._id for e in Item.find_all_by("name", "n2"))
    cold_storage = LoggingMap(MemoryMap(1, 100, 300))
    _, Cold = _open(cold_storage)
    for i in range(700):
        Cold(sku="s" + str(i), name="n" + str(i % 9), qty=i)
    _open(cold_storage)
    cold = [Cold.count_by("name", "n" + str(v)) for v in range(9)]
    assert warm == cold
    for v in range(9):
        Cold(sku="w" + str(v), name="n" + str(v), qty=-v)
    assert warm_after == [Cold.count_by("name", "n" + str(v)) for v in range(9)]
    assert warm_ids == sorted(e._id for e in Cold.find_all_by("name", "n2"))
    assert storage.inner._data == cold_storage.inner._data


def test_the_read_ahead_stops_at_its_node_bound(upgraded):
    storage, db, _ = upgraded
    assert restart_warmup.warm_types(db, lambda: 0, 10**12, 3) == 3
    assert len(ordered_index._CACHE) <= 3
    assert storage.writes == 0


def test_the_read_ahead_stops_at_its_instruction_bound(upgraded):
    storage, db, Item = upgraded
    calls = []

    def meter() -> int:
        calls.append(1)
        return len(calls) * 1_000

    read = restart_warmup.warm_types(db, meter, 5_000, 1000)
    assert 0 < read < len(_headers_and_inner(_tree_keys(storage, db, Item)))
    assert meter() <= 10_000, "no read after the meter passed the bound"
    assert restart_warmup.warm_types(db, lambda: 10**9, 5_000, 1000) == 0
    Item(sku="after", name="n1", qty=7000)  # a partly warmed heap answers as a cold one
    assert Item.count_by("name", "n1") == 79
