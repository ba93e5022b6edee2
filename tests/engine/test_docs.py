"""Every `python` block of docs/engine.md runs, each in a fresh database."""

import builtins
import re
from pathlib import Path

import pytest
from kybra_simple_db import Database, MemoryMap, type_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


class FakePrincipal:
    def __init__(self, text):
        self.text = text

    def to_str(self):
        return self.text


class FakeKybraIc:
    """The few `_kybra_ic` calls a Kybra module makes under CPython: stable maps, time, caller."""

    def __init__(self):
        self.maps = {}
        self.clock = 1_700_000_000_000_000_000

    def _map(self, memory_id):
        return self.maps.setdefault(memory_id, {})

    def stable_b_tree_map_get(self, memory_id, key):
        return self._map(memory_id).get(key)

    def stable_b_tree_map_insert(self, memory_id, key, value):
        previous = self._map(memory_id).get(key)
        self._map(memory_id)[key] = value
        return previous

    def stable_b_tree_map_remove(self, memory_id, key):
        return self._map(memory_id).pop(key, None)

    def stable_b_tree_map_contains_key(self, memory_id, key):
        return key in self._map(memory_id)

    def stable_b_tree_map_len(self, memory_id):
        return len(self._map(memory_id))

    def stable_b_tree_map_keys(self, memory_id):
        return sorted(self._map(memory_id))

    def stable_b_tree_map_items(self, memory_id):
        return sorted(self._map(memory_id).items())

    def time(self):
        self.clock += 1000
        return self.clock

    def caller(self):
        return FakePrincipal("aaaaa-aa")


def test_doc_has_examples():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index, monkeypatch):
    code = BLOCKS[index]
    type_registry.clear()
    Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=1000))
    namespace = {"__name__": f"engine_doc_{index}"}
    if "from kybra import" in code:
        fake = FakeKybraIc()
        monkeypatch.setattr(builtins, "_kybra_ic", fake, raising=False)
        exec(compile(code, f"engine.md block {index}", "exec"), namespace)
        namespace["init_"]()
        assert namespace["add_note"]("hello") == "1"
        namespace["post_upgrade_"]()
        assert namespace["note"]("1") == "hello"
        stored = fake.maps[1]["1:1"]
        assert '"o":"aaaaa-aa"' in stored and fake.maps[2]["0"].startswith("[")
        return
    exec(compile(code, f"engine.md block {index}", "exec"), namespace)
