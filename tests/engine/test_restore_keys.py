"""A restored entity gets its alias and index entries (ordered and counted) as a created one does, and
a restore whose alias is held by another entity is refused (ConflictError) and writes nothing."""

import pytest
from kybra_simple_db import ConflictError, Database, Entity, Integer, String


def _record(eid: int, sku: str, name: str) -> dict:
    return {"type": "Item", "id": eid, "fields": {"sku": sku, "name": name, "qty": eid}, "refs": {},
            "owner": "aaaaa-aa", "creator": "aaaaa-aa", "updater": "aaaaa-aa", "created": 1, "updated": 2,
            "version": 3}


def _item_type():
    class Item(Entity):
        __alias__ = "sku"
        sku = String()
        name = String(indexed=True)
        qty = Integer()

    return Item


@pytest.mark.parametrize("checked", [False, True])
def test_restored_entities_are_found_by_alias_index_and_count(fresh_db, checked):
    Item = _item_type()
    Item(sku="made", name="b", qty=0)
    assert Database.get_instance().restore([_record(5, "s5", "a"), _record(7, "s7", "b")], checked) == 2
    assert Item["s5"]._id == "5" and Item["s7"].qty == 7
    assert [e._id for e in Item.query().where(name="b").page(10).items] == ["1", "7"]
    assert [e._id for e in Item.query().order_by("-name").page(10).items] == ["7", "1", "5"]
    assert Item.count_by("name", "b") == 2 and Item.count_by("name", "a") == 1


@pytest.mark.parametrize("checked", [False, True])
def test_a_restore_onto_a_held_alias_is_refused_and_writes_nothing(fresh_db, checked):
    Item = _item_type()
    Item(sku="taken", name="b", qty=0)
    storage = fresh_db._storage
    before = {key: storage.get(key) for key in storage.keys()}
    with pytest.raises(ConflictError, match="alias 'taken' is already used by Item@1"):
        Database.get_instance().restore([_record(5, "free", "a"), _record(6, "taken", "c")], checked)
    assert {key: storage.get(key) for key in storage.keys()} == before
    assert Item["free"] is None and Item.load(5) is None and Item.count_by("name", "a") == 0
