"""The original packages' API on our engine (issue 8): each case as code migrating from
kybra-simple-db 0.5.x/0.6.x or ic-python-db uses it, checked also after a reload from storage."""

import gc
import json

import pytest
from kybra_simple_db import (
    ConflictError,
    Database,
    DuplicateIdError,
    Entity,
    Float,
    Integer,
    ManyToMany,
    ManyToOne,
    MemoryStorage,
    OneToMany,
    OneToOne,
    String,
    SystemTime,
    TimestampedMixin,
    ValidationError,
)
from kybra_simple_db.context import set_caller_id


def _reopen():
    """A new Database over the same storage: what a canister upgrade does."""
    db = Database.get_instance()
    gc.collect()
    return Database.init(db_storage=db._storage)


def test_owner_only_changes_with_the_mixin_survive_an_upgrade():
    class Note(Entity, TimestampedMixin):
        text = String()

    set_caller_id("alice")
    note = Note(text="a")
    set_caller_id("bob")
    with pytest.raises(PermissionError, match="Only the owner can update this entity. Current owner: alice"):
        note.text = "b"
    _reopen()
    again = Note.load(note._id)
    with pytest.raises(PermissionError):
        again.text = "c"
    with pytest.raises(PermissionError):
        again.set_owner("bob")          # taking someone's entity is refused too
    assert Note.load(note._id).text == "a"
    set_caller_id("alice")
    again.text = "d"
    assert again._updater == "alice"
    set_caller_id("system")


def test_entities_without_the_mixin_are_not_owner_checked():
    class Free(Entity):
        text = String()

    set_caller_id("alice")
    item = Free(text="a")
    set_caller_id("bob")
    item.text = "b"
    set_caller_id("system")
    assert Free.load(item._id).text == "b"


def test_custom_ids_numeric_and_text():
    class Person(Entity):
        __alias__ = "name"
        name = String()

    peter = Person(_id="peter", name="Peter")
    numbered = Person(_id="42", name="Numbered")
    assert Person.max_id() == 42 and Person.count() == 2
    with pytest.raises(DuplicateIdError, match="Entity Person@peter already exists"):
        Person(_id="peter", name="Other")
    with pytest.raises(ValueError):
        Person(_id=42, name="Other")
    auto = Person(name="Auto")
    assert auto._id == "43"            # "peter" holds storage slot 1; 2..41 are never handed out
    _reopen()
    assert Person["peter"].name == "Peter" and Person.load("peter")._id == "peter"
    assert Person[42].name == "Numbered" and Person["42"] is Person.load(42)
    assert Person["Peter"]._id == "peter" and Person.load(1) is None
    Person.load("peter").delete()
    assert Person.load("peter") is None and Person["Peter"] is None
    assert Person(_id="peter", name="Peter again")._id == "peter"
    assert peter is not None and numbered is not None


def test_entities_with_text_ids_are_found_through_links_queries_and_cascades_after_an_upgrade():
    class Team(Entity):
        members = OneToMany("Member", "team")
        lead = OneToOne("Member", "leads", on_delete="cascade")

    class Member(Entity):
        name = String(indexed=True)
        age = Integer()

    peter = Member(_id="peter", name="p", age=3)
    other = Member(name="q", age=4)
    team = Team(members=[peter, other], lead=peter)
    _reopen()
    team = Team.load(team._id)
    assert [m._id for m in team.members] == ["peter", other._id]
    assert team.lead._id == "peter" and Member["peter"].team._id == team._id
    assert [m._id for m in Member.query().where(age__gte=0).page(10).items] == ["peter", other._id]
    assert Member.find_by("name", "p")[0][0]._id == "peter"
    team.delete_in_steps()
    assert Member.load("peter") is None and Member.count() == 1


def test_deserialize_keeps_ids_and_resolves_pending_relations_in_any_order():
    class Parent(Entity):
        name = String()
        children = OneToMany("Child", "parent")

    class Child(Entity):
        name = String()
        parent = ManyToOne("Parent", "children")

    child = Child.deserialize({"_type": "Child", "_id": "7", "name": "c", "parent": "3"})
    assert child._id == "7" and child.parent is None and child._pending_relations == {"parent": "3"}
    _reopen()
    parent = Parent.deserialize({"_type": "Parent", "_id": "3", "name": "p"})
    assert Entity.resolve_pending_relations() == 1
    again = Child.load(7)
    assert again.parent is parent and list(parent.children) == [again]
    assert again._pending == {} and Entity.resolve_pending_relations() == 0
    assert Child.deserialize({"_type": "Child", "_id": "7", "name": "renamed"}) is again
    assert Child.count() == 1 and again.name == "renamed"
    with pytest.raises(ValueError, match="must contain '_type' field"):
        Entity.deserialize({"name": "x"})
    with pytest.raises(ValueError, match="Unknown entity type"):
        Entity.deserialize({"_type": "Nope"})
    with pytest.raises(ValueError, match="Entity type mismatch"):
        Parent.deserialize({"_type": "Child", "name": "x"})


def test_deserialize_converts_numeric_text_but_assignment_stays_strict():
    class Reading(Entity):
        value = Float()
        total = Integer()
        flag = String()

    reading = Reading.deserialize({"_type": "Reading", "value": "1.5", "total": "42", "flag": "7"})
    assert (reading.value, reading.total, reading.flag) == (1.5, 42, "7")
    with pytest.raises(ValueError):
        Reading.deserialize({"_type": "Reading", "total": "many"})
    with pytest.raises(ValueError):
        reading.total = "3"            # flaw 11 stays fixed: no coercion on assignment


def test_serialize_format_with_and_without_the_mixin():
    class Plain(Entity):
        name = String()
        tags = ManyToMany("Plain", "tags")

    class Stamped(Entity, TimestampedMixin):
        name = String()

    SystemTime.get_instance().set_time(1_700_000_000_123)
    try:
        a = Plain(name="a")
        b = Plain(name="b", tags=[a])
        stamped = Stamped(name="s")
    finally:
        SystemTime.get_instance().clear_time()
    assert b.serialize() == {"_type": "Plain", "_id": "2", "name": "b", "tags": ["1"]}
    assert stamped.serialize() == {
        "timestamp_created": "2023-11-14 22:13:20.123", "timestamp_updated": "2023-11-14 22:13:20.123",
        "creator": "system", "updater": "system", "owner": "system", "_type": "Stamped", "_id": "1",
        "name": "s"}
    assert stamped._timestamp_created == 1_700_000_000_123      # milliseconds, as in the original


def test_relations_by_type_list_alias_single_value_and_adhoc():
    class Dep(Entity):
        __alias__ = "name"
        name = String()
        staff = OneToMany(["User"], "dep")

    class User(Entity):
        __alias__ = "login"
        login = String()
        dep = ManyToOne(["Dep"], "staff")
        buddy = OneToOne("User", "buddy")

    eng = Dep(name="Eng")
    alice = User(login="alice")
    bob = User(login="bob")
    bob.dep = "Eng"
    eng.staff = "alice"                 # one value for a to-many relation
    assert bob.dep is None and alice.dep is eng
    eng.staff = ["alice", bob]
    assert sorted(u.login for u in eng.staff) == ["alice", "bob"]
    with pytest.raises(ValueError, match="No entity of types"):
        alice.dep = "Sales"
    with pytest.raises(TypeError):
        eng.staff = 1.5
    alice.add_relation("mentors", "mentored_by", bob)
    alice.add_relation("mentors", "mentored_by", bob)
    _reopen()
    alice, bob = User["alice"], User["bob"]
    assert alice.get_relations("mentors") == [bob] and bob.get_relations("mentored_by", "User") == [alice]
    assert alice.get_relations("mentors", "Dep") == []
    alice.remove_relation("mentors", "mentored_by", bob)
    assert alice.get_relations("mentors") == [] and bob.get_relations("mentored_by") == []


def test_relations_are_inherited_by_subclasses():
    class Base(Entity):
        name = String()
        items = OneToMany("Item", "holder")

    class Derived(Base):
        extra = String()

    class Item(Entity):
        name = String()
        holder = ManyToOne("Derived", "items")

    holder = Derived(name="d", extra="x")
    item = Item(name="i", holder=holder)
    assert list(holder.items) == [item] and item.holder is holder


def test_undeclared_attributes_on_open_classes_are_persisted_and_hooked():
    seen = []

    class Animal(Entity, TimestampedMixin):
        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            seen.append((field_name, new_value))
            return new_value != "forbidden"

    class Dog(Animal):
        pass

    class Strict(Entity):
        name = String()

    rex = Dog(name="Rex", tricks=["sit"])
    Animal(name="Generic")
    with pytest.raises(ValueError):
        rex.name = "forbidden"
    with pytest.raises(ValidationError):
        rex.bad = object()
    with pytest.raises(ValidationError):
        Strict(name="s", other=1)
    _reopen()
    again = Dog.load(rex._id)
    assert again.name == "Rex" and again.tricks == ["sit"] and ("name", "Rex") in seen
    assert Animal.count() == 2 and sorted(a.name for a in Animal.instances()) == ["Generic", "Rex"]
    assert Dog.count() == 1 and again.serialize()["tricks"] == ["sit"]


def test_fields_named_id_and_owner():
    class Account(Entity):
        __alias__ = "id"
        id = String()
        owner = String()

    account = Account(id="acc-1", owner="bob")
    assert account._id == "1" and account.id == "acc-1" and account.owner == "bob"
    assert Account["acc-1"] is account and account.meta()["owner"] == "system"


def test_paging_finding_and_index_rebuild():
    class Ticket(Entity):
        title = String()
        status = String(indexed=True)

    for i in range(7):
        Ticket(title=f"t{i}", status="open" if i % 2 == 0 else "closed")
    Ticket.load(3).delete()
    assert [t._id for t in Ticket.load_some(1, 3)] == ["1", "2", "4"]
    assert [t._id for t in Ticket.load_some(0, 2)] == ["1", "2"]
    with pytest.raises(ValueError, match="from_id must be at least 1"):
        Ticket.load_some(-1, 2)
    with pytest.raises(ValueError, match="count must be at least 1"):
        Ticket.load_some(1, 0)
    page, next_from = Ticket.find_by("status", "open", from_id=1, count=2)
    assert [t._id for t in page] == ["1", "5"] and next_from == 6
    page, next_from = Ticket.find_by("status", "open", from_id=next_from, count=2)
    assert [t._id for t in page] == ["7"] and next_from is None
    with pytest.raises(ValueError):
        Ticket.find_by("title", "t1")
    assert [t._id for t in Ticket.find({"title": "t4"})] == ["5"]
    cursor, rounds = 1, 0
    while cursor is not None:
        cursor = Ticket.rebuild_field_index("status", from_id=cursor, batch=2)
        rounds += 1
    assert rounds == 3 and Ticket.count_by("status", "open") == 3
    assert Ticket["title", "t1"] is None        # only the alias field has a lookup


def test_database_documents_and_versions():
    db = Database.get_instance()
    db.save("person", "1", {"name": "John", "age": 30})
    db.update("person", "1", "age", 31)
    assert db.load("person", "1") == {"name": "John", "age": 31}
    assert db.get_all() == {"person@1": {"name": "John", "age": 31}}
    assert json.loads(db.dump_json())["person"]["1"]["age"] == 31
    db.delete("person", "1")
    assert db.load("person", "1") is None
    assert [e["operation"] for e in db.audit_entries(0, 10)[0]] == ["save", "save", "update", "delete"]

    class Product(Entity):
        __version__ = 1
        name = String()

    widget = Product(name="Widget")
    assert db.load("Product", widget._id)["__version__"] == 1
    db.clear_registry()

    class Product(Entity):            # noqa: F811  (the next schema version)
        __version__ = 2
        name = String()
        price = Float(default=0.0)

        @classmethod
        def migrate(cls, obj, from_version, to_version):
            obj["price"] = 9.99 if from_version == 1 else obj.get("price")
            return obj

    db.register_entity_type(Product)
    loaded = Product.load(widget._id)
    assert loaded.price == 9.99 and db.load("Product", widget._id)["__version__"] == 1  # reads never write
    loaded.name = "Widget 2"
    assert db.load("Product", widget._id)["__version__"] == 2
    assert "Product" in db._entity_types


def test_memory_storage_and_save_touch():
    storage = MemoryStorage()
    db = Database.init(db_storage=storage)

    class Item(Entity, TimestampedMixin):
        name = String()

    SystemTime.get_instance().set_time(1_000_000)
    try:
        item = Item(name="a")
        SystemTime.get_instance().advance_time(60_000)
        item._save()
        assert item._timestamp_updated == 1_060_000 and item._timestamp_created == 1_000_000
    finally:
        SystemTime.get_instance().clear_time()
    assert "1:1" in storage and db.load("Item", "1")["name"] == "a"


def test_deserialize_upserts_by_alias_and_refuses_a_taken_alias():
    class Tag(Entity):
        __alias__ = "name"
        name = String()

    first = Tag(name="a")
    assert Tag.deserialize({"_type": "Tag", "_id": "5", "name": "a"}) is first and Tag.count() == 1
    Tag(name="b")
    with pytest.raises(ConflictError):
        Tag.deserialize({"_type": "Tag", "_id": "2", "name": "a"})
    assert Tag.count() == 2 and Tag["b"]._id == "2"


def test_ic_python_db_import_name_and_schema_upgrade_check():
    import ic_python_db
    from ic_python_db.schema import ChangeType, SchemaIncompatibleError, check_upgrade_compatibility

    assert ic_python_db.Entity is Entity and ic_python_db.Database is Database

    class Gadget(ic_python_db.Entity):
        __version__ = 1
        size = ic_python_db.String(max_length=5)

    db = Database.get_instance()
    assert check_upgrade_compatibility(db) == [] and len(db.get_schema_hash()) == 64
    assert db.load("_system", "_schema")["Gadget"]["fields"]["size"] == {
        "type": "String", "kind": "property", "constraints": {"max_length": 5}}
    db.clear_registry()

    class Gadget(ic_python_db.Entity):          # noqa: F811  (a breaking change: text -> number)
        __version__ = 2
        size = ic_python_db.Integer()

    db.register_entity_type(Gadget)
    with pytest.raises(SchemaIncompatibleError, match="Gadget.size"):
        db.check_upgrade_compatibility()
    changes = db.check_upgrade_compatibility(raise_on_error=False)
    assert {c.change_type for c in changes} >= {ChangeType.TYPE_CHANGED, ChangeType.VERSION_CHANGED}
    assert ic_python_db.schema_hash({"a": 1}) == ic_python_db.schema_hash({"a": 1})


def test_documents_saved_before_their_class_become_entities():
    db = Database.get_instance()
    db.save("Widget", "1", {"_type": "Widget", "_id": "1", "name": "old"})
    assert db.load("Widget", "1") == {"_type": "Widget", "_id": "1", "name": "old"}

    class Widget(Entity):
        __version__ = 2
        name = String()
        price = Float(default=0.0)

        @classmethod
        def migrate(cls, obj, from_version, to_version):
            obj["price"] = 5.0
            return obj

    widget = Widget.load("1")
    assert (widget.name, widget.price) == ("old", 5.0) and Widget.count() == 1
    assert db.get_all() == {"Widget@1": dict(widget.serialize(), __version__=1)}


def test_a_storage_written_against_the_original_base_class_works():
    from kybra_simple_db import Storage

    class DictStorage(Storage):        # only the six methods the original's base class asks for
        def __init__(self):
            self.data = {}

        def insert(self, key, value):
            self.data[key] = value

        def get(self, key):
            return self.data.get(key)

        def remove(self, key):
            del self.data[key]          # raises KeyError for an absent key, like MemoryStorage

        def items(self):
            return iter(sorted(self.data.items()))

        def __contains__(self, key):
            return key in self.data

        def keys(self):
            return iter(sorted(self.data))

    storage = DictStorage()
    Database.init(db_storage=storage)

    class Note(Entity):
        __alias__ = "title"
        title = String()

    db = Database.get_instance()
    with db.transaction():
        note = Note(title="a")
        note.title = "b"            # the alias key of "a" is staged and removed in one commit
    assert Note["b"] is note and Note["a"] is None and storage.len() > 0
    _reopen()
    assert Note["b"].title == "b"


def test_load_page_and_max_id_by_type_name():
    class Row(Entity):
        name = String()

    for i in range(5):
        Row(name=f"r{i}")
    Row.load(2).delete()
    db = Database.get_instance()
    page = db.load_page("Row", 1, 3)
    assert [row_id for row_id, _ in page] == ["1", "3", "4"] and page[1][1]["name"] == "r2"
    assert [row_id for row_id, _ in db.load_page("Row", 4, 10, max_id=4)] == ["4"]
    assert db.max_id("Row") == 5 and db.load_page("Nothing", 1, 5) == []
    with pytest.raises(ValueError, match="from_id must be at least 1"):
        db.load_page("Row", 0, 5)
