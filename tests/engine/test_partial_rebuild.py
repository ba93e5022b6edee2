"""A pending ordered index (added to a type that has entities) is ready only after a `rebuild_keys` pass
that went over every id from the first one: a pass that began at a later cursor, or one that was under
way when another index was added, leaves the index pending (queries keep answering from the entities, so
counts stay exact) until a pass from the first id ends."""

import json

from kybra_simple_db import Database, Entity, MemoryMap, String, ordered_index, type_registry


def _define(*indexed: str):
    type_registry.clear()

    class Rec(Entity):
        a = String(indexed="a" in indexed)
        b = String(indexed="b" in indexed)

    return Rec


def _open(storage, *indexed: str):
    ordered_index.forget_cached()
    Rec = _define(*indexed)
    return Database.init(db_storage=storage, audit_enabled=False), Rec


def _filled() -> MemoryMap:
    storage = MemoryMap(max_key_size=100, max_value_size=300)
    _, Rec = _open(storage)
    for i in range(60):
        Rec(a="x" if i % 3 else "y", b="p" if i % 2 else "q")
    return storage


def _pass(Rec, cursor, size: int = 10):
    cursor = Rec.rebuild_keys(cursor, size)
    while cursor is not None:
        cursor = Rec.rebuild_keys(cursor, size)


def _pending(storage) -> list:
    return json.loads(storage.get("!k:1")).get("p", [])


def _counts(Rec) -> tuple:
    return Rec.count_by("a", "x"), Rec.count_by("a", "y"), Rec.query().where("a", "==", "y").count()


def test_a_pass_that_began_past_the_first_id_leaves_the_index_pending():
    storage = _filled()
    db, Rec = _open(storage, "a")
    assert _pending(storage) == ["^a"]
    _, cursor = Rec.page(None, 25)
    _pass(Rec, cursor)     # ids 1..25 never visited
    assert _pending(storage) == ["^a"]
    assert _counts(Rec) == (40, 20, 20)
    _pass(Rec, None)
    assert _pending(storage) == []
    assert _counts(Rec) == (40, 20, 20)


def test_an_index_added_while_a_pass_is_under_way_waits_for_a_pass_from_the_first_id():
    storage = _filled()
    db, Rec = _open(storage, "b")
    cursor = Rec.rebuild_keys(None, 20)
    cursor = Rec.rebuild_keys(cursor, 20)     # the pass has filled "b" for ids 1..40
    db, Rec = _open(storage, "a", "b")         # "a" indexed now: pending too
    assert set(_pending(storage)) == {"^a", "^b"}
    _pass(Rec, cursor)      # the pass goes on to the end: it never visited ids 1..40 for "a"
    assert "^a" in _pending(storage)
    assert _counts(Rec) == (40, 20, 20)
    assert (Rec.count_by("b", "p"), Rec.count_by("b", "q")) == (30, 30)
    _pass(Rec, None)
    assert _pending(storage) == []
    assert _counts(Rec) == (40, 20, 20)
    assert (Rec.count_by("b", "p"), Rec.count_by("b", "q")) == (30, 30)
