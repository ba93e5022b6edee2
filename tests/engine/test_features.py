"""Behaviour users rely on beyond the seed examples: policies, schema changes, sizes, audit, restore."""

import json

import pytest
from engine_helpers import dump_pages
from kybra_simple_db import (
    CASCADE,
    RESTRICT,
    ConflictError,
    Database,
    DefinitionBatch,
    Entity,
    Integer,
    ManyToMany,
    ManyToOne,
    MemoryMap,
    NotFoundError,
    OneToMany,
    OneToOne,
    StorageLimitError,
    String,
    ValidationError,
    type_registry,
)


def _items(storage):
    return list(storage.items())


def test_cascade_chain_and_cycle():
    class Folder(Entity):
        name = String()
        parent = ManyToOne("Folder", "subfolders")
        subfolders = OneToMany("Folder", "parent", on_delete=CASCADE)
        files = OneToMany("File", "folder", on_delete=CASCADE)

    class File(Entity):
        name = String()
        tags = ManyToMany("Tag", "files")

    class Tag(Entity):
        name = String()

    root = Folder(name="root")
    sub = Folder(name="sub", parent=root)
    Folder(name="subsub", parent=sub)
    tag = Tag(name="t")
    f = File(name="f", folder=sub, tags=[tag])
    assert f in tag.files
    root.delete()
    assert Folder.count() == 0 and File.count() == 0 and Tag.count() == 1
    assert len(tag.files) == 0


def test_restrict_refuses_and_changes_nothing(storage):
    class Customer(Entity):
        name = String()
        orders = OneToMany("Order", "customer", on_delete=RESTRICT)

    class Order(Entity):
        total = Integer()

    c = Customer(name="c")
    Order(total=1, customer=c)
    before = _items(storage)
    with pytest.raises(ConflictError):
        c.delete()
    assert _items(storage) == before and c.is_live()
    Order.load(1).delete()
    c.delete()
    assert Customer.count() == 0


def test_one_to_one_moves_partner():
    class Person(Entity):
        name = String()
        spouse = OneToOne("Person", "spouse")

    a, b, c = Person(name="a"), Person(name="b"), Person(name="c")
    a.spouse = b
    assert b.spouse is a
    c.spouse = b
    assert a.spouse is None and b.spouse is c and c.spouse is b
    b.spouse = None
    assert c.spouse is None and b.version == 4


def test_link_errors():
    class A(Entity):
        name = String()
        bs = ManyToMany("B", "as_")

    class B(Entity):
        name = String()

    a = A(name="a")
    with pytest.raises(NotFoundError):
        a.link("bs", 99)
    with pytest.raises(NotFoundError):
        a.link("nope", 1)
    b = B(name="b")
    b.delete()
    with pytest.raises(NotFoundError):
        a.link("bs", b)
    with pytest.raises(NotFoundError):
        b.name = "x"
    with pytest.raises(NotFoundError):      # one id or alias for a to-many relation: none matches
        a.bs = "not a list"
    with pytest.raises(ValidationError):
        a.bs = {"not": "entities"}
    assert a.link("bs", B(name="c")) is True and a.link("bs", 2) is False
    assert a.unlink("bs", 2) is True and a.unlink("bs", 2) is False


def test_invalid_ids_load_nothing():
    class Item(Entity):
        name = String()

    Item(name="x")
    for bad in (0, -1, "abc", True, None, 1.0, "１"):
        assert Item.load(bad) is None
    assert Item.load(" 1") is None and Item.load("1").name == "x"


def test_schema_change_keeps_data_and_drops_stale_objects():
    Old = type("Thing", (Entity,), {"name": String(), "legacy": Integer()})
    old = Old(name="n", legacy=3)
    New = type("Thing", (Entity,), {"name": String(), "size": Integer(default=7)})
    fresh = New.load(1)
    assert fresh is not old and fresh.values() == {"name": "n", "size": 7}
    fresh.name = "m"
    stored = json.loads(Database.get_instance()._storage.get("1:1"))
    assert stored["f"] == {"name": "m", "size": 7} and stored["v"] == 2


def test_large_values_are_split_and_shrunk(storage):
    class Blob(Entity):
        text = String()

    blob = Blob(text="é" * 3000)
    keys = [k for k, _ in _items(storage) if k.startswith("1:1")]
    assert len(keys) > 3 and max(len(v.encode()) for _, v in _items(storage)) <= 1000
    assert Database.init(db_storage=storage) and Blob.load(1).text == "é" * 3000
    Blob.load(1).text = "short"
    assert [k for k, _ in _items(storage) if k.startswith("1:1")] == ["1:1"]
    Blob.load(1).delete()
    assert not [k for k, _ in _items(storage) if k.startswith("1:")]
    assert blob.text == "é" * 3000


def test_long_alias_and_index_values_are_hashed():
    class Page(Entity):
        __alias__ = "url"
        url = String()
        topic = String(indexed=True)

    url = "https://example.org/" + "p" * 300
    page = Page(url=url, topic="t" * 300)
    assert Page[url] is page and Page.find_by("topic", "t" * 300) == ([page], None)
    assert all(len(k) <= 84 for k, _ in Database.get_instance()._storage.items())
    with pytest.raises(ConflictError):
        Page(url=url)


def test_oversized_type_name_is_refused_before_writing(storage):
    before = _items(storage)
    with pytest.raises(StorageLimitError):
        cls = type("T" * 90, (Entity,), {"name": String()})
        cls(name="x")
    assert _items(storage) == before


def test_failed_operation_inside_transaction_is_undone_alone():
    class Item(Entity):
        __alias__ = "name"
        name = String()

    db = Database.get_instance()
    with db.transaction():
        Item(name="a")
        with pytest.raises(ConflictError):
            Item(name="a")
        Item(name="b")
    assert [i.name for i in Item.instances()] == ["a", "b"] and Item.max_id() == 2


def test_object_created_in_rolled_back_transaction_is_dead():
    class Item(Entity):
        name = String()

    db = Database.get_instance()
    holder = []
    with pytest.raises(RuntimeError):
        with db.transaction():
            holder.append(Item(name="x"))
            raise RuntimeError
    with pytest.raises(NotFoundError):
        holder[0].name = "y"
    assert Item.count() == 0 and Item.load(1) is None


def test_custom_clock_and_caller_in_audit():
    ticks = iter(range(5_000_000_000, 6_000_000_000, 1000))
    db = Database.init(db_storage=MemoryMap(), clock=lambda: next(ticks))

    class Item(Entity):
        name = String()

    with db.as_user("ann"):
        item = Item(name="x")
        item.set_owner("bob")
    assert item.meta()["created"] == 5_000_000_000 and item.meta()["owner"] == "bob"
    meta = item.meta()
    assert item.stored_meta() == {"o": meta["owner"], "c": meta["creator"], "u": meta["updater"],
                                  "tc": meta["created"], "tu": meta["updated"], "v": meta["version"]}
    eid, values, refs, stored = item.live_view()
    assert (eid, values["name"], stored) == (item.id, "x", item.stored_meta())
    assert item.view() == (eid, {"name": "x"}, {}, stored)
    entries, _ = db.audit_entries(0, 10)
    assert [(e["operation"], e["caller"], e["time"]) for e in entries] == [
        ("create", "ann", 5_000_000_000), ("transfer", "ann", 5_000_001_000)]
    assert entries[1]["changes"] == {"owner": "bob"}


def test_separate_audit_map_prune_clear_and_reinit():
    data = MemoryMap(max_key_size=100, max_value_size=1000)
    audit = MemoryMap(max_key_size=40, max_value_size=120)
    db = Database.init(db_storage=data, db_audit=audit)

    class Note(Entity):
        text = String()

    for i in range(5):
        Note(text=f"n{i}")
    Note(text="x" * 500)
    entries, _ = db.audit_entries(5, 1)
    assert entries[0]["changes"] == {"_truncated": True, "text": None}
    assert db.prune_audit(3) == 3 and db.audit_length() == 3
    db = Database.init(db_storage=data, db_audit=audit)
    assert db.next_audit_seq() == 6 and db.audit_entries(0, 10)[0][0]["seq"] == 3
    db.clear()
    assert Note.count() == 0 and data.get("!meta") is not None
    Note(text="after")
    assert db.next_audit_seq() == 7 and Note.load(1).text == "after"
    assert db.prune_audit(100) == 4 and Database.init(db_storage=data, db_audit=audit).next_audit_seq() == 7


def test_pages_and_links_across_many_buckets():
    Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=40))

    class Dot(Entity):
        n = Integer()
        near = ManyToMany("Dot", "near")

    db = Database.get_instance()
    assert db.bucket_width == 64
    with db.transaction():
        dots = [Dot(n=i) for i in range(400)]
    with db.transaction():
        for d in dots[:300]:
            d.delete()
    items, cursor = Dot.page(None, 10)
    walked = [d.id for d in items]
    while cursor is not None:
        items, cursor = Dot.page(cursor, 10)
        walked.extend(d.id for d in items)
    assert walked == list(range(301, 401))
    hub = Dot.load(400)
    for i in range(301, 400, 3):
        hub.link("near", i)
    ids, cursor = hub.links("near", None, 5)
    assert ids == [301, 304, 307, 310, 313]
    assert hub.near.ids() == list(range(301, 400, 3)) and len(hub.near) == 33


def test_dump_and_restore_round_trip_all_relation_kinds():
    class Person(Entity):
        __alias__ = "name"
        name = String()
        age = Integer(indexed=True)
        spouse = OneToOne("Person", "spouse")
        mother = ManyToOne("Person", "children")
        children = OneToMany("Person", "mother")
        friends = ManyToMany("Person", "friends")
        clubs = ManyToMany("Club", "members")

    class Club(Entity):
        name = String()

    db = Database.get_instance()
    with db.as_user("ann"):
        mom = Person(name="mom", age=60)
        kid = Person(name="kid", age=30, mother=mom)
        other = Person(name="other", age=30, spouse=kid, friends=[kid, mom])
        Person(name="gone").delete()
        club = Club(name="c", members=[kid, other])
    with db.as_user("bob"):
        kid.age = 31
    records = [r for page in dump_pages(db, 2) for r in page]
    assert [(r["type"], r.get("id"), r.get("max_id")) for r in records] == [
        ("Person", 1, None), ("Person", 2, None), ("Person", 3, None), ("Person", None, 4),
        ("Club", 1, None), ("Club", None, 1)]
    before = db.dump_json()
    copy = Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=1000))
    with pytest.raises(ValidationError):
        copy.restore(records + [{"type": "Person", "id": "x"}])
    assert copy.dump_json() == "{}"
    assert copy.restore(records) == 4
    assert copy.dump_json() == before
    kid2 = Person["kid"]
    assert kid2.meta()["updater"] == "bob" and kid2.version == kid.version and kid2.mother is Person["mom"]
    assert Person.find_all_by("age", 30) == [Person.load(3)] and Person.count() == 3 and Person.max_id() == 4
    assert set(Club.load(1).members.ids()) == {2, 3} and club.id == 1
    with pytest.raises(ConflictError):
        copy.restore(records[:1])
    assert Person(name="new").id == 5


def test_deserialize_upserts_without_forging():
    class Item(Entity):
        __alias__ = "sku"
        sku = String()
        qty = Integer()

    item = Item.deserialize({"_type": "Item", "sku": "a", "qty": 1})
    same = Item.deserialize(dict(item.serialize(), qty=5))
    assert same is item and item.qty == 5 and item.version == 2
    assert Entity.deserialize({"_type": "Item", "sku": "a", "qty": 6}) is item and item.qty == 6


def test_describe_reports_implicit_reverse_and_registry():
    class Author(Entity):
        name = String(min_length=1, max_length=9, required=True)
        books = OneToMany("Book", "author", on_delete=CASCADE)

    class Book(Entity):
        title = String()

    rel = Book.describe()["relations"][0]
    assert rel == {"name": "author", "kind": "ManyToOne", "target": "Author", "reverse": "books",
                   "on_delete": "set_null", "implicit": True}
    assert Author.describe()["fields"][0]["required"] is True
    assert type_registry.all_types() == ["Author", "Book"]
    with pytest.raises(ValidationError):
        Author()


def test_inconsistent_reverse_declarations_are_refused():
    class Left(Entity):
        right = ManyToOne("Right", "lefts")

    with pytest.raises(ValidationError):
        type("Right", (Entity,), {"lefts": ManyToMany("Left", "right")})
    assert type_registry.find("Right") is None
    with pytest.raises(ValidationError):
        type("Bad", (Entity,), {"load": String()})
    with pytest.raises(ValidationError):
        type("Bad", (Entity,), {"__alias__": "missing", "name": String()})



def test_a_definition_batch_refused_at_its_end_leaves_the_registry_as_before():
    """Classes defined in a `DefinitionBatch` whose relations do not resolve are refused together (as one
    such class defined alone is): the registry keeps the earlier definitions, and later ones work."""
    class Keep(Entity):
        name = String()

    with pytest.raises(ValidationError):
        with DefinitionBatch():
            class Left(Entity):
                right = ManyToOne("Right", "lefts")

            class Right(Entity):
                lefts = ManyToMany("Left", "right")

            class Keep(Entity):     # noqa: F811 (a redefinition in the refused batch)
                name = String()
                note = String()
    assert type_registry.find("Left") is None and type_registry.find("Right") is None
    assert list(type_registry.find("Keep").__fields__) == ["name"]
    with pytest.raises(RuntimeError), DefinitionBatch():
        type("Half", (Entity,), {"name": String()})
        raise RuntimeError("the block failed")
    assert type_registry.find("Half") is None

    class Later(Entity):
        name = String()
    assert type_registry.find("Later") is Later

def test_restore_with_large_id_gaps_pages_correctly():
    class Item(Entity):
        name = String()

    db = Database.get_instance()
    records = [{"type": "Item", "id": i, "fields": {"name": f"n{i}"}, "refs": {}, "links": {},
                "owner": "o", "creator": "o", "updater": "o", "created": 1, "updated": 2, "version": 1}
               for i in (3, 5000, 5001)]
    assert db.restore(records + [{"type": "Item", "max_id": 9000}]) == 3
    assert Item.count() == 3 and Item.max_id() == 9000
    walked, cursor = [], None
    while True:
        items, cursor = Item.page(cursor, 2)
        walked.extend(i.id for i in items)
        if cursor is None:
            break
    assert walked == [3, 5000, 5001]
    assert Item(name="next").id == 9001


def test_fields_and_relations_are_inherited():
    class Base(Entity):
        name = String()

    class Child(Base):
        extra = Integer()

    assert list(Child.__fields__) == ["name", "extra"] and Child(name="c", extra=1).name == "c"

    class Linked(Entity):
        other = ManyToOne("Base", "linked")

    # the reverse `Base.linked` already links Linked: a subclass inheriting `other` cannot share it
    with pytest.raises(ValidationError):
        type("SubLinked", (Linked,), {})

    class Shelf(Entity):
        name = String()
        books = OneToMany("Book", "shelf")

    class TallShelf(Shelf):
        height = Integer()

    class Book(Entity):
        title = String()
        shelf = ManyToOne("TallShelf", "books")     # the reverse side names the subclass

    tall = TallShelf(name="t", height=2)
    book = Book(title="b", shelf=tall)
    assert book.shelf is tall and list(tall.books) == [book] and "books" in TallShelf.__relations__


def test_create_audit_includes_to_many_links():
    class Club(Entity):
        name = String()
        members = ManyToMany("Member", "clubs")

    class Member(Entity):
        name = String()

    a, b = Member(name="a"), Member(name="b")
    Club(name="c", members=[b, a])
    entries, _ = Database.get_instance().audit_entries(0, 10)
    assert entries[-1]["operation"] == "create" and entries[-1]["changes"] == {"name": "c", "members": [1, 2]}


def test_identity_map_without_weakref_is_bounded(monkeypatch):
    from kybra_simple_db import identity_map

    monkeypatch.setattr(identity_map, "WEAK", False)
    monkeypatch.setattr(identity_map, "BOUNDED_SIZE", 50)
    db = Database.init(db_storage=MemoryMap())

    class Item(Entity):
        n = Integer()

    held = Item(n=0)
    for i in range(1, 200):
        Item(n=i)
    assert len(db.identity) <= 50
    assert Item.load(1) is not None and Item.load(1) is Item.load("1")
    stale = held
    fresh = Item.load(1)
    assert fresh is not stale
    fresh.n = 5
    with pytest.raises(ConflictError):
        stale.n = 6
    assert Item.load(1).n == 5 and stale.n == 0


@pytest.mark.parametrize("value", ['é"\\\n\u2028', 1.5, 3.0, -7, True, None, [1, "x"], {"b": 1, "a": [None]}])
def test_compact_json_matches_the_standard_encoder(value):
    from kybra_simple_db import key_layout

    assert key_layout.compact(value) == key_layout.COMPACT.encode(value)
    if not isinstance(value, dict):
        assert key_layout.value_token(value) == key_layout.CANONICAL.encode(value)
    with pytest.raises(TypeError):
        key_layout.compact({"x": object()})


def test_bucket_bit_edits_match_integer_arithmetic():
    import random

    from kybra_simple_db import bitsets

    rng = random.Random(7)
    text, bits = None, 0
    for _ in range(3000):
        offset = rng.randrange(0, 2048)
        present = rng.random() < 0.6
        text, changed = bitsets.change(text, offset, present)
        new_bits = (bits | (1 << offset)) if present else (bits & ~(1 << offset))
        assert changed == (new_bits != bits)
        bits = new_bits
        assert text == bitsets.encode(bits) and bitsets.decode(text) == bits
        assert bitsets.test(text, offset) == present


def test_changes_made_inside_a_rejecting_hook_are_undone(storage):
    class Counter(Entity):
        hits = Integer(default=0)

    class Guarded(Entity):
        name = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            Counter.load(1).hits += 1
            return new_value != "bad"

    Counter()
    guarded = Guarded(name="ok")
    assert Counter.load(1).hits == 1
    before = _items(storage)
    with pytest.raises(ValueError):
        guarded.name = "bad"
    assert _items(storage) == before and Counter.load(1).hits == 1 and guarded.name == "ok"


def test_alias_can_be_reused_after_delete_in_one_transaction():
    class User(Entity):
        __alias__ = "login"
        login = String()

    db = Database.get_instance()
    old = User(login="ann")
    with db.transaction():
        old.delete()
        new = User(login="ann")
    assert User["ann"] is new and new.id == 2 and User.count() == 1


def test_audit_can_be_switched_on_later_and_keeps_counting(storage):
    class Item(Entity):
        name = String()

    Item(name="a")
    quiet = Database.init(db_storage=storage, audit_enabled=False)
    Item(name="b")
    assert list(quiet.get_audit()) == ["0"]   # the kept log is still readable
    loud = Database.init(db_storage=storage)
    Item(name="c")
    assert [e["changes"]["name"] for e in loud.audit_entries(0, 10)[0]] == ["a", "c"]


def test_engine_works_without_the_c_json_encoder(monkeypatch, storage):
    from kybra_simple_db import key_layout

    class Item(Entity):
        __alias__ = "name"
        name = String()

    Item(name="é")
    with_c = _items(storage)
    monkeypatch.setattr(key_layout, "_FAST", None)
    Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=1000), clock=lambda: 1)
    Item(name="é")
    assert Item["é"].id == 1 and Item.load(1).name == "é"
    assert [k for k, _ in _items(Database.get_instance()._storage)] == [k for k, _ in with_c]
