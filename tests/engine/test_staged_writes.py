"""Staged writes through the closures a staged map and a database bind once (StagedMap's put and
put_whole, Database.put over its undo journal): the same limits, errors, journal entries and rollbacks
as the methods they stand for; a subclass overriding Database.put is still called."""

import pytest
from kybra_simple_db import Database, MemoryMap
from kybra_simple_db.db_errors import StorageLimitError
from kybra_simple_db.staged_store import StagedMap


def test_put_and_put_whole_check_sizes_and_stage_nothing_when_refused():
    staged = StagedMap(MemoryMap(), 16, 8)
    journal = []
    staged.put("k", "12345678", journal)
    assert staged.put_whole("w", "abcdefgh", journal) is True
    with pytest.raises(StorageLimitError, match="value for 'v' exceeds 8 bytes"):
        staged.put("v", "123456789", journal)
    with pytest.raises(StorageLimitError, match="value for 'u' exceeds 8 bytes"):
        staged.put("u", "ééééé", journal)     # 5 characters, 10 UTF-8 bytes
    staged.put("a", "éééé", journal)           # 8 bytes: fits
    assert staged.put_whole("x", "123456789", journal) is False
    assert staged.put_whole("y", "ééééé", journal) is False
    with pytest.raises(StorageLimitError, match="storage key"):
        staged.put("k" * 17, "v", journal)
    with pytest.raises(StorageLimitError, match="storage key"):
        staged.put_whole("é" * 9, "v", journal)
    assert staged.pending == {"k": "12345678", "w": "abcdefgh", "a": "éééé"} and journal == []
    staged.put("k", "again", journal)          # staged before: journaled with its earlier value
    assert staged.put_whole("w", "again", journal) is True
    assert journal == [(staged, "k", "12345678"), (staged, "w", "abcdefgh")]


def test_database_put_rolls_back_with_its_unit_and_commits_with_the_outermost():
    storage = MemoryMap()
    db = Database(db_storage=storage, audit_enabled=False)
    outer = db.begin()
    db.put("a", "1")
    inner = db.begin()
    db.put("a", "2")      # staged before the inner unit: restored by the journal
    db.put("b", "3")      # first staged in the inner unit: cut off
    db.end(inner, False)
    assert db.get("a") == "1" and db.get("b") is None
    db.end(outer, True)
    assert storage.get("a") == "1" and storage.get("b") is None
    mark = db.begin()
    db.put("c", "4")
    db.end(mark, False)
    assert db.get("c") is None and storage.get("c") is None


def test_a_subclass_overriding_put_is_called():
    class Logged(Database):
        def __init__(self, *args, **kwargs):
            self.log = []
            super().__init__(*args, **kwargs)

        def put(self, key, value):
            self.log.append(key)
            super().put(key, value)

    db = Logged(db_storage=MemoryMap(), audit_enabled=False)
    mark = db.begin()
    db.put("k", "v")
    db.end(mark, True)
    assert "k" in db.log and db.get("k") == "v"
