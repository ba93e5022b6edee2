"""post_upgrade's read-ahead (restart_warmup.warm_types): after it, the first create of each type reads
no index header or inner node from storage (only the leaf it changes), it writes nothing, and it stops at
its node and instruction bounds however large the database is."""

import pytest
from kybra_simple_db import MemoryMap, ordered_index, restart_warmup
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


def test_the_first_create_after_the_read_ahead_reads_no_header_or_inner_node(upgraded):
    storage, db, Item = upgraded
    trees = _tree_keys(storage, db, Item)
    wanted = _headers_and_inner(trees)
    assert any(v.startswith("I") and k.count(".") for k, v in trees.items() if "^" in k)
    read = restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    assert read == len(wanted) + 1  # and qty's count tree header, absent (no qty value is heavy)
    assert set(storage.read_keys) & set(trees) == wanted, "headers and inner nodes only, no leaf"
    for key in wanted - {k for k in wanted if "." not in k}:
        cached = ordered_index._CACHE[key]
        assert cached[0] == trees[key] and cached[3] is not None and cached[4] is not None
    assert storage.writes == 0, "the read-ahead writes nothing"
    storage.read_keys.clear()
    Item(sku="new", name="n4", qty=5000)
    assert not set(storage.read_keys) & wanted
    assert Item.count_by("name", "n4") == 79
    assert [e.qty for e in Item.find_all_by("qty", 5000)] == [5000]


def test_the_read_ahead_gives_the_same_answers_as_a_cold_heap(upgraded):
    storage, db, Item = upgraded
    restart_warmup.warm_types(db, lambda: 0, 10**12, 1000)
    warm = [Item.count_by("name", "n" + str(v)) for v in range(9)]
    Item(sku="w", name="n2", qty=-1)
    warm_after = (Item.count_by("name", "n2"), sorted(e._id for e in Item.find_all_by("name", "n2")))
    cold_storage = LoggingMap(MemoryMap(1, 100, 300))
    _, Cold = _open(cold_storage)
    for i in range(700):
        Cold(sku="s" + str(i), name="n" + str(i % 9), qty=i)
    _open(cold_storage)
    cold = [Cold.count_by("name", "n" + str(v)) for v in range(9)]
    assert warm == cold
    Cold(sku="w", name="n2", qty=-1)
    assert warm_after == (Cold.count_by("name", "n2"), sorted(e._id for e in Cold.find_all_by("name", "n2")))
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
