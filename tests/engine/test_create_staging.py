"""What a create stages in one step (counters, identity map, undo; a new entity's starting data): the
same results as the steps it replaces, and all of it undone when the create rolls back."""

import json

import pytest
from checked_helpers import item_db, stored_maps
from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import (
    ConflictError,
    Database,
    Entity,
    OneToMany,
    OneToOne,
    String,
    json_text,
    key_layout,
)
from kybra_simple_db.db_entity import doc_text, new_doc_text
from kybra_simple_db.db_errors import UnknownTargetError


def test_a_create_rolled_back_after_its_counters_leaves_no_trace_and_its_id_is_reused():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    with pytest.raises(ConflictError):      # the alias is refused after the counters were staged
        item_class(name="b", qty=2, sku="s-1")
    assert stored_maps(storage, audit) == before
    assert item_class.count() == 1 and item_class.max_id() == 1 and item_class.load(2) is None
    assert db.identity.get((db.type_code(item_class.__type_name__), 2)) is None
    again = item_class(name="c", sku="s-2")
    assert again.id == 2 and item_class.load(2) is again and item_class.count() == 2


def test_a_checked_create_in_a_unit_that_rolls_back_is_undone_with_it():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    mark = db.begin()
    created = item_class.create_checked({"name": "b", "sku": "s-2"})
    assert item_class.load(2) is created and item_class.count() == 2
    db.end(mark, False)
    assert stored_maps(storage, audit) == before
    assert item_class.count() == 1 and item_class.max_id() == 1 and item_class.load(2) is None
    with db.transaction():
        assert item_class.create_checked({"name": "c"}, db).id == 2     # its database given (the gateway)
    with pytest.raises(RuntimeError):   # outside an open unit of the database passed
        item_class.create_checked({"name": "d"}, db)
    assert item_class.count() == 2 and item_class.load(3) is None


def test_a_new_entity_starts_with_defaults_and_empty_to_one_relations_even_those_added_later():
    class Owner(Entity):
        name = String(default="nobody")
        pets = OneToMany("Pet", "owner")

    first = Owner()
    assert (first.name, first.view()[2]) == ("nobody", {})     # a to-many relation is not stored

    class Badge(Entity):
        holder = OneToOne("Owner", "badge")      # gives Owner a to-one reverse relation "badge"

    with pytest.raises(UnknownTargetError):     # a linked create rolled back after its counters
        Badge(holder=99)
    assert Badge.count() == 0 and Badge.max_id() == 0
    owner = Owner(name="ann")
    assert owner.view()[2] == {"badge": None} and owner.badge is None
    badge = Badge(holder=owner)
    assert badge.id == 1 and owner.badge is badge and Owner.load(owner.id).badge is badge


def test_creates_after_a_restart_and_a_delete_continue_the_stored_counters():
    db, item_class, storage, audit = item_db()
    item_class(name="b")
    item_class.load(1).delete()
    restarted = Database.init(db_storage=storage, db_audit=audit, clock=lambda: 1_700_000_000_000_000_000)
    with restarted.transaction():     # the first create after a restart reads the type's code and counters
        assert item_class.create_checked({"name": "c"}).id == 3
    assert item_class(name="d").id == 4     # the next ones find them cached
    assert (item_class.count(), item_class.max_id()) == (3, 4)
    assert storage.get(key_layout.counter_key(restarted.type_code(item_class.__type_name__))) == "4,3"


def test_an_update_after_a_create_leaves_the_create_entry_and_the_stored_values_apart():
    db, item_class, storage, audit = item_db()
    entity = item_class(name="b", qty=2, sku="s-2")
    heard = []
    db.audit.set_listener(lambda seq, *entry: heard.append(entry))
    entity.qty = 3
    entity.name = "c"
    assert [entry[3] for entry in heard] == [{"qty": 3}, {"name": "c"}]     # only what changed each time
    assert [entry["changes"] for entry in db.audit_entries(0, 10)[0] if entry["id"] == 2] == [
        {"name": "b", "qty": 2, "sku": "s-2"}, {"qty": 3}, {"name": "c"}]
    assert item_class.load(2).qty == 3 and item_class.count_by("name", "b") == 0


def test_the_audit_listener_set_last_hears_the_entries_and_none_stops_it():
    db, item_class, storage, audit = item_db()
    first, second = [], []
    db.audit.set_listener(lambda seq, *entry: first.append(seq))
    item_class(name="b")
    db.audit.set_listener(lambda seq, *entry: second.append(seq))
    item_class(name="c")
    db.audit.set_listener(None)
    item_class(name="d")
    assert (len(first), len(second)) == (1, 1) and second[0] == first[0] + 1
    assert db.audit.length() == first[0] + 3 - db.audit.min_seq


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
                       max_size=6),
       st.text(max_size=8), st.integers(min_value=0, max_value=1 << 64))
def test_a_new_documents_text_is_what_doc_text_gives(fields, caller, now):
    meta = {"o": caller, "c": caller, "u": caller, "tc": now, "tu": now, "v": 1}
    native = key_layout.NATIVE_JSON
    try:
        key_layout.NATIVE_JSON = False  # doc_text's own steps where json has no C encoder
        plain = doc_text(fields, meta, json_text.encode_dict(fields))
    finally:
        key_layout.NATIVE_JSON = native
    for _ in range(2):  # the caller's JSON text made, then kept
        expected = doc_text(fields, meta, json_text.encode_dict(fields))
        assert new_doc_text(json_text.encode_dict(fields), caller, now) == expected == plain
        assert json.loads(expected) == {"v": 1, "f": fields, "o": caller, "c": caller, "u": caller, "tc": now,
                                        "tu": now}


def test_a_create_is_timed_by_the_fixed_time_else_by_the_clock_as_an_int():
    from kybra_simple_db.system_time import SystemTime

    db, item_class, storage, audit = item_db()     # its clock gives 1_700_000_000_000_000_000
    assert item_class(name="b").view()[3]["tc"] == 1_700_000_000_000_000_000
    db.set_clock(lambda: 1.25e18)   # a clock of another type: stored as an int
    with db.transaction():
        assert item_class.create_checked({"name": "c"}).view()[3]["tu"] == 1_250_000_000_000_000_000
    clock = SystemTime.get_instance()
    clock.set_time(1_800_000_000_000)  # ms
    try:
        created = item_class(name="d")
    finally:
        clock.clear_time()
    assert created.view()[3]["tc"] == 1_800_000_000_000_000_000 == db.audit_entries(0, 10)[0][-1]["time"]


def test_a_new_document_too_large_for_one_value_is_staged_in_chunks_and_undone_with_its_create():
    db, item_class, storage, audit = item_db()      # values of at most 1,000 bytes
    big = "x" * 2500
    with db.transaction():
        created = item_class.create_checked({"name": "b", "sku": big})
    assert created.id == 2
    tc = db.type_code(item_class.__type_name__)
    assert storage.get(key_layout.doc_key(tc, 2)).startswith(key_layout.CHUNK_MARK)
    db.forget_cached()
    db.identity.clear()
    assert item_class.load(2).sku == big and item_class.by_alias(big).id == 2
    before = stored_maps(storage, audit)
    mark = db.begin()
    item_class.create_checked({"name": "c", "sku": "y" * 2500})
    db.end(mark, False)
    assert stored_maps(storage, audit) == before and item_class.load(3) is None and item_class.count() == 2
