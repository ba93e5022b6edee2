"""Exact storage calls per operation, counted by a wrapper around the in-memory map (deterministic)."""

import pytest
from kybra_simple_db import (
    CountingMap,
    Database,
    Entity,
    Integer,
    ManyToMany,
    ManyToOne,
    MemoryMap,
    String,
)


@pytest.fixture
def counted():
    counting = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    Database.init(db_storage=counting)

    class Person(Entity):
        __alias__ = "name"
        name = String()
        age = Integer()
        city = String()
        friends = ManyToMany("Person", "friends")

    class Task(Entity):
        title = String()
        assignee = ManyToOne("Person", "tasks")

    for i in range(400):
        Person(name=f"p{i}", age=i, city="x")
    return counting, Person, Task


def _cold(counting, cls):
    Database.init(db_storage=counting)
    cls.count()
    counting.reset()


def _measure(counting, fn):
    counting.reset()
    result = fn()
    return counting.reads, counting.writes, result


def test_create_writes_document_alias_counter_and_audit(counted):
    counting, Person, _ = counted
    reads, writes, _ = _measure(counting, lambda: Person(name="new", age=1, city="c"))
    assert (reads, writes) == (1, 4)


def test_get_by_id_and_alias_from_cold_cache_only_read(counted):
    counting, Person, _ = counted
    _cold(counting, Person)
    assert _measure(counting, lambda: Person.load(5).age)[:2] == (1, 0)
    _cold(counting, Person)
    assert _measure(counting, lambda: Person["p7"].age)[:2] == (2, 0)


def test_update_one_field_is_document_plus_audit(counted):
    counting, Person, _ = counted
    person = Person.load(9)     # the update writes the document it loaded without reading it again
    assert _measure(counting, lambda: setattr(person, "age", 99))[:2] == (0, 2)
    assert _measure(counting, lambda: setattr(person, "age", 98))[:2] == (1, 2)     # a commit since


def test_link_and_unlink_cost_three_writes_whatever_the_degree(counted):
    counting, Person, Task = counted
    hub = Person.load(1)
    for i in range(2, 300):
        hub.link("friends", i)
    other = Person.load(350)
    assert _measure(counting, lambda: hub.link("friends", other))[:2] == (3, 3)
    assert _measure(counting, lambda: hub.unlink("friends", other))[:2] == (3, 3)
    task = Task(title="t")
    assert _measure(counting, lambda: setattr(task, "assignee", hub))[:2] == (2, 3)


def test_delete_is_constant(counted):
    counting, Person, _ = counted
    assert _measure(counting, lambda: Person.load(20).delete())[:2] == (5, 5)


def test_page_of_100_with_half_deleted_reads_at_most_150(counted):
    counting, Person, _ = counted
    for i in range(50, 350, 2):
        Person.load(i).delete()
    _cold(counting, Person)
    reads, writes, (items, cursor) = _measure(counting, lambda: Person.page(40, 100))
    assert len(items) == 100 and writes == 0 and reads == 101
    assert [p.id for p in items][:12] == [41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53, 55]
    assert cursor == items[-1].id


def test_ten_thousand_links_with_values_capped_at_1000_bytes():
    storage = MemoryMap(max_key_size=100, max_value_size=1000)
    Database.init(db_storage=storage, audit_enabled=False)

    class Node(Entity):
        name = String()
        peers = ManyToMany("Node", "peers")

    hub = Node(name="hub")
    db = Database.get_instance()
    with db.transaction():
        for i in range(10_000):
            Node(name=f"n{i}")
    with db.transaction():
        for i in range(2, 10_002):
            hub.link("peers", i)
    assert len(hub.peers) == 10_000
    ids, cursor = hub.links("peers", None, 100)
    assert ids == list(range(2, 102)) and cursor == 101
    assert Node.load(5000).has_link("peers", hub)
    assert max(len(v.encode()) for _, v in storage.items()) <= 1000


def test_first_create_of_a_type_costs_the_same():
    counting = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    Database.init(db_storage=counting)

    class Fresh(Entity):
        __alias__ = "name"
        name = String()
        a = Integer()
        b = Integer()

    assert _measure(counting, lambda: Fresh(name="first", a=1, b=2))[:2] == (1, 4)
    Database.init(db_storage=counting)
    counting.reset()
    Fresh.load(1)
    assert counting.writes == 0
