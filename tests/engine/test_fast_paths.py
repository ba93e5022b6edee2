"""The engine's shortcuts give exactly what the general code gives: audit entry text, document
parsing, string key tokens, and an identity map that forgets dropped objects."""

import gc
import json

import pytest
from kybra_simple_db import ConflictError, CountingMap, Database, Entity, MemoryMap, String, identity_map
from kybra_simple_db import key_layout as keys
from kybra_simple_db.audit_log import AuditLog
from kybra_simple_db.db_entity import _parse_doc
from kybra_simple_db.identity_map import IdentityMap


class _Empty:
    def get(self, key):
        return None

    def contains(self, key):
        return False

    def put_whole(self, key, value, journal):   # (an audit log binds its map's put_whole when made)
        return True


def test_audit_entry_text_is_the_compact_json_list():
    log = AuditLog(_Empty(), "", True)
    cases = [
        (1763895000123456789, "system", "delete", "Person", 12, {}),
        (1, "é\"\n\u2028", "create", "app.Thing", 2**70, {"a": [1, 2.5, None, True], "b": "x"}),
        (5, "caller", "modify", "T", 3, {"n": {"deep": "é"}}),
        (True, "c", "op", "T", 1, {}),          # not an int time: the encoder path
        (2, ["not", "a str"], "op", "T", 1, {}),
        (2, "c", "op", "T", 1.5, {}),
    ]
    for case in cases:
        assert log.entry_text(*case) == keys.compact(list(case))
        assert log.entry_text(*case) == keys.compact(list(case))    # the cached names again
        assert json.loads(log.entry_text(*case)) == json.loads(json.dumps(list(case)))


def test_value_token_of_strings_matches_the_canonical_encoder():
    for text in ["", "a", "é\"\\\n\t\x00\u2028", "\ud800", "x" * 500]:
        assert keys.value_token(text) == keys.CANONICAL.encode(text)


def test_documents_parse_like_json_loads_and_bad_text_still_fails():
    for text in ['{"v":1,"f":{"a":"é"}}', ' {"v":1} ', '{"v":1}\n']:
        assert _parse_doc(text) == json.loads(text)
    for bad in ['{"v":1}x', '{"v":', "", "  "]:
        try:
            json.loads(bad)
        except ValueError as expected:
            error = type(expected)
        else:  # pragma: no cover
            raise AssertionError(bad)
        try:
            _parse_doc(bad)
        except ValueError as got:
            assert type(got) is error
        else:  # pragma: no cover
            raise AssertionError(bad)


def test_identity_map_forgets_dropped_objects_and_stays_bounded():
    class Held:
        pass

    identity = IdentityMap()
    kept = [Held() for _ in range(10)]
    for i, obj in enumerate(kept):
        identity.put((1, i), obj)
    for i in range(10, 20_000):
        identity.put((1, i), Held())    # dropped at once
        # swept when doubled: at most twice the live objects (this one included) plus the slack
        assert len(identity._items) <= 2 * (len(kept) + 1) + identity_map.SWEEP_SLACK + 1
    gc.collect()
    assert len(identity) == len(kept)
    assert all(identity.get((1, i)) is obj for i, obj in enumerate(kept))
    assert identity.get((1, 15_000)) is None and identity.get((2, 1)) is None


def test_deleted_entity_leaves_no_alias_and_audits_the_delete():
    class Person(Entity):
        __alias__ = "name"
        name = String()

    Person(name="ann")
    Database.get_instance().identity.clear()
    person = Person.load(1)
    person.delete()
    assert Person["ann"] is None
    Person(name="ann")  # the alias is free again
    entries, _ = Database.get_instance().audit_entries(0, 10)
    deleted = [e for e in entries if e["operation"] == "delete"]
    assert deleted and deleted[0]["type"] == "Person" and deleted[0]["id"] == 1
    assert deleted[0]["changes"] == {}


def test_bit_changes_give_the_canonical_bucket_text():
    from kybra_simple_db import bitsets

    for bits in (0, 1, 0b1000, 0xF0F, 1 << 40, (1 << 45) - 1):
        text = bitsets.encode(bits)
        for offset in range(48):
            for present in (True, False):
                new = bits | (1 << offset) if present else bits & ~(1 << offset)
                assert bitsets.change(text, offset, present) == (bitsets.encode(new), new != bits)


def test_audit_entries_of_any_shape_are_the_compact_json_list(fresh_db):
    db = Database.get_instance()
    cases = [
        ("op", "T", 12, {"a": 1}, 5, "caller"),            # the engine's own shape
        ("op", "T", "12", {"a": 1}, 5, "caller"),          # a text id (the seed API's documents)
        ("op", "T", 12, ["not", "a dict"], 5, "caller"),
        ("op", "T", 12, None, 5, "caller"),
        ("op", "T", 12, {}, 1.5, "caller"),
        ("op", "T", 12, {}, True, "caller"),
        ("op", "T", 12, {}, 5, ["not", "text"]),
    ]
    for operation, type_name, entity_id, changes, when, caller in cases:
        with db.operation():
            db.record(operation, type_name, entity_id, changes, when, caller)
        seq = db.next_audit_seq() - 1
        text = db.audit.staged.get(db.audit.key(seq))
        assert text == keys.compact([when, caller, operation, type_name, entity_id, changes])


def test_an_int_subclass_as_a_custom_id_is_stored_as_a_plain_int(fresh_db):
    class Code(int):
        pass

    class Coded(Entity):
        name = String()

    item = Coded(_id=Code(7), name="x")
    assert type(item.id) is int and item.id == 7 and item._id == "7"
    entries, _ = Database.get_instance().audit_entries(0, 100)
    assert entries[-1]["id"] == 7


def test_a_write_reuses_the_loaded_document_only_while_storage_cannot_have_changed(fresh_db):
    """An update does not read the document again when nothing was committed or rolled back since the
    load; a document another engine object changed in between is still refused (stale version)."""
    storage = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    Database.init(db_storage=storage)

    class Note(Entity):
        text = String()

    Note(text="a")
    Note(text="b")
    fresh = Note.load(1)
    storage.reset()
    fresh.text = "a2"           # loaded, nothing settled since: no read
    assert (storage.reads, storage.writes) == (0, 2)
    stale = Note.load(2)
    Database.init(db_storage=storage)      # a second engine over the same storage changes note 2
    Note.load(2).text = "b2"
    with pytest.raises(ConflictError):
        stale.text = "b3"
    with pytest.raises(ConflictError):     # and inside a transaction that rolls back, too
        with stale._db.transaction():
            stale.text = "b4"
    assert Note.load(2).text == "b2" and Note.load(2).version == 2


def test_a_reverse_relation_added_later_is_in_every_loaded_object_of_its_type(fresh_db):
    """Loading reads a document the class wrote in one step (`__stored_names__`): a to-one reverse added
    when a later type names this one must count as one of its names, so a document written before it
    still gets the relation (None) and one written after it is read the same way."""
    from kybra_simple_db import OneToMany, type_registry

    class Book(Entity):
        title = String()

    Book(title="before")

    class Author(Entity):
        books = OneToMany("Book", "author")

    type_registry.resolve_all()
    assert Book.__stored_names__ == ["title", "author"]
    Book(title="after")
    fresh_db.identity = IdentityMap()
    for eid in (1, 2):
        book = Book.load(eid)
        assert book._data == {"title": book.title, "author": None}
        assert book.live_view()[2]["author"] is None


def test_a_reverse_relation_dropped_again_leaves_the_names_a_document_holds(fresh_db):
    """A Batch whose relations do not resolve takes back the reverse it had added to an existing class:
    the class's document names (`__stored_names__`) lose it again, so a document holding it is read
    through the general path (which keeps declared names only)."""
    from kybra_simple_db import ManyToOne, OneToMany, ValidationError, type_registry

    class Book(Entity):
        title = String()

    with pytest.raises(ValidationError):
        with type_registry.Batch():
            class Author(Entity):
                books = OneToMany("Book", "author")
                pens = OneToMany("Pen", "writer")

            class Pen(Entity):
                writer = ManyToOne("Author", "other")

    assert "author" not in Book.__relations__
    assert Book.__stored_names__ == ["title"]
