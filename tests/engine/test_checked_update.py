"""`Entity.update_checked`, the canister's update: the same stored document, audit entry and version as
`update_fields`, only inside an open unit, and all of it undone when that unit rolls back."""

import pytest
from checked_helpers import guarded_class, item_db, stored_maps
from kybra_simple_db import (
    ACTION_MODIFY,
    Entity,
    HookRejected,
    Integer,
    StorageLimitError,
    String,
    ValidationError,
)


@pytest.mark.parametrize("values", [{"qty": 5}, {"name": "b", "sku": "s-9"}, {"qty": 1}, {}])
def test_checked_update_stores_what_update_fields_stores(values):
    db, item_class, storage, audit = item_db()
    item_class.load(1).update_fields(dict(values))
    expected = stored_maps(storage, audit)
    db, item_class, storage, audit = item_db()
    with db.transaction():
        entity = item_class.load(1).update_checked(dict(values))
    assert stored_maps(storage, audit) == expected
    assert entity.version == (1 if values in ({}, {"qty": 1}) else 2)
    if "sku" in values:
        assert item_class.by_alias("s-9") is entity and item_class.by_alias("s-1") is None


def test_checked_update_outside_a_unit_is_refused_and_changes_nothing():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    entity = item_class.load(1)
    with pytest.raises(RuntimeError):
        entity.update_checked({"qty": 5})
    assert entity.qty == 1 and entity.version == 1
    assert stored_maps(storage, audit) == before


def test_checked_update_refuses_undeclared_names_and_the_unit_undoes_everything():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    entity = item_class.load(1)
    with pytest.raises(ValidationError):
        with db.transaction():
            entity.update_checked({"qty": 7})
            entity.update_checked({"nope": 1})
    assert entity.qty == 1 and entity.version == 1
    assert stored_maps(storage, audit) == before
    assert item_class.load(1).qty == 1


def test_a_failure_after_staging_is_undone_by_the_callers_unit(monkeypatch):
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    entity = item_class.load(1)

    def refuse(*args, **kwargs):
        raise StorageLimitError("audit map full")

    with pytest.raises(StorageLimitError):
        with db.transaction():
            entity.update_checked({"qty": 9})
            monkeypatch.setattr(db.audit, "append", refuse)    # the document and alias are staged first
            entity.update_checked({"sku": "s-2"})
    assert (entity.qty, entity.sku, entity.version) == (1, "s-1", 1)
    assert stored_maps(storage, audit) == before
    assert item_class.by_alias("s-1") is entity and item_class.by_alias("s-2") is None


def test_hooked_values_are_still_validated():
    db, item_class, storage, audit = item_db()

    Guarded = guarded_class(ACTION_MODIFY)
    Guarded(qty=1)
    before = stored_maps(storage, audit)
    entity = Guarded.load(1)
    for value, error in ((3, ValidationError), (4, HookRejected)):
        with pytest.raises(error):
            with db.transaction():
                entity.update_checked({"qty": value})
        assert entity.qty == 1 and entity.version == 1
        assert stored_maps(storage, audit) == before
    with db.transaction():
        entity.update_checked({"qty": 6})
    assert Guarded.load(1).qty == 6 and entity.version == 2


@pytest.mark.parametrize("checked", [False, True])
def test_a_field_declared_after_the_document_was_written_is_written_with_the_change(checked):
    db, item_class, storage, audit = item_db()

    class Item(Entity):     # the type again, with a field its stored document lacks
        __alias__ = "sku"
        name = String(required=True, indexed=True)
        qty = Integer()
        sku = String()
        color = String(default="red", indexed=True)

    entity = Item.load(1)
    if checked:
        with db.transaction():
            entity.update_checked({"qty": 2})
    else:
        entity.update_fields({"qty": 2})
    entry = db.audit_entries(0, 10)[0][-1]
    assert entry["changes"] == {"qty": 2, "color": "red"}
    assert [e.qty for e in Item.find({"color": "red"})] == [2]
