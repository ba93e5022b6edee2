"""The heap cache of the engine's own structures (StagedMap.get_cached: index nodes and headers, count
trees): a warm database reads none of them from storage, and whatever happens (commit, nested
rollback, discard, an exception mid-operation, a refused storage write, a reopen) every cached value
is what storage holds."""

import pytest
from kybra_simple_db import Database, Entity, Integer, MemoryMap, String, staged_store, type_registry
from kybra_simple_db.memory_map import CountingMap


class LoggingMap(CountingMap):
    """A CountingMap that also notes the keys read, and can refuse writes of one key."""

    def __init__(self, inner):
        super().__init__(inner)
        self.read_keys = []
        self.refuse = None

    def get(self, key):
        self.read_keys.append(key)
        return super().get(key)

    def insert(self, key, value):
        if key == self.refuse:
            raise OSError("storage refused the write")
        return super().insert(key, value)


def _open(storage, audit=None):
    """A database over `storage` (and `audit`, else a new MemoryMap) with the `Item` type."""
    type_registry.clear()
    Database._instance = None
    db = Database.init(db_storage=storage, db_audit=MemoryMap(2, 100, 1000) if audit is None else audit,
                       clock=lambda: 1_000)

    class Item(Entity):
        __alias__ = "sku"
        sku = String(max_length=30)
        name = String(indexed=True)
        qty = Integer(indexed=True)

    return db, Item


def _engine_keys(db, Item) -> list:
    """The keys of Item's index trees and count trees (header `<tc>^field`, `<tc>+field`, their nodes)."""
    tc = str(db.type_code(Item.__type_name__))
    return [k for k in db._storage.inner.keys() if k.startswith((tc + "^", tc + "+"))]


def _assert_cache_is_storage(db) -> None:
    cache = db._data.cache
    assert cache, "the cache holds the engine's index keys once they are read"
    for key, value in cache.items():
        assert value == db._storage.inner.get(key), key


@pytest.fixture
def opened():
    storage = LoggingMap(MemoryMap(1, 100, 1000))
    db, Item = _open(storage)
    for i in range(40):
        Item(sku="s" + str(i), name="n" + str(i % 7), qty=i)
    return storage, db, Item


def test_a_warm_create_reads_no_index_or_count_key_from_storage(opened):
    storage, db, Item = opened
    storage.read_keys.clear()
    Item(sku="new", name="n3", qty=100)
    engine_keys = set(_engine_keys(db, Item))
    assert engine_keys
    assert not engine_keys & set(storage.read_keys)
    assert Item.count_by("name", "n3") == 7
    _assert_cache_is_storage(db)


def test_a_cached_read_after_commit_gives_the_committed_value(opened):
    storage, db, Item = opened
    before = {key: db.get_cached(key) for key in _engine_keys(db, Item)}
    for i in range(60):
        Item(sku="more" + str(i), name="m", qty=1000 + i)
    changed = [key for key, value in before.items() if storage.inner.get(key) != value]
    assert changed
    storage.read_keys.clear()
    for key in before:
        assert db.get_cached(key) == storage.inner.get(key)
    assert storage.read_keys == [], "commit wrote the new values through to the cache"
    _assert_cache_is_storage(db)


def test_pending_writes_win_over_the_cache(opened):
    _, db, Item = opened
    key = _engine_keys(db, Item)[0]
    stored = db.get_cached(key)
    with db.transaction():
        db.put(key, "1,2,3")
        assert db.get_cached(key) == "1,2,3"
        db.put(key, stored)
    assert db.get_cached(key) == stored


def test_a_nested_rollback_leaves_the_cache_equal_to_storage(opened):
    _, db, Item = opened
    with db.transaction():
        Item(sku="kept", name="k", qty=500)
        try:
            with db.operation():
                for i in range(30):
                    Item(sku="gone" + str(i), name="g", qty=600 + i)
                raise RuntimeError("abort the nested unit only")
        except RuntimeError:
            pass
    _assert_cache_is_storage(db)
    assert Item.count_by("name", "g") == 0
    assert Item.count_by("name", "k") == 1


def test_discard_and_an_exception_mid_operation_leave_the_cache_equal_to_storage(opened):
    _, db, Item = opened
    with pytest.raises(RuntimeError):
        with db.transaction():
            for i in range(30):
                Item(sku="x" + str(i), name="n1", qty=700 + i)
            raise RuntimeError("a trap-like failure after the index writes were staged")
    _assert_cache_is_storage(db)
    assert Item.count_by("name", "n1") == 6
    Item(sku="after", name="n1", qty=800)
    assert Item.count_by("name", "n1") == 7
    _assert_cache_is_storage(db)


def test_a_refused_storage_write_during_commit_drops_the_cache(opened):
    storage, db, Item = opened
    Item(sku="warm", name="n2", qty=900)
    assert db._data.cache
    storage.refuse = "zz-last"
    with pytest.raises(OSError):
        with db.transaction():
            Item(sku="half", name="n2", qty=901)    # index writes come before the refused key
            db.put("zz-last", "x")
    assert db._data.cache == {}
    storage.refuse = None
    # storage now holds part of the commit (a real trap would roll storage back): reads follow storage
    for key in _engine_keys(db, Item):
        assert db.get_cached(key) == storage.inner.get(key)


def test_a_reopened_database_starts_with_an_empty_cache_and_reads_storage(opened):
    storage, db, Item = opened
    assert db._data.cache
    db2, Item2 = _open(storage)
    assert db2._data.cache == {}
    Item2(sku="reopened", name="n0", qty=1)
    assert Item2.count_by("name", "n0") == 7
    _assert_cache_is_storage(db2)


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(staged_store, "CACHE_SIZE", 8)
    staged = staged_store.StagedMap(MemoryMap(1, 100, 1000), 100, 1000)
    for i in range(50):
        staged.raw.insert("k" + str(i), str(i))
        assert staged.get_cached("k" + str(i)) == str(i)
        assert len(staged.cache) <= 8
    assert staged.get_cached("absent") is None


def test_a_database_overriding_get_reads_through_it():
    class Spy(Database):
        def get(self, key):
            return "spied"

    db = Spy(db_storage=MemoryMap(1, 100, 1000))
    assert db.get_cached("anything") == "spied"


def test_forget_cached_reads_storage_again(opened):
    storage, db, Item = opened
    assert db._data.cache
    db.forget_cached()
    assert db._data.cache == {}
    storage.read_keys.clear()
    Item(sku="cold", name="n4", qty=2)
    assert set(_engine_keys(db, Item)) & set(storage.read_keys)
    _assert_cache_is_storage(db)


def test_a_long_text_values_count_key_is_cached_and_stays_equal_to_storage(opened):
    storage, db, Item = opened
    long_name = "L" * 300       # longer than the index keeps: counted under its own key
    for i in range(3):
        Item(sku="long" + str(i), name=long_name, qty=i)
    tc = str(db.type_code(Item.__type_name__))
    count_keys = [k for k in storage.inner.keys() if k.startswith(tc + "=name")]
    assert len(count_keys) == 1
    assert db._data.cache.get(count_keys[0]) == "3"
    with pytest.raises(RuntimeError):
        with db.transaction():
            Item(sku="long-gone", name=long_name, qty=9)
            raise RuntimeError("rolled back")
    storage.read_keys.clear()
    assert Item.count_by("name", long_name) == 3
    Item(sku="long3", name=long_name, qty=3)
    assert Item.count_by("name", long_name) == 4
    assert count_keys[0] not in storage.read_keys
    _assert_cache_is_storage(db)
