"""Helpers of the checked create and update tests: a database holding one Item, a hooked class, and
the stored maps to compare."""

from kybra_simple_db import Database, Entity, Integer, MemoryMap, String, type_registry
from kybra_simple_db.context import set_caller_id


def _define_item():
    class Item(Entity):
        __alias__ = "sku"
        name = String(required=True, indexed=True)
        qty = Integer()
        sku = String()

    return Item


def item_db() -> tuple:
    """(database, Item, its storage, its audit map): a fresh database with alice's Item 1 (name "a")."""
    type_registry.clear()
    storage = MemoryMap(memory_id=1, max_key_size=100, max_value_size=1000)
    audit = MemoryMap(memory_id=2, max_key_size=100, max_value_size=1000)
    db = Database.init(db_storage=storage, db_audit=audit, clock=lambda: 1_700_000_000_000_000_000)
    set_caller_id("alice")
    item_class = _define_item()
    item_class(name="a", qty=1, sku="s-1")
    return db, item_class, storage, audit


def guarded_class(hooked_action: str) -> type:
    """A class whose hook replaces a 3 by "three" on `hooked_action` (a value validation refuses) and
    rejects a 4."""

    class Guarded(Entity):
        qty = Integer(max_value=10)

        def on_event(self, field, old, new, action):
            if action == hooked_action and new == 3:
                return True, "three"     # a hook's own value is checked like any other
            return new != 4

    return Guarded


def stored_maps(storage, audit) -> tuple:
    """The contents of the storage and audit maps, to compare before and after."""
    return dict(storage.items()), dict(audit.items())
