"""`Database.run`, the unit every canister update runs in: commits what its action stored when it returns,
stores nothing when it raises (also nested in a transaction, and when the commit itself fails), and
leaves the unit depth as it found it."""

import pytest
from checked_helpers import item_db, stored_maps
from kybra_simple_db import Database, MemoryMap, StorageLimitError


def test_run_commits_what_its_action_stored_and_gives_its_result():
    db, item_class, storage, audit = item_db()
    result = db.run(lambda name: item_class.create_checked({"name": name, "sku": "s-2"}).id, ("b",))
    assert result == 2 and db.depth == 0
    assert storage.get(next(k for k in dict(storage.items()) if k.endswith("@sku=\"s-2\""))) == "2"
    assert item_class.by_alias("s-2").id == 2


def test_run_stores_nothing_when_its_action_raises():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)

    def make_then_fail():
        item_class.create_checked({"name": "b", "sku": "s-2"})
        raise ValueError("refused after the write")

    with pytest.raises(ValueError):
        db.run(make_then_fail, ())
    assert stored_maps(storage, audit) == before and db.depth == 0
    assert item_class.by_alias("s-2") is None and item_class.create({"name": "c"}).id == 2


def test_run_nested_in_a_transaction_undoes_only_its_own_part():
    db, item_class, storage, audit = item_db()

    def make_then_fail():
        item_class.create_checked({"name": "x", "sku": "s-9"})
        raise ValueError("inner refusal")

    with db.transaction():
        db.run(lambda: item_class.create_checked({"name": "b", "sku": "s-2"}), ())
        assert db.depth == 1
        with pytest.raises(ValueError):
            db.run(make_then_fail, ())
        assert db.depth == 1
    assert db.depth == 0
    assert item_class.by_alias("s-2").id == 2 and item_class.by_alias("s-9") is None


def _commit_fails(monkeypatch, unit) -> tuple:
    """(the maps unchanged?, unit depth after, id of the next create) when `unit` runs a create whose
    commit fails."""
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)

    def full(*args, **kwargs):
        raise StorageLimitError("map full")

    monkeypatch.setattr(type(storage), "insert", full)
    with pytest.raises(StorageLimitError):
        unit(db, lambda: item_class.create_checked({"name": "b", "sku": "s-2"}))
    monkeypatch.undo()
    unchanged = stored_maps(storage, audit) == before and item_class.by_alias("s-2") is None
    return unchanged, db.depth, item_class.create({"name": "c"}).id


def _begin_end(db, action) -> None:
    mark = db.begin()
    try:
        action()
    except BaseException:
        db.end(mark, False)
        raise
    db.end(mark, True)


def test_run_stores_nothing_when_the_commit_fails_as_begin_and_end(monkeypatch):
    ran = _commit_fails(monkeypatch, lambda db, action: db.run(action, ()))
    assert ran[:2] == (True, 0)
    assert ran == _commit_fails(monkeypatch, _begin_end)


def test_a_subclass_with_its_own_run_keeps_it():
    """`db.run` is bound when the database is made (a closure over its journal and maps), unless the class
    defines `run` itself."""
    class Counted(Database):
        runs = 0

        def run(self, action, args):
            self.runs += 1
            mark = self.begin()
            try:
                result = action(*args)
            except BaseException:
                self.end(mark, False)
                raise
            self.end(mark, True)
            return result

    db = Counted(db_storage=MemoryMap(), audit_enabled=False)
    assert db.run(lambda: db.put("k", "v") or 7, ()) == 7
    assert db.runs == 1 and db.get("k") == "v" and db.depth == 0
    plain = Database(db_storage=MemoryMap(), audit_enabled=False)
    assert plain.run(lambda key: plain.put(key, "w") or key, ("k",)) == "k" and plain.get("k") == "w"
