"""The benchmark's counting map: exact counts, Kybra's map semantics, size limits enforced."""

import pytest

from benchmarks.workload.counting_map import Counters, CountingMap, ValueTooLarge


def test_counts_reads_writes_bytes_and_scans():
    counters = Counters()
    m = CountingMap(counters)
    assert m.insert("k", "vé") is None  # 1 + 3 UTF-8 bytes
    assert m.insert("k", "w") == "vé"
    assert m.get("k") == "w" and m.get("missing") is None
    assert m.contains_key("k") and "k" in m
    assert m.remove("k") == "w" and m.remove("k") is None
    m.insert("a", "1")
    assert m.keys() == ["a"] and m.items() == [("a", "1")] and m.values() == ["1"]
    assert counters.snapshot() == (4, 5, 4 + 2 + 2, 3)


def test_empty_map_is_truthy_so_no_package_replaces_it():
    m = CountingMap(Counters())
    assert m.len() == 0 and len(m) == 0 and m.is_empty()
    assert bool(m) is True


def test_oversize_key_or_value_is_refused_and_nothing_changes():
    counters = Counters()
    m = CountingMap(counters, max_key_size=3, max_value_size=4)
    m.insert("abc", "1234")
    with pytest.raises(ValueTooLarge, match="max_value_size 4"):
        m.insert("abc", "12345")
    with pytest.raises(ValueTooLarge, match="max_key_size 3"):
        m.insert("abcd", "1")
    assert m.get("abc") == "1234" and m.len() == 1
    assert counters.writes == 1


def test_limit_counts_utf8_bytes_not_characters():
    m = CountingMap(Counters(), max_value_size=3)
    m.insert("k", "abc")
    with pytest.raises(ValueTooLarge):
        m.insert("k", "éé")  # 2 characters, 4 bytes
