"""The storage contract (kybra_simple_db.storage_contract.KeyValueMap), checked on every map the engine
runs over: the in-memory map, the counting wrappers (engine and benchmarks) and localnet's stable map
reached through Kybra's own `StableBTreeMap` class."""

import builtins

import pytest
from kybra_simple_db import CountingMap, Database, Entity, Integer, MemoryMap, String
from kybra_simple_db.db_errors import StorageLimitError
from kybra_simple_db.storage_contract import KeyValueMap, declared_limit

from benchmarks.workload.counting_map import Counters, ValueTooLarge
from benchmarks.workload.counting_map import CountingMap as WorkloadMap
from localnet.stable_memory import StableTrap

KEY_LIMIT = 100
VALUE_LIMIT = 300
CANISTER = (
    "from kybra import StableBTreeMap, query, text\n\n"
    "data = StableBTreeMap[text, text]"
    f"(memory_id=0, max_key_size={KEY_LIMIT}, max_value_size={VALUE_LIMIT})\n\n\n"
    "@query\ndef size() -> text:\n    return str(data.len())\n"
)


class _StableBridge:
    """What localnet's host gives Kybra's StableBTreeMap: calls forwarded to a StableMemory."""

    def __init__(self, memory):
        self.memory = memory

    def __getattr__(self, name):
        prefix = "stable_b_tree_map_"
        if not name.startswith(prefix):
            raise AttributeError(name)
        return getattr(self.memory, name[len(prefix):])


def _localnet_map(monkeypatch, tmp_path):
    pytest.importorskip("kybra")
    from kybra import StableBTreeMap

    from localnet.source_interface import read_interface
    from localnet.stable_memory import StableMemory

    source = tmp_path / "main.py"
    source.write_text(CANISTER)
    memory = StableMemory(read_interface(source)[0], [])
    monkeypatch.setattr(builtins, "_kybra_ic", _StableBridge(memory), raising=False)
    return StableBTreeMap(memory_id=0, max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT)


MAPS = {
    "memory": lambda mp, tmp: MemoryMap(max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT),
    "counting": lambda mp, tmp: CountingMap(MemoryMap(max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT)),
    "workload": lambda mp, tmp: WorkloadMap(Counters(), max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT),
    "localnet": _localnet_map,
}


@pytest.fixture(params=sorted(MAPS))
def kv(request, monkeypatch, tmp_path) -> KeyValueMap:
    return MAPS[request.param](monkeypatch, tmp_path)


def test_every_map_has_the_protocol_methods(kv):
    for name in ("get", "insert", "remove", "contains_key", "len", "is_empty", "keys", "values", "items"):
        assert callable(getattr(kv, name)), name


def test_get_insert_remove_and_sizes(kv):
    assert kv.get("a") is None and not kv.contains_key("a") and kv.is_empty() and kv.len() == 0
    assert kv.insert("a", "1") is None
    assert kv.insert("a", "2") == "1"
    assert kv.get("a") == "2" and kv.contains_key("a") and not kv.is_empty() and kv.len() == 1
    assert kv.remove("a") == "2"
    assert kv.remove("a") is None
    assert kv.get("a") is None and kv.len() == 0


def test_walks_are_in_key_order_and_text_round_trips(kv):
    for key in ("b", "a:2", "a:10", "é", "Z"):
        kv.insert(key, "v" + key + " ✓")
    expected = sorted(["b", "a:2", "a:10", "é", "Z"], key=lambda k: k.encode("utf-8"))
    assert list(kv.keys()) == expected
    assert list(kv.values()) == ["v" + k + " ✓" for k in expected]
    assert [tuple(item) for item in kv.items()] == [(k, "v" + k + " ✓") for k in expected]


OVERSIZE = (StorageLimitError, ValueTooLarge, StableTrap)   # each map's own error (a trap on the IC)


def test_oversize_writes_fail_and_change_nothing(kv):
    kv.insert("k", "small")
    with pytest.raises(OVERSIZE):
        kv.insert("k" * (KEY_LIMIT + 1), "v")
    with pytest.raises(OVERSIZE):
        kv.insert("k", "é" * VALUE_LIMIT)
    assert kv.get("k") == "small" and kv.len() == 1


def test_the_engine_runs_and_restores_over_every_map(kv):
    class Item(Entity):
        __alias__ = "name"
        name = String(max_length=10)
        size = Integer(indexed=True)

    db = Database.init(db_storage=kv, max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT)
    assert db.key_limit <= KEY_LIMIT
    item = Item(name="one", size=3)
    item.size = 4
    again = Database.init(db_storage=kv, max_key_size=KEY_LIMIT, max_value_size=VALUE_LIMIT)
    loaded = Item.by_alias("one")
    assert loaded is not None and loaded.id == item.id and loaded.size == 4
    assert [i.name for i in Item.find_all_by("size", 4)] == ["one"]
    assert again.audit_length() == 2


def test_declared_limits_follow_the_contract():
    class Undeclared:
        pass

    assert declared_limit(MemoryMap(), "max_key_size", 100) is None       # declared unlimited
    assert declared_limit(MemoryMap(max_key_size=7), "max_key_size", 100) == 7
    assert declared_limit(Undeclared(), "max_key_size", 100) == 100      # Kybra's map declares nothing
