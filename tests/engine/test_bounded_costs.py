"""No operation's work grows past a fixed bound with the data: restore page caps, filtered counts,
restore gaps, deletes with many links and deep cascades (counted in storage calls, small sizes)."""

import re

import pytest
from engine_helpers import dump_pages, node_type
from kybra_simple_db import Database, Entity, StorageLimitError, String, ValidationError
from kybra_simple_db.dump_restore import MAX_RESTORE_RECORDS


def test_restore_refuses_more_records_than_one_call_may_take(fresh_db):
    class Thing(Entity):
        name = String()

    records = [{"type": "Thing", "id": i, "fields": {"name": "t"}, "owner": "o", "creator": "o",
                "updater": "o", "created": 1, "updated": 1, "version": 1}
               for i in range(1, MAX_RESTORE_RECORDS + 2)]
    before = dict(fresh_db._storage._data)
    with pytest.raises(StorageLimitError, match="at most"):
        Database.get_instance().restore(records)
    assert dict(fresh_db._storage._data) == before
    assert Database.get_instance().restore(records[:3]) == 3


def _counting_db():
    from kybra_simple_db import CountingMap, MemoryMap

    storage = CountingMap(MemoryMap(0, 100, 1000))
    return Database.init(db_storage=storage, audit_enabled=True), storage


def test_a_cascade_chain_deeper_than_the_recursion_limit_deletes(fresh_db):
    import sys

    Node = node_type()
    depth = sys.getrecursionlimit() * 3
    fresh_db.delete_budget = depth + 10
    root = Node(label="root")
    parent = root
    for i in range(depth):
        parent = Node(label=str(i), parent=parent)
    root.delete()
    assert Node.count() == 0
    assert Node.load(depth) is None


def test_a_cascade_past_the_budget_is_refused_and_changes_nothing(fresh_db):
    Node = node_type()
    fresh_db.delete_budget = 5
    root = Node(label="root")
    parent = root
    for i in range(8):
        parent = Node(label=str(i), parent=parent)
    before = dict(fresh_db._storage._data)
    with pytest.raises(StorageLimitError, match="more than 5 linked entities"):
        root.delete()
    assert dict(fresh_db._storage._data) == before
    assert Node.count() == 9 and root.is_live()
    # the paged way: delete the chain below a node within the budget, then the rest
    assert Node.load(4).delete_linked("children") == 1
    root.delete()
    assert Node.count() == 0


class _Links:
    def __init__(self, links: int, budget: int):
        from kybra_simple_db import ManyToMany

        self.db, self.storage = _counting_db()
        self.db.delete_budget = budget

        class Tag(Entity):
            label = String()
            people = ManyToMany("Person", "tags")

        class Person(Entity):
            name = String()
            tags = ManyToMany("Tag", "people")

        self.Tag, self.Person = Tag, Person
        self.tag = Tag(label="hub")
        for i in range(links):
            self.tag.people.add(Person(name=str(i)))

    def refused_delete_calls(self) -> int:
        self.storage.reset()
        with pytest.raises(StorageLimitError):
            self.tag.delete()
        return self.storage.reads + self.storage.writes


def test_a_delete_with_more_links_than_the_budget_is_refused_after_bounded_work(fresh_db):
    small = _Links(links=30, budget=10).refused_delete_calls()
    large = _Links(links=300, budget=10).refused_delete_calls()
    assert large == small     # refused after reading the first ids, whatever the number of links


def test_clear_links_empties_a_large_relation_in_pages_then_delete_works(fresh_db):
    links = _Links(links=25, budget=10)
    tag = links.tag
    before = dict(links.storage.inner._data)
    with pytest.raises(StorageLimitError):
        tag.delete()
    assert dict(links.storage.inner._data) == before
    removed = []
    while True:
        links.storage.reset()
        count = tag.clear_links("people", 10)
        assert links.storage.writes <= 10 * 4 + 4     # bounded by the page, not by the relation
        if count == 0:
            break
        removed.append(count)
    assert removed == [10, 10, 5]
    assert tag.link_count("people") == 0
    assert all(not p.tags.ids() for p in links.Person.instances())
    tag.delete()
    assert links.Tag.count() == 0 and links.Person.count() == 25


def _city_type():
    from kybra_simple_db import Integer

    class Resident(Entity):
        city = String(indexed=True)
        age = Integer(indexed=True)

    return Resident


def test_filtered_count_reads_one_key_whatever_the_ids(fresh_db):
    db, storage = _counting_db()
    Resident = _city_type()
    db.bucket_width = 16     # many buckets of ids with few entities
    people = [Resident(city="c" + str(i % 3), age=i % 5) for i in range(200)]
    storage.reset()
    assert Resident.count_by("city", "c1") == len([p for p in people if p.city == "c1"])
    assert storage.reads <= 2
    people[1].city = "c2"
    people[2].delete()
    people[4].age = None
    assert Resident.count_by("city", "c1") == len([p for p in people if p.is_live() and p.city == "c1"])
    assert Resident.count_by("city", "c2") == len([p for p in people if p.is_live() and p.city == "c2"])
    assert Resident.count_by("age", 4) == len([p for p in people if p.is_live() and p.age == 4])
    assert Resident.count_by("city", "nowhere") == 0
    assert any(re.match(r"\d+\+city\.", key) for key in storage.inner._data)   # the heavy values' counts


def test_counts_follow_rollbacks_restores_and_rebuilds(fresh_db):
    Resident = _city_type()
    a = Resident(city="x", age=1)
    with pytest.raises(RuntimeError), fresh_db.transaction():
        Resident(city="x", age=1)
        a.city = "y"
        raise RuntimeError("roll back")
    assert Resident.count_by("city", "x") == 1 and Resident.count_by("city", "y") == 0
    Resident.rebuild_keys()
    assert Resident.count_by("city", "x") == 1
    records, _ = fresh_db.dump_page(None, 100)
    from kybra_simple_db import MemoryMap

    Database.init(db_storage=MemoryMap(0, 100, 1000))
    Database.get_instance().restore(records)
    assert Resident.count_by("city", "x") == 1


def test_an_index_stored_before_counts_existed_is_counted_from_its_buckets(fresh_db):
    """Data written before per-value counts keeps working: its index is read bucket by bucket."""
    import json

    from kybra_simple_db import key_layout as keys

    Resident = _city_type()
    for i in range(5):
        Resident(city="old", age=i)
    tc = fresh_db.type_code(Resident.__type_name__)
    schema = json.loads(fresh_db.get_value(keys.key_schema_key(tc)))
    del schema["t"]     # (the count mode of indexes created now: see Database.count_mode)
    storage = fresh_db._storage
    storage.insert(keys.key_schema_key(tc), json.dumps(schema))
    for key in [k for k in storage._data if re.match(r"\d+[=+]", k)]:
        storage.remove(key)
    Database.init(db_storage=storage)
    assert Resident.count_by("city", "old") == 5
    Resident(city="old", age=9)
    assert Resident.count_by("city", "old") == 6


def _record(eid: int) -> dict:
    return {"type": "Gap", "id": eid, "fields": {"name": "g" + str(eid)}, "owner": "o", "creator": "o",
            "updater": "o", "created": 1, "updated": 1, "version": 1}


def _gap_type():
    class Gap(Entity):
        name = String()

    return Gap


def test_restore_into_a_large_id_gap_writes_a_few_keys(fresh_db):
    db, storage = _counting_db()
    Gap = _gap_type()
    Gap(name="first")
    storage.reset()
    db.restore([_record(10_000_000)])
    assert storage.writes <= 12                      # not one write per bucket of the gap
    storage.reset()
    items, cursor = Gap.page(1, 10)
    assert [g.id for g in items] == [10_000_000] and cursor is None
    assert storage.reads <= 6
    assert db.is_deleted(db.type_code("Gap"), 5_000_000) and Gap.load(5_000_000) is None
    assert Gap(name="next").id == 10_000_001 and Gap.count() == 3
    assert [g.id for g in Gap.query().order_by("-id").all()] == [10_000_001, 10_000_000, 1]


def test_an_id_restored_inside_a_gap_splits_it(fresh_db):
    db = Database.get_instance()
    Gap = _gap_type()
    db.restore([_record(1_000_000)])
    db.restore([_record(500_000), _record(500_001), _record(3)])
    assert [g.id for g in Gap.instances()] == [3, 500_000, 500_001, 1_000_000]
    assert Gap.count() == 4 and Gap.load(499_999) is None and Gap.load(2) is None
    Database.init(db_storage=db._storage)              # the spans survive a restart
    assert [g.id for g in Gap.instances()] == [3, 500_000, 500_001, 1_000_000]


def test_many_splits_stay_correct_past_the_span_cap(fresh_db):
    from kybra_simple_db.db_engine import MAX_DELETED_SPANS

    db = Database.get_instance()
    Gap = _gap_type()
    db.bucket_width = 16
    db.restore([_record(20_000)])
    back = list(range(100, 100 + 40 * (MAX_DELETED_SPANS + 5), 40))
    for eid in back:
        db.restore([_record(eid)])
    assert [g.id for g in Gap.instances()] == back + [20_000]
    assert len(db.deleted_spans(db.type_code("Gap"))) <= MAX_DELETED_SPANS


def test_a_refused_restore_leaves_the_gap_unmarked(fresh_db):
    db = Database.get_instance()
    Gap = _gap_type()
    before = dict(db._storage._data)
    with pytest.raises(ValidationError):
        db.restore([_record(5_000_000), {"type": "Gap", "id": "bad"}])
    assert dict(db._storage._data) == before
    assert db.deleted_spans(db.type_code("Gap")) == [] and Gap(name="a").id == 1


def test_a_dump_page_ends_early_when_its_records_carry_many_link_ids(fresh_db, monkeypatch):
    from kybra_simple_db import ManyToMany, MemoryMap, dump_restore

    class Label(Entity):
        name = String()
        items = ManyToMany("Piece", "labels")

    class Piece(Entity):
        name = String()
        labels = ManyToMany("Label", "items")

    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 10)
    pieces = [Piece(name=str(i)) for i in range(6)]
    for i in range(5):
        label = Label(name=str(i))
        for piece in pieces:
            label.items.add(piece)
    db = Database.get_instance()
    pages = dump_pages(db)
    side = "items" if any("items" in r.get("links", {}) for page in pages for r in page) else "labels"
    for page in pages:
        assert sum(len(r.get("links", {}).get(side, [])) for r in page) < 10 + 6
    before = db.dump_json()
    copy = Database.init(db_storage=MemoryMap(0, 100, 1000))
    copy.restore([r for page in pages for r in page])
    assert copy.dump_json() == before and len(pages) > 2


def test_a_dump_page_ends_before_a_record_its_caller_does_not_admit(fresh_db):
    """`admit(record)` is asked before each record goes in, the page's first included: a page that
    admits records up to a size ends before the first that does not fit, one that admits none (room
    taken by something else) is empty, and each goes on from its cursor with nothing lost or repeated."""

    class Sheet(Entity):
        name = String()

    for i in range(5):
        Sheet(name="s" * (10 * i))
    db = Database.get_instance()
    whole, _ = db.dump_page(None, 100)
    empty, cursor = db.dump_page(None, 100, admit=lambda record: False)
    assert empty == [] and cursor is not None
    def short(record: dict) -> bool:
        return len(record.get("fields", {}).get("name", "")) < 25

    taken, cursor = db.dump_page(cursor, 100, admit=short)
    assert [r["fields"]["name"] for r in taken] == ["", "s" * 10, "s" * 20]
    rest, last = db.dump_page(cursor, 100)
    assert last is None and taken + rest == whole


def test_deletes_beside_a_restored_gap_keep_counts_and_spans(fresh_db):
    db = Database.get_instance()
    Gap = _gap_type()
    near = Gap(name="near")
    db.restore([_record(1_000_000)])
    spans = db.deleted_spans(db.type_code("Gap"))
    assert spans
    Gap.load(1_000_000).delete()
    near.delete()
    assert Gap.count() == 0 and Gap.instances() == [] and Gap.load(1_000_000) is None
    Database.init(db_storage=db._storage)              # counts and spans as stored
    db = Database.get_instance()
    assert Gap.count() == 0 and db.deleted_spans(db.type_code("Gap")) == spans
    assert Gap(name="again").id == 1_000_001 and Gap.count() == 1
