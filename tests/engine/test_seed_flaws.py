"""Regression tests: one per flaw of the seed packages listed in issue 2."""

import gc
import json

import pytest
from kybra_simple_db import (
    ACTION_MODIFY,
    Boolean,
    ConflictError,
    CountingMap,
    Database,
    Entity,
    Float,
    Integer,
    ManyToMany,
    ManyToOne,
    MemoryMap,
    OneToMany,
    String,
    TimestampedMixin,
    ValidationError,
)
from kybra_simple_db.context import get_caller_id


def _snapshot(storage):
    return list(storage.items())


def test_flaw1_create_is_constant_work_and_entities_are_not_kept(fresh_db):
    counting = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    db = Database.init(db_storage=counting)

    class Note(Entity):
        __alias__ = "title"
        title = String()
        body = String()
        rank = Integer()

    costs = []
    for i in range(3000):
        counting.reset()
        Note(title=f"t{i}", body="b", rank=i)
        costs.append((counting.reads, counting.writes))
    assert costs[10] == costs[1500] == costs[2999]
    gc.collect()
    assert len(db.identity) < 10


def test_flaw2_audit_sequence_survives_reinit(storage):
    class Item(Entity):
        name = String()

    Item(name="a")
    Item(name="b")
    db = Database.init(db_storage=storage)
    assert db.next_audit_seq() == 2
    Item(name="c")
    entries, _ = db.audit_entries(0, 10)
    assert [e["seq"] for e in entries] == [0, 1, 2]
    assert [e["changes"]["name"] for e in entries] == ["a", "b", "c"]


def test_flaw3_owner_and_timestamps_restored_after_reinit(storage):
    class Doc(Entity, TimestampedMixin):
        title = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if action == ACTION_MODIFY and entity._owner != get_caller_id():
                return False, None
            return True, new_value

    db = Database.get_instance()
    with db.as_user("alice"):
        doc = Doc(title="a")
    created = doc.timestamp_created
    db = Database.init(db_storage=storage)
    again = Doc.load(1)
    assert again is not doc
    assert (again.owner, again.creator, again.updater, again.timestamp_created) == \
        ("alice", "alice", "alice", created)
    with db.as_user("bob"):
        with pytest.raises(ValueError):
            again.title = "hacked"
    with db.as_user("alice"):
        again.title = "mine"
    assert Doc.load(1).title == "mine"


def test_flaw4_reading_never_writes(storage):
    class Item(Entity, TimestampedMixin):
        __alias__ = "name"
        name = String()
        peers = ManyToMany("Item", "peers")

    a = Item(name="a")
    Item(name="b", peers=[a])
    counting = CountingMap(storage)
    Database.init(db_storage=counting)
    counting.reset()
    item = Item.load(2)
    assert item.name == "b" and [p.name for p in item.peers] == ["a"]
    assert Item["a"].serialize()["peers"] == ["2"]
    Item.instances()
    Item.page(None, 10)
    assert counting.writes == 0


def test_flaw5_delete_leaves_no_dangling_ids():
    class Person(Entity):
        name = String()
        mother = ManyToOne("Person", "children")
        children = OneToMany("Person", "mother")
        friends = ManyToMany("Person", "friends")

    alice = Person(name="alice")
    john = Person(name="john", mother=alice, friends=[alice])
    alice.delete()
    assert john.mother is None and list(john.friends) == []
    Database.init(db_storage=Database.get_instance()._storage)
    again = Person.load(john._id)
    assert again.mother is None and len(again.friends) == 0
    assert again.serialize()["_id"] == "2"


def test_flaw6_hooks_see_relations_and_fail_closed():
    class Team(Entity):
        name = String()
        members = OneToMany("Member", "team")

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "members" and entity.name == "closed":
                return False, None
            return True, new_value

    class Member(Entity):
        name = String()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "name" and new_value == "silent":
                return None
            return True

    closed = Team(name="closed")
    member = Member(name="m")
    with pytest.raises(ValueError):
        member.team = closed
    with pytest.raises(ValueError):
        closed.members = [member]
    assert member.team is None and len(closed.members) == 0
    with pytest.raises(ValueError):
        member.name = "silent"
    with pytest.raises(ValidationError):
        member.nickname = "undeclared"
    with pytest.raises(ValidationError):
        Member(name="x", nickname="undeclared")
    with pytest.raises(PermissionError):
        Member.deserialize({"_type": "Member", "name": "forged", "owner": "mallory"})
    with pytest.raises(PermissionError):
        Member.deserialize({"_type": "Member", "_id": "1", "creator": "mallory"})
    assert Member.count() == 1 and member.meta()["owner"] == "system"


def test_flaw7_failed_create_leaves_no_impostor_and_one_object_per_id():
    class User(Entity):
        __alias__ = "name"
        name = String()

    first = User(name="ann")
    with pytest.raises(ConflictError):
        User(name="ann")
    assert User.count() == 1 and User.max_id() == 1
    assert User.load(2) is None and User["ann"] is first
    assert User.load(1) is User.load("1") is first


def test_flaw8_operations_are_all_or_nothing(storage):
    class Box(Entity):
        label = String()
        size = Integer()

        @staticmethod
        def on_event(entity, field_name, old_value, new_value, action):
            if field_name == "size" and new_value == 13:
                raise RuntimeError("unlucky")
            return True

    box = Box(label="a", size=1)
    before = _snapshot(storage)
    with pytest.raises(RuntimeError):
        box.update_fields({"label": "b", "size": 13})
    assert _snapshot(storage) == before and box.label == "a" and box.version == 1
    db = Database.get_instance()
    with pytest.raises(RuntimeError):
        with db.transaction():
            Box(label="c", size=2)
            box.label = "changed"
            Box(label="d", size=13)
    assert _snapshot(storage) == before and box.label == "a" and Box.count() == 1


def test_flaw9_aliases_unique_renamed_and_dump_complete():
    class Tag(Entity):
        __alias__ = "name"
        name = String()

    tag = Tag(name="a@b")
    other = Tag(name="x")
    with pytest.raises(ConflictError):
        other.name = "a@b"
    tag.name = "renamed"
    assert Tag["a@b"] is None and Tag["renamed"] is tag
    other.name = "a@b"
    assert Tag["a@b"] is other
    dump = json.loads(Database.get_instance().dump_json())
    assert sorted(e["name"] for e in dump["Tag"].values()) == ["a@b", "renamed"]


def test_flaw10_relations_keep_their_target_type():
    class Cat(Entity):
        name = String()

    class Dog(Entity):
        name = String()

    class Owner(Entity):
        name = String()
        cats = OneToMany("Cat", "owner")
        dogs = OneToMany("Dog", "owner")

    cat = Cat(name="cat1")
    dog = Dog(name="dog1")
    assert cat._id == dog._id == "1"
    owner = Owner(name="o", cats=[cat], dogs=[dog])
    assert [c.name for c in owner.cats] == ["cat1"] and [d.name for d in owner.dogs] == ["dog1"]
    assert cat.owner is owner and dog.owner is owner
    with pytest.raises(ValidationError):
        owner.cats = [dog]


def test_flaw11_strict_field_types():
    class Measure(Entity):
        ratio = Float()
        total = Integer()
        flag = Boolean()

    m = Measure(ratio=1, total=2, flag=False)
    assert m.ratio == 1.0 and isinstance(m.ratio, float)
    with pytest.raises(ValueError):
        m.total = True
    with pytest.raises(ValueError):
        m.flag = "maybe"
    with pytest.raises(ValueError):
        m.ratio = False
    with pytest.raises(ValueError):
        m.total = "3"
    assert (m.total, m.flag) == (2, False)


def test_flaw12_empty_storage_is_used_not_replaced():
    class FalsyMap(MemoryMap):
        def __len__(self):
            return len(self._data)

    storage = FalsyMap(max_key_size=100, max_value_size=1000)
    assert not storage
    db = Database.init(db_storage=storage)

    class Thing(Entity):
        name = String()

    Thing(name="kept")
    assert db._storage is storage and storage.get("1:1") is not None
