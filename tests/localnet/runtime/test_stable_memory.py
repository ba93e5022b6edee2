"""StableMemory behaves like an ordered map with Kybra's size limits, and records exactly its writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localnet.source_interface import read_interface
from localnet.stable_memory import StableMemory, StableTrap

STORE = Path(__file__).resolve().parents[1] / "sample" / "store" / "main.py"
IFACE = read_interface(STORE)[0]
KV, HISTORY = 0, 1

ops = st.lists(
    st.tuples(st.sampled_from(["insert", "remove"]), st.text(max_size=6), st.text(max_size=8)), max_size=40
)


@settings(max_examples=80, deadline=None)
@given(ops)
def test_matches_an_ordered_dict_and_replays_from_its_writes(steps):
    mem = StableMemory(IFACE, [])
    model: dict[str, str] = {}
    for op, key, value in steps:
        if op == "insert":
            assert mem.insert(KV, key, value) == model.get(key)
            model[key] = value
        else:
            assert mem.remove(KV, key) == model.pop(key, None)
    ordered = sorted(model, key=str.encode)
    assert mem.keys(KV) == ordered
    assert mem.items(KV) == [(k, model[k]) for k in ordered]
    assert mem.len(KV) == len(model) and mem.is_empty(KV) == (not model)
    rows = [(m, k, v) for (m, k), v in mem.take_writes().items() if v is not None]
    assert StableMemory(IFACE, rows).items(KV) == mem.items(KV)
    assert mem.take_writes() == {}


def test_sizes_are_checked_on_the_candid_encoding():
    mem = StableMemory(IFACE, [])
    mem.insert(KV, "k" * 24, "v")  # 8 bytes of Candid message header + 24 = 32 = max_key_size
    with pytest.raises(StableTrap, match="Key too large: 33 bytes"):
        mem.insert(KV, "k" * 25, "v")
    with pytest.raises(StableTrap, match="Value too large"):
        mem.insert(KV, "k", "v" * 100)
    assert mem.keys(KV) == ["k" * 24]


def test_record_values_are_copies_and_wrong_types_are_type_errors():
    mem = StableMemory(IFACE, [])
    mem.insert(HISTORY, 1, {"key": "a", "value": "b"})
    got = mem.get(HISTORY, 1)
    got["key"] = "changed"
    assert mem.get(HISTORY, 1) == {"key": "a", "value": "b"}
    with pytest.raises(TypeError, match="missing field 'value'"):
        mem.insert(HISTORY, 2, {"key": "a"})
    with pytest.raises(TypeError):
        mem.insert(HISTORY, "not a nat64", {"key": "a", "value": "b"})
    with pytest.raises(LookupError, match="memory_id 9"):
        mem.get(9, 1)
    assert mem.keys(HISTORY) == [1]
