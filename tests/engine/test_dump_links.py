"""Dump and restore of entities with any number of many-to-many links: a record's link ids are split
across pages (continuation records), so every page stays bounded however many links one entity has."""

import pytest
from engine_helpers import dump_pages
from kybra_simple_db import Database, Entity, ManyToMany, MemoryMap, String, dump_restore


def _types() -> tuple:
    """Group.members is the side a dump lists ("Group" < "Person")."""
    from kybra_simple_db import OneToMany

    class Group(Entity):
        label = String()
        members = ManyToMany("Person", "groups")
        leads = OneToMany("Person", "led_by")

    class Person(Entity):
        name = String()
        groups = ManyToMany("Group", "members")

    return Group, Person


def _link_ids(page: list) -> int:
    return sum(len(ids) for record in page for ids in (record.get("links") or {}).values())


def _hub(links: int):
    Group, Person = _types()
    people = [Person(name=str(i)) for i in range(links)]
    hub = Group(label="hub")
    with Database.get_instance().transaction():
        for person in people:
            hub.members.add(person)
    return hub


def test_no_dump_page_carries_more_link_ids_than_the_cap(fresh_db, monkeypatch):
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 100)
    hub = _hub(1000)
    pages = dump_pages(fresh_db)
    assert max(_link_ids(page) for page in pages) <= 100
    before = fresh_db.dump_json()
    copy = Database.init(db_storage=MemoryMap(0, 100, 1000))
    for page in pages:
        copy.restore(page)
    assert copy.dump_json() == before
    assert type(hub).load(1).members.ids() == list(range(1, 1001))


def _copy() -> Database:
    return Database.init(db_storage=MemoryMap(0, 100, 1000))


def _restore_pages(db: Database, pages: list) -> None:
    for page in pages:
        db.restore(page)


def test_every_relation_kind_round_trips_page_by_page_with_small_caps(fresh_db, monkeypatch):
    from kybra_simple_db import ManyToOne, OneToMany

    class Club(Entity):
        name = String()
        members = ManyToMany("Player", "clubs")
        rivals = ManyToMany("Club", "rivals")
        players = OneToMany("Player", "captain_of")

    class Player(Entity):
        name = String()
        clubs = ManyToMany("Club", "members")
        captain_of = ManyToOne("Club", "players")

    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 7)
    players = [Player(name=str(i)) for i in range(40)]
    clubs = [Club(name=str(i)) for i in range(12)]
    for i, club in enumerate(clubs):
        club.members = players[i:i + 25]
        club.rivals = [c for c in clubs if c is not club and (c.id + club.id) % 3 == 0]
    players[3].captain_of = clubs[0]
    players[3].delete()
    pages = dump_pages(fresh_db, 5)
    assert max(_link_ids(page) for page in pages) <= 7
    assert any(r.get("more_links") for page in pages for r in page)
    assert any("links_of" in r for page in pages for r in page)
    before = fresh_db.dump_json()
    copy = _copy()
    _restore_pages(copy, pages)
    assert copy.dump_json() == before
    assert copy.get(f"{copy.type_code('Club')}*1") is None     # no entity left awaiting links
    rivals = sorted(c.id for c in clubs if c.id != 2 and (c.id + 2) % 3 == 0)
    assert sorted(Club.load(2).rivals.ids()) == rivals


def test_sparse_links_into_a_large_id_range_page_by_bucket_reads(fresh_db, monkeypatch):
    Group, Person = _types()
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_BUCKETS", 3)
    width = fresh_db.bucket_width
    fresh_db.restore([{"type": "Person", "max_id": 20 * width}])
    group = Group(label="sparse")
    far = [Person(name="a"), Person(name="b")]
    group.members = far
    pages = dump_pages(fresh_db, 100)
    assert len(pages) >= 7      # 21 buckets of ids, 3 read per page
    before = fresh_db.dump_json()
    copy = _copy()
    _restore_pages(copy, pages)
    assert copy.dump_json() == before and Group.load(1).members.ids() == [p.id for p in far]


def _announced(db: Database, links: list, more: bool = True) -> dict:
    """A restored Group 1 whose record says more links follow."""
    record = {"type": "Group", "id": 1, "fields": {"label": "g"}, "refs": {}, "links": {"members": links},
              "owner": "o", "creator": "o", "updater": "o", "created": 1, "updated": 1, "version": 1}
    if more:
        record["more_links"] = True
    db.restore([{"type": "Person", "max_id": 20}, record])   # (links reach ids up to a type's highest)
    return record


def _more(ids: list, more: bool = False, **extra) -> dict:
    record = {"type": "Group", "links_of": 1, "links": {"members": ids}}
    if more:
        record["more_links"] = True
    record.update(extra)
    return record


def test_continuations_add_links_in_order_and_the_last_one_closes_the_entity(fresh_db):
    Group, _ = _types()
    _announced(fresh_db, [1, 2])
    fresh_db.restore([_more([3, 4], True)])
    fresh_db.restore([_more([9])])
    assert Group.load(1).members.ids() == [1, 2, 3, 4, 9]
    with pytest.raises(dump_restore.ConflictError):
        fresh_db.restore([_more([10])])             # closed: the last continuation came
    assert Group.load(1).members.ids() == [1, 2, 3, 4, 9]


@pytest.mark.parametrize("bad, error", [
    (_more([2]), "ConflictError"),                      # a replay: links up to 2 are in already
    (_more([3, 3]), "ValidationError"),                 # not ascending
    (_more([5, 4]), "ValidationError"),
    (_more([-1]), "ValidationError"),
    (_more(["3"]), "ValidationError"),
    (_more("3"), "ValidationError"),
    (_more([3], more_links="yes"), "ValidationError"),
    (_more([3], fields={"label": "taken over"}), "ValidationError"),
    (_more([3], owner="mallory"), "ValidationError"),
    (_more([3], id=1), "ValidationError"),
    ({"type": "Group", "links_of": 1, "links": {"label": [3]}}, "ValidationError"),
    ({"type": "Group", "links_of": 1, "links": {"leads": [3]}}, "ValidationError"),   # one-to-many
    ({"type": "Group", "links_of": 1, "links": {"nope": [3]}}, "ValidationError"),
    ({"type": "Group", "links_of": 1, "links": [3]}, "ValidationError"),
    ({"type": "Group", "links_of": 2, "links": {"members": [3]}}, "NotFoundError"),
    ({"type": "Group", "links_of": 0, "links": {"members": [3]}}, "NotFoundError"),
    ({"type": "Group", "links_of": "1", "links": {"members": [3]}}, "ValidationError"),
    ({"type": "Nope", "links_of": 1, "links": {"members": [3]}}, "UnknownTypeError"),
])
def test_a_bad_continuation_is_refused_and_changes_nothing(fresh_db, bad, error):
    Group, _ = _types()
    _announced(fresh_db, [1, 2])
    before = dict(fresh_db._storage._data)
    with pytest.raises(Exception) as refused:
        fresh_db.restore([_more([3], True), bad])   # all or nothing: the good record goes too
    assert type(refused.value).__name__ == error
    assert dict(fresh_db._storage._data) == before
    fresh_db.restore([_more([3])])
    assert Group.load(1).members.ids() == [1, 2, 3]


def test_a_continuation_cannot_add_links_to_an_entity_not_restored_with_more_links(fresh_db):
    Group, Person = _types()
    restored = _announced(fresh_db, [1], more=False)
    made = Group(label="made by its owner")
    assert made.id == 2 and restored["id"] == 1
    before = dict(fresh_db._storage._data)
    for target in (1, 2):
        with pytest.raises(dump_restore.ConflictError):
            fresh_db.restore([{"type": "Group", "links_of": target, "links": {"members": [5]}}])
    assert dict(fresh_db._storage._data) == before


def test_an_id_deleted_and_restored_again_does_not_keep_awaiting_links(fresh_db):
    Group, _ = _types()
    _announced(fresh_db, [1])
    Group.load(1).delete()
    with pytest.raises(dump_restore.NotFoundError):
        fresh_db.restore([_more([2])])
    _announced(fresh_db, [1], more=False)          # the id restored again, from a complete record
    with pytest.raises(dump_restore.ConflictError):
        fresh_db.restore([_more([2])])
    assert Group.load(1).members.ids() == [1]


def test_a_restore_call_takes_a_bounded_number_of_link_ids(fresh_db, monkeypatch):
    _types()
    monkeypatch.setattr(dump_restore, "MAX_RESTORE_LINK_IDS", 10)
    before = dict(fresh_db._storage._data)
    with pytest.raises(dump_restore.StorageLimitError):
        _announced(fresh_db, list(range(1, 12)))
    assert dict(fresh_db._storage._data) == before
    _announced(fresh_db, list(range(1, 11)))


def test_an_entity_deleted_between_pages_ends_its_links(fresh_db, monkeypatch):
    monkeypatch.setattr(dump_restore, "MAX_DUMP_LINK_IDS", 10)
    hub = _hub(30)
    first, cursor = fresh_db.dump_page(None, 100)
    assert first[-1].get("more_links") and cursor.count(":") == 3
    hub.delete()
    rest, _ = fresh_db.dump_page(cursor, 100)
    assert rest[0] == {"type": "Group", "links_of": 1, "links": {}}
    copy = _copy()
    copy.restore(first)
    copy.restore(rest[:1])
    assert copy.get(f"{copy.type_code('Group')}*1") is None


@pytest.mark.parametrize("cursor", ["1:0:members:5", "1:1:nope:5", "1:1:members", "1:1:members:-1",
                                    "1:1::5", "1:-1", "x:1", "1:1:members:5:6"])
def test_hostile_dump_cursors_are_refused(fresh_db, cursor):
    _hub(3)
    with pytest.raises(dump_restore.ValidationError):
        fresh_db.dump_page(cursor, 10)


def test_a_record_and_its_continuations_may_share_one_restore_call(fresh_db):
    Group, _ = _types()
    record = {"type": "Group", "id": 1, "fields": {"label": "g"}, "refs": {}, "links": {"members": [1]},
              "owner": "o", "creator": "o", "updater": "o", "created": 1, "updated": 1, "version": 1,
              "more_links": True}
    assert fresh_db.restore([{"type": "Person", "max_id": 20}, record, _more([2, 3], True), _more([4])]) == 1
    assert Group.load(1).members.ids() == [1, 2, 3, 4]
    assert fresh_db.get(f"{fresh_db.type_code('Group')}*1") is None
