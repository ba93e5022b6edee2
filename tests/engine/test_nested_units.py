"""A nested unit that fails inside a transaction rolls back alone: what it staged first is dropped, what
it overwrote gets its earlier staged value back, and the transaction commits the rest unchanged."""

from kybra_simple_db import (
    CASCADE,
    Database,
    Entity,
    Integer,
    ManyToOne,
    MemoryMap,
    OneToMany,
    String,
    type_registry,
)


def _classes():
    class Item(Entity):
        __alias__ = "name"
        name = String(max_length=30)
        size = Integer(indexed=True)
        box = ManyToOne("Box", "items")

    class Box(Entity):
        label = String(max_length=30)
        items = OneToMany("Item", "box", on_delete=CASCADE)

    return Item, Box


def _run(with_failures: bool) -> list:
    type_registry.clear()
    Database._instance = None
    storage = MemoryMap(1, 100, 1000)
    audit = MemoryMap(2, 100, 1000)
    db = Database.init(db_storage=storage, db_audit=audit, clock=lambda: 1_000)
    Item, Box = _classes()
    box = Box(label="b")
    first = Item(name="first", size=1, box=box)
    with db.transaction():
        second = Item(name="second", size=2)
        first.size = 3
        if with_failures:
            try:
                with db.operation():
                    first.size = 4                      # a key staged before the nested unit
                    Item(name="third", size=4, box=box)  # keys staged for the first time
                    second.box = box
                    raise RuntimeError("abort the nested unit only")
            except RuntimeError:
                pass
            try:
                box.delete()                            # a cascade that fails half way
            except Exception:
                pass
            try:
                Item(name="second", size=5)             # a duplicate alias, refused
            except Exception:
                pass
        second.size = 6
    assert first.size == 3 and second.size == 6 and first.box == box and second.box is None
    return [sorted(storage.items()), sorted(audit.items())]


def test_failed_nested_units_leave_the_transaction_as_if_never_run(monkeypatch):
    expected = _run(with_failures=False)
    refusals = []

    def refuse_box_delete(self, field, old, new, action):
        if action == "delete" and type(self).__name__ == "Item":
            refusals.append(self)
            return False
        return True

    monkeypatch.setattr(Entity, "on_event", refuse_box_delete, raising=False)
    assert _run(with_failures=True) == expected
    assert refusals
