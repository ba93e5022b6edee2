"""An index or alias dropped from a type and added again starts empty: entries left from before
(values changed or entities deleted while nothing kept them) never count, match or conflict. An
ordered index added to a type with entities is pending until `rebuild_keys` fills it: until then
lookups on its field scan the entities (correct, bounded per page) instead of reading it."""

import pytest
from kybra_simple_db import ConflictError, Database, Entity, Integer, String, ValidationError, type_registry
from kybra_simple_db import key_layout as keys


def _thing(indexed: bool, alias: bool = False):
    attrs = {"colour": String(indexed=indexed), "code": String(), "n": Integer()}
    if alias:
        attrs["__alias__"] = "code"
    return type("Thing", (Entity,), attrs)


def _rebuild(cls) -> None:
    cursor = cls.rebuild_keys(None, 2)
    while cursor is not None:
        cursor = cls.rebuild_keys(cursor, 2)


def _colours(cls, colour: str) -> tuple:
    found = [t.id for t in cls.find_all_by("colour", colour)]
    paged, cursor = [], None
    while True:
        items, cursor = cls.page(cursor, 1, "colour", colour)
        paged += [t.id for t in items]
        if cursor is None:
            break
    assert paged == found
    return cls.count_by("colour", colour), found


def test_index_dropped_then_re_added_counts_only_current_values():
    Indexed = _thing(True)
    for colour in ("red", "red", "blue", "red"):
        Indexed(colour=colour)
    assert _colours(Indexed, "red") == (3, [1, 2, 4])
    Plain = _thing(False)
    Plain.load(1).colour = "blue"       # changes while no index is kept
    Plain.load(3).delete()
    Plain.load(4).colour = None
    Again = _thing(True)
    db = Database.get_instance()
    assert db.pending_keys(Again, db.type_code("Thing")) == ("^colour",)
    assert _colours(Again, "red") == (1, [2]) and _colours(Again, "blue") == (1, [1])   # by scanning
    _rebuild(Again)
    assert db.pending_keys(Again, db.type_code("Thing")) == ()
    assert _colours(Again, "red") == (1, [2]) and _colours(Again, "blue") == (1, [1])
    Again(colour="red")
    Again.load(2).colour = "green"
    assert _colours(Again, "red") == (1, [5]) and _colours(Again, "green") == (1, [2])


def test_re_added_index_on_an_emptied_type_ignores_deleted_entities():
    Indexed = _thing(True)
    for _ in range(5):
        Indexed(colour="red")
    Plain = _thing(False)
    for thing in Plain.instances():
        thing.delete()
    Again = _thing(True)
    Again(colour="red")
    assert _colours(Again, "red") == (1, [6])


def test_alias_dropped_then_re_added_has_no_stale_holders():
    Keyed = _thing(False, alias=True)
    Keyed(code="A")
    Keyed(code="B")
    Free = _thing(False)
    Free.load(1).code = "Z"
    Free.load(2).delete()
    Keyed = _thing(False, alias=True)
    assert Keyed.by_alias("A") is None and Keyed.by_alias("B") is None
    _rebuild(Keyed)
    assert Keyed.by_alias("Z").id == 1
    assert Keyed(code="A").id == 3 and Keyed(code="B").id == 4     # no false conflicts
    with pytest.raises(ConflictError):
        Keyed(code="Z")


def test_generations_survive_reinit_and_unchanged_definitions_write_nothing(storage):
    _thing(True)
    Indexed = type_registry.find("Thing")
    Indexed(colour="red")
    _thing(False)
    _thing(True)
    tc = Database.get_instance().type_code("Thing")
    generations = Database.get_instance().key_generations(type_registry.find("Thing"), tc)
    assert generations == {"^colour": 1}
    before = list(storage.items())
    _thing(True)                                    # the same definition again
    db = Database.init(db_storage=storage)          # and a restart on the same storage
    assert list(storage.items()) == before
    assert db.key_generations(type_registry.find("Thing"), tc) == {"^colour": 1}
    assert type_registry.find("Thing").count_by("colour", "red") == 1      # pending index: a scan


def _as_older_layout(db, tc: int, entity_id: int, colour: str) -> None:
    """Rewrite storage as an engine before ordered indexes (and before generations) left it: no key
    schema, no ordered index, the equality index as id sets."""
    with db.operation():
        db.delete(keys.key_schema_key(tc))
        for key in [k for k in db._storage.keys() if k.startswith(keys.ordered_key(tc, "colour"))
                    or k.startswith(str(tc) + "=colour")]:    # ordered entries and per-value counts
            db.delete(key)
        db.bit_update(lambda b: keys.index_key(tc, "colour", colour, b, db.key_limit), entity_id, True)


def test_storage_from_before_generations_reads_its_keys():
    Indexed = _thing(True, alias=True)
    Indexed(colour="red", code="A")
    db = Database.get_instance()
    tc = db.type_code("Thing")
    _as_older_layout(db, tc, 1, "red")
    db = Database.init(db_storage=db._storage)
    assert Indexed.count_by("colour", "red") == 1 and Indexed.by_alias("A").id == 1
    assert db.key_generations(Indexed, tc) == {"^colour": 0, "colour": 0, "@code": 0}
    assert db.pending_keys(Indexed, tc) == ("^colour",)     # equality still served by the id sets


def test_upgrade_from_equality_indexes_keeps_them_until_the_ordered_index_is_built():
    Indexed = _thing(True)
    for colour in ("red", "blue", "red"):
        Indexed(colour=colour)
    db = Database.get_instance()
    tc = db.type_code("Thing")
    for eid, colour in ((1, "red"), (2, "blue"), (3, "red")):
        _as_older_layout(db, tc, eid, colour)
    db = Database.init(db_storage=db._storage)
    Indexed(colour="red")                          # kept in both while the ordered index is pending
    Indexed.load(1).colour = "green"
    assert _colours(Indexed, "red") == (2, [3, 4])
    ordered = Indexed.query().where(colour__gte="green").order_by("colour")
    with pytest.raises(ValidationError):
        ordered.page()                             # no order by a pending index
    assert [t.id for t in Indexed.query().where(colour__gte="green").all()] == [1, 3, 4]   # by scanning
    _rebuild(Indexed)
    assert db.key_generations(Indexed, tc) == {"^colour": 0}
    assert [t.id for t in ordered.all()] == [1, 3, 4]
    assert _colours(Indexed, "red") == (2, [3, 4]) and _colours(Indexed, "blue") == (1, [2])
