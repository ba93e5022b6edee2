"""Chaining from what was heard: audit_capture keeps the body of the block of each entry the audit log
stored with its values, hashed (audit_chain.block_body) only when the entry stored is sure to be equal,
so a block hashed from it is the block of the stored entry; any other entry is not kept (it is read back),
and an entry rolled back never stands for the entry stored under its number later."""

import json
import math
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import Database, Entity, MemoryMap, String

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import audit_capture  # noqa: E402
import audit_chain  # noqa: E402
import rep_hash  # noqa: E402

plain = st.one_of(
    st.text(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


def _stored(copy: tuple) -> dict:
    """The entry as the audit log reads it back from the JSON text it stored."""
    when, caller, operation, type_name, entity_id, changes = json.loads(
        json.dumps(list(copy), separators=(",", ":"), ensure_ascii=False)
    )
    return {"seq": 0, "time": when, "caller": caller, "operation": operation, "type_name": type_name,
            "id": entity_id, "changes": changes}


def _copy_hash(copy: tuple, phash):
    """The hash of the block chained from a copy (time, caller, operation, type name, id, changes) as the
    certifier chains a kept body, or None when the copy is not kept (audit_chain.block_body)."""
    body = audit_chain.block_body(*copy)
    return None if body is None else audit_chain.chain_hash(body, phash)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**64),
    st.text(max_size=70),
    st.text(max_size=10),
    st.text(max_size=40),
    st.integers(min_value=0, max_value=2**64),
    st.dictionaries(st.text(max_size=20), plain, max_size=6),
    st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
)
def test_a_block_hashed_from_a_copy_is_the_block_of_the_stored_entry(when, caller, operation, type_name,
                                                                     entity_id, changes, phash):
    copy = (when, caller, operation, type_name, entity_id, changes)
    found = _copy_hash(copy, phash)
    assert found == audit_chain.block_hash(_stored(copy), phash)
    if found is not None:   # and the block's own representation-independent hash
        assert found == rep_hash.value_hash(audit_chain.block_value(_stored(copy), phash))


def test_copies_that_might_not_equal_their_stored_entry_are_declined():
    good = (5, "caller", "update", "t::T", 1, {"a": 1, "b": "x", "c": None, "d": True, "e": 1.5})
    assert _copy_hash(good, None) is not None
    for changes in ({"a": [1, 2]}, {"a": math.nan}, {"a": -math.inf}, {1: "a"}, {"a": b"x"}, {"a": {}}):
        assert _copy_hash(good[:5] + (changes,), None) is None, changes
    for index, odd in ((0, -1), (0, "5"), (1, None), (1, ["x"]), (2, 3), (3, None), (4, -1), (4, "7"),
                       (4, True), (5, None), (5, [("a", 1)])):
        copy = good[:index] + (odd,) + good[index + 1:]
        assert _copy_hash(copy, None) is None, (index, odd)


def _chained(db, kept: tuple, seq: int) -> bool:
    """True if the kept body makes the block of the entry stored as `seq` (with no parent)."""
    entry = db.audit_entries(seq, 1)[0][0]
    entry["type_name"] = entry.pop("type")
    return (kept[1], kept[2]) == (entry["type_name"], entry["id"]) and \
        audit_chain.chain_hash(kept[0], None) == audit_chain.block_hash(entry, None)


def _db():
    audit = MemoryMap(max_key_size=40, max_value_size=120)
    db = Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=1000), db_audit=audit)
    return db, audit_capture.AuditCapture(db)


def test_only_entries_stored_with_their_values_are_kept():
    """The audit log tells its listener when an entry was too large and kept only the names."""
    db, capture = _db()

    class Note(Entity):
        text = String()

    start = db.next_audit_seq()
    Note(text="short")
    kept = capture.take(start)   # (one entry: its copy alone)
    assert kept.__class__ is tuple and _chained(db, kept, start)
    assert capture.take(start) is None   # taken: forgotten
    Note(text="short")
    Note(text="x" * 500)
    assert capture.take(start + 1) is None
    assert db.audit_entries(start + 2, 1)[0][0]["changes"] == {"_truncated": True, "text": None}
    db.clear()


def test_a_rolled_back_entry_never_stands_for_a_later_one():
    """An operation that fails gives its entry's number back: the next entry under that number is what
    is kept (or, too large to keep, nothing is), and an entry not written again is beyond the log's end."""
    db, capture = _db()

    class Memo(Entity):
        text = String()

    start = db.next_audit_seq()
    for later in ("y" * 500, "later"):
        try:
            with db.transaction():
                Memo(text="rolled back")
                raise RuntimeError("fail")
        except RuntimeError:
            pass
        assert db.next_audit_seq() == start
        Memo(text=later)
        kept = capture.take(start)
        if later == "later":
            assert _chained(db, kept, start)
        else:
            assert kept is None
            start = db.next_audit_seq()
    db.clear()


def test_an_entry_heard_with_text_utf8_cannot_encode_is_not_kept():
    """(It is read back, and the certifier meets it there.)"""
    capture = audit_capture.AuditCapture(Database.init(db_storage=MemoryMap()))
    capture.keep(0, "update", "t::T", 1, {"a": "\ud800"}, 5, "caller")
    assert capture.entries == {}
    capture.keep(0, "update", "t::T", 1, {"a": "ok"}, 5, "caller")
    assert list(capture.entries) == [0]


def test_an_entry_heard_with_odd_names_or_numbers_is_forgotten():
    """The listener forgets an entry number whose names are not texts (or not UTF-8, or unhashable), whose
    id or time is not a natural int, or whose changes are not a plain dict (it is read back instead),
    also when the number held an entry heard before; block_body gives None for the same."""
    capture = audit_capture.AuditCapture(Database.init(db_storage=MemoryMap()))
    good = ("update", "t::T", 1, {"a": 1}, 5, "caller")
    odd = [("upd\ud800", "t::T", 1, {"a": 1}, 5, "caller"), ("update", "t::\ud800", 1, {"a": 1}, 5, "caller"),
           ("update", "t::T", 1, {"a": 1}, 5, ["caller"]), (7, "t::T", 1, {"a": 1}, 5, "caller"),
           ("update", "t::T", -1, {"a": 1}, 5, "caller"), ("update", "t::T", True, {"a": 1}, 5, "caller"),
           ("update", "t::T", 1, {"a": 1}, 5.0, "caller"), ("update", "t::T", 1, [("a", 1)], 5, "caller"),
           ("update", "t::T", 1, {"a": [1]}, 5, "caller"), ("update", "t::T", 1, {"a": 1}, -5, "caller")]
    for operation, type_name, entity_id, changes, when, caller in odd:
        capture.keep(0, *good)
        capture.keep(1, *good)
        capture.keep(0, operation, type_name, entity_id, changes, when, caller)
        assert list(capture.entries) == [1], (operation, type_name, entity_id, changes, when, caller)
        assert audit_chain.block_body(when, caller, operation, type_name, entity_id, changes) is None
    capture.keep(0, *good)
    assert capture.take(0) == [] and capture.entries == {}   # (the log's end is 0: nothing to take, and
    # what was heard is forgotten)
