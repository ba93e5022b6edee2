"""`Cls.view_page` gives the `view()` of every entity `Cls.page` gives, in the same order with the same
next cursor, whether an entity is read from its document alone or is held in the identity map, has a
caller-chosen text id, or is found through an equality index of either layout."""

import gc

from kybra_simple_db import Database, Entity, Integer, String
from kybra_simple_db.context import set_caller_id


def _reopen() -> None:
    """A new Database over the same storage (what an upgrade does): entities are read from documents."""
    db = Database.get_instance()
    gc.collect()
    Database.init(db_storage=db._storage)


def _same_pages(cls, **where) -> None:
    for limit in (1, 3, 100):
        cursor = 0
        while cursor is not None:
            entities, after = cls.page(cursor, limit, **where)
            views, view_after = cls.view_page(cursor, limit, **where)
            assert views == [e.view() for e in entities] and view_after == after
            cursor = after


def test_view_page_gives_the_views_of_page():
    set_caller_id("alice")

    class Item(Entity):
        name = String(indexed=True)
        qty = Integer(default=7)

    for i in range(12):
        Item(name=f"n{i % 3}", qty=i)
    Item(_id="peter", name="n1")
    Item.load(4).delete()
    Item.load(6).qty = 60   # held in the identity map, changed
    _same_pages(Item)
    _same_pages(Item, field="name", value="n1")
    _same_pages(Item, field="name", value="none")
    assert any(view[0] == 13 for view in Item.view_page(0, 100)[0])   # the text id's storage slot
    _reopen()
    held = Item.load(5)
    _same_pages(Item)
    _same_pages(Item, field="name", value="n2")
    assert held.qty == 4
