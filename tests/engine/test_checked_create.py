"""`Entity.create_checked`, the canister's create: the same stored document, keys, counters and audit entry
as `create`, only inside an open unit, and all of it undone when that unit rolls back."""

import pytest
from checked_helpers import guarded_class, item_db, stored_maps
from kybra_simple_db import (
    ACTION_CREATE,
    ConflictError,
    HookRejected,
    StorageLimitError,
    ValidationError,
)


def _nothing_stored(db, item_class, storage, audit, before) -> None:
    """Storage is as `before` and the type as one entity left it (the next create takes id 2)."""
    assert stored_maps(storage, audit) == before
    assert item_class.count() == 1 and item_class.max_id() == 1 and item_class.count_by("name", "a") == 1
    assert item_class.load(2) is None


@pytest.mark.parametrize("values", [{"name": "a", "qty": 5, "sku": "s-2"}, {"name": "b"},
                                    {"qty": 7, "name": "a", "sku": "s-3"}])
def test_checked_create_stores_what_create_stores(values):
    db, item_class, storage, audit = item_db()
    item_class.create(dict(values))
    expected = stored_maps(storage, audit)
    db, item_class, storage, audit = item_db()
    with db.transaction():
        entity = item_class.create_checked(dict(values))
    assert stored_maps(storage, audit) == expected
    assert (entity.id, entity.version, entity.name) == (2, 1, values["name"])
    assert item_class.load(2) is entity and item_class.count() == 2
    assert item_class.count_by("name", values["name"]) == (2 if values["name"] == "a" else 1)
    if "sku" in values:
        assert item_class.by_alias(values["sku"]) is entity


def test_checked_create_outside_a_unit_is_refused_and_changes_nothing():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    with pytest.raises(RuntimeError):
        item_class.create_checked({"name": "b"})
    assert stored_maps(storage, audit) == before
    assert item_class.count() == 1 and item_class.max_id() == 1


@pytest.mark.parametrize("values, error", [({"name": "b", "nope": 1}, ValidationError),
                                           ({"qty": 2}, ValidationError),
                                           ({"sku": "s-1", "name": "a"}, ConflictError)])
def test_unknown_names_missing_required_fields_or_a_taken_alias_are_refused_and_undone(values, error):
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    with pytest.raises(error):
        with db.transaction():
            item_class.create_checked({"name": "c", "sku": "s-7"})
            item_class.create_checked(values)
    _nothing_stored(db, item_class, storage, audit, before)
    assert item_class.by_alias("s-7") is None and item_class.create({"name": "d"}).id == 2


def test_a_failure_after_staging_is_undone_by_the_callers_unit(monkeypatch):
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)

    def refuse(*args, **kwargs):
        raise StorageLimitError("audit map full")

    with pytest.raises(StorageLimitError):
        with db.transaction():
            item_class.create_checked({"name": "a", "sku": "s-5"})
            monkeypatch.setattr(db.audit, "append", refuse)     # the document and keys are staged first
            item_class.create_checked({"name": "a", "sku": "s-6"})
    monkeypatch.undo()
    _nothing_stored(db, item_class, storage, audit, before)
    assert item_class.by_alias("s-5") is None and item_class.create({"name": "a", "sku": "s-5"}).id == 2


def test_hooked_values_are_still_validated():
    db, item_class, storage, audit = item_db()

    Guarded = guarded_class(ACTION_CREATE)
    before = stored_maps(storage, audit)
    for value, error in ((3, ValidationError), (4, HookRejected)):
        with pytest.raises(error):
            with db.transaction():
                Guarded.create_checked({"qty": value})
        assert stored_maps(storage, audit) == before
    with db.transaction():
        entity = Guarded.create_checked({"qty": 6})
    assert Guarded.load(1).qty == 6 and entity.version == 1


def test_a_taken_alias_names_its_holder_and_changes_nothing():
    db, item_class, storage, audit = item_db()
    before = stored_maps(storage, audit)
    for create in (item_class.create, item_class.create_checked):
        with pytest.raises(ConflictError, match="alias 's-1' is already used by .*@1"):
            with db.transaction():
                create({"name": "b", "sku": "s-1"})
        _nothing_stored(db, item_class, storage, audit, before)
    assert item_class.by_alias("s-1").id == 1


@pytest.mark.parametrize("values", [{"name": "a", "qty": 5, "sku": "s-2"}, {"name": "b"}])
def test_checked_create_with_view_gives_the_new_entitys_live_view(values):
    """The gateway's form: the same stored bytes as without `view`, and the entity's live_view()."""
    db, item_class, storage, audit = item_db()
    with db.transaction():
        item_class.create_checked(dict(values))
    expected = stored_maps(storage, audit)
    db, item_class, storage, audit = item_db()
    with db.transaction():
        view = item_class.create_checked(dict(values), db, True)
    assert stored_maps(storage, audit) == expected
    assert view == item_class.load(2).live_view() and view[0] == 2 and view[1]["name"] == values["name"]
    with pytest.raises(ValidationError):
        with db.transaction():
            item_class.create_checked({"name": "c", "nope": 1}, db, True)
    assert item_class.count() == 2
