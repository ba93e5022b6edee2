"""The storage contract's optional `host_functions` (Kybra's stable maps in the canister): a map offering
them is read and written by the engine through those functions with its memory id, never through its
own get/insert/remove/contains_key; with the same stored bytes, errors, all-or-nothing commits and cache
upkeep as a map used through its methods, which every map without them still is."""

import pytest
from kybra_simple_db import Database, MemoryMap, staged_store
from kybra_simple_db.db_errors import StorageLimitError
from kybra_simple_db.staged_store import DirectStagedMap, DirectStages, StagedMap, Stages, commit, staged_map
from test_node_cache import _open


class Host:
    """Stand-in for Kybra's `_kybra_ic`: stable maps by memory id, each function taking the id first."""

    def __init__(self):
        self.maps = {}
        self.calls = []
        self.refuse = None      # a key whose insert traps

    def stable_b_tree_map_get(self, memory_id, key):
        self.calls.append(("get", memory_id))
        return MemoryMap.get(self.maps[memory_id], key)

    def stable_b_tree_map_insert(self, memory_id, key, value):
        self.calls.append(("insert", memory_id))
        if key == self.refuse:
            raise RuntimeError("trap: Value too large")
        return MemoryMap.insert(self.maps[memory_id], key, value)

    def stable_b_tree_map_remove(self, memory_id, key):
        self.calls.append(("remove", memory_id))
        return MemoryMap.remove(self.maps[memory_id], key)

    def stable_b_tree_map_contains_key(self, memory_id, key):
        self.calls.append(("contains_key", memory_id))
        return MemoryMap.contains_key(self.maps[memory_id], key)


class HostMap(MemoryMap):
    """A map like Kybra's StableBTreeMap in the canister: its data lives in the host, its key/value methods
    would go through the host too (counted, to show the engine does not call them)."""

    def __init__(self, host: Host, memory_id: int):
        super().__init__(memory_id, 100, 1000)
        host.maps[memory_id] = self
        self.method_calls = 0
        self.host_functions = (memory_id, host.stable_b_tree_map_get, host.stable_b_tree_map_insert,
                               host.stable_b_tree_map_remove, host.stable_b_tree_map_contains_key)

    def method(self, name, *args):
        self.method_calls += 1
        return getattr(MemoryMap, name)(self, *args)

    def get(self, key):
        return self.method("get", key)

    def insert(self, key, value):
        return self.method("insert", key, value)

    def remove(self, key):
        return self.method("remove", key)

    def contains_key(self, key):
        return self.method("contains_key", key)


def _workload(Item) -> list:
    """Creates, updates, reads and deletes; what each read gave."""
    seen = []
    for i in range(12):
        Item(sku="s" + str(i), name="n" + str(i % 3), qty=i)
    for i in range(0, 12, 2):
        item = Item.load(i + 1)
        item.qty = 100 + i     # (saved at once)
    Item.load(5).delete()
    seen.append([(item._id, item.sku, item.qty) for item in Item.instances()])
    seen.append(Item.count_by("name", "n1"))
    seen.append(Item["s7"].qty)
    return seen


def _stored(storage) -> list:
    return list(MemoryMap.items(storage))


def test_a_map_offering_host_functions_is_used_through_them_with_the_same_results():
    plain_db, plain_audit = MemoryMap(0, 100, 1000), MemoryMap(1, 100, 1000)
    db, Item = _open(plain_db, plain_audit)
    assert type(db._data) is StagedMap and type(db._stages) is Stages
    expected = _workload(Item)

    host = Host()
    data, audit = HostMap(host, 0), HostMap(host, 1)
    db, Item = _open(data, audit)
    assert type(db._data) is DirectStagedMap and type(db._stages) is DirectStages
    data.method_calls = 0   # (opening reads the engine's metadata through the map's method)
    assert _workload(Item) == expected
    assert _stored(data) == _stored(plain_db) and _stored(audit) == _stored(plain_audit)
    kinds = {kind for kind, _ in host.calls}
    assert {"get", "insert", "remove"} <= kinds
    assert {memory_id for _, memory_id in host.calls} == {0, 1}
    assert data.method_calls == 0 and audit.method_calls == 0


def test_maps_without_host_functions_keep_the_method_path():
    host = Host()
    data = HostMap(host, 0)
    data.host_functions = None      # offered as None: the methods
    db, Item = _open(data, MemoryMap(1, 100, 1000))
    assert type(db._data) is StagedMap and type(db._stages) is Stages
    assert Stages.commit is commit
    Item(sku="a", name="n", qty=1)
    assert Item["a"].qty == 1
    assert host.calls == [] and data.method_calls > 0


def test_beside_a_map_without_host_functions_one_with_them_is_read_through_them_and_written_by_methods():
    """`direct_commit` serves only stages that all offer host functions; else `commit` writes them all."""
    host = Host()
    data, audit = HostMap(host, 0), MemoryMap(1, 100, 1000)
    db, Item = _open(data, audit)
    assert type(db._data) is DirectStagedMap and type(db._stages) is Stages
    Item(sku="a", name="n", qty=1)
    assert Item["a"].qty == 1 and audit.len() > 0
    assert ("get", 0) in host.calls and ("insert", 0) not in host.calls and data.method_calls > 0


def test_a_malformed_host_functions_offer_is_refused():
    data = MemoryMap(0, 100, 1000)
    data.host_functions = (0, data.get)
    with pytest.raises(TypeError, match="host_functions must be"):
        Database(db_storage=data)


def _limit_errors(staged) -> list:
    errors = []
    for key, value in (("k" * 101, "v"), ("k", "v" * 1001), ("k", "\u00e9" * 501)):
        with pytest.raises(StorageLimitError) as raised:
            staged.put(key, value, [])
        errors.append(str(raised.value))
    assert staged.pending == {} and staged.put_whole("k", "v" * 1001, []) is False
    return errors


def test_oversize_keys_and_values_are_refused_before_storage_as_on_the_method_path():
    host = Host()
    direct = staged_map(HostMap(host, 0), 100, 1000)
    assert type(direct) is DirectStagedMap
    assert _limit_errors(direct) == _limit_errors(staged_map(MemoryMap(0, 100, 1000), 100, 1000))
    assert host.calls == []


class RefusingMap(MemoryMap):
    """A map used through its methods whose insert of one key fails as the host's does."""

    refuse = None

    def insert(self, key, value):
        if key == self.refuse:
            raise RuntimeError("trap: Value too large")
        return super().insert(key, value)


def _refused_update(data, audit, refuse) -> tuple:
    """Five items, then an update whose document write is refused: (the error, stored data, cache)."""
    db, Item = _open(data, audit)
    for i in range(5):
        Item(sku="s" + str(i), name="n", qty=i)
    assert db._data.cache
    item = Item["s2"]
    refuse(next(key for key, value in MemoryMap.items(data) if '"s2"' in value))
    with pytest.raises(RuntimeError, match="Value too large") as raised:
        item.qty = 99
    assert db._data.cache == {} and db._data.pending == {} and db.depth == 0
    refuse(None)
    for key, value in _stored(data):
        assert db._data.get_cached(key) == value
    return str(raised.value), _stored(data), _stored(audit)


def test_a_host_trap_during_commit_propagates_as_on_the_method_path():
    """A refused write (on the IC a trap, which rolls the message back; here an exception) leaves
    the same stored state, nothing pending and only storage's values cached, on both paths."""
    plain = RefusingMap(0, 100, 1000)
    expected = _refused_update(plain, MemoryMap(1, 100, 1000), lambda key: setattr(plain, "refuse", key))
    host = Host()
    got = _refused_update(HostMap(host, 0), HostMap(host, 1), lambda key: setattr(host, "refuse", key))
    assert got == expected


def test_the_direct_cache_stays_bounded_and_forgets(monkeypatch):
    monkeypatch.setattr(staged_store, "CACHE_SIZE", 8)
    host = Host()
    staged = staged_map(HostMap(host, 0), 100, 1000)
    for i in range(50):
        MemoryMap.insert(host.maps[0], "k" + str(i), str(i))
        assert staged.get_cached("k" + str(i)) == str(i)
        assert len(staged.cache) <= 8
    assert staged.get_cached("absent") is None and staged.contains("k49") and not staged.contains("absent")
    staged.forget_cached()
    assert staged.cache == {}
    MemoryMap.insert(host.maps[0], "k49", "new")
    assert staged.get_cached("k49") == "new" and staged.get("k49") == "new"
