"""Releasing the links of a deleted entity reads no more than it needs: a SetNull link whose other side is
an id set too is dropped from that set without loading the other entity, and the id buckets a walk found
absent are not read again. These shortcuts store exactly what the general path stores: the same
stepwise deletes run with a hook on the other side (which takes the general path) give the same
storage, the same progress replies and the same audit entries."""

import pytest
from kybra_simple_db import Database, Entity, ManyToMany, MemoryMap, String, type_registry
from kybra_simple_db import key_layout as keys
from kybra_simple_db.context import set_caller_id
from kybra_simple_db.system_time import SystemTime


def _world(hooked: bool, width: int) -> tuple:
    """A fresh database (id buckets of `width` ids) with Items and Tags (many-to-many; the Items with a
    hook that accepts all when `hooked`), 300 items, tag 1 linked to all of them and tag 2 to every
    third of the first 40 of each 80 (runs of empty buckets between)."""
    set_caller_id("system")
    type_registry.clear()
    storage = MemoryMap(memory_id=1, max_key_size=100, max_value_size=1000)
    db = Database.init(db_storage=storage, audit_enabled=True)
    db.bucket_width = width
    seen = []

    class Item(Entity):
        label = String()
        tags = ManyToMany("Tag", "items")

        if hooked:
            def on_event(self, field, old, new, action):
                seen.append((self._id, field, action))
                return True

    class Tag(Entity):
        label = String()
        items = ManyToMany("Item", "tags")

    items = [Item(label=str(i)) for i in range(300)]
    first, second = Tag(label="a"), Tag(label="b")
    for k, item in enumerate(items):
        first.items.add(item)
        if k % 3 == 0 and k % 80 < 40:
            second.items.add(item)
    return db, storage, Item, Tag, seen


def _run(hooked: bool, width: int) -> tuple:
    db, storage, Item, Tag, seen = _world(hooked, width)
    replies = []
    replies.append(Item.load(7).delete_in_steps(1))      # item 7 is gone, its own links still held
    with db.operation():    # tag 1 is in item 9's set no more: a link only one side still holds
        item_tc, tag_tc = db.type_code("Item"), db.type_code("Tag")
        db.bit_update(lambda b: keys.link_key(item_tc, 9, "tags", tag_tc, b), 1, False)
    replies.append(Tag.load(1).delete_in_steps(40))
    while not replies[-1]["done"]:
        replies.append(Tag.continue_delete(1, 40))
    replies.append(Tag.load(2).delete_in_steps())
    replies.append(Item.continue_delete(7, 1))      # its links to the tags, both gone by now
    while not replies[-1]["done"]:
        replies.append(Item.continue_delete(7, 1))
    return dict(storage._data), replies, seen


@pytest.mark.parametrize("width", [16, 2048])
def test_released_links_store_what_the_general_path_stores(width):
    SystemTime.fixed_ns = 1_700_000_000_000_000_000     # the same audit times in both runs
    try:
        plain, plain_replies, _ = _run(False, width)
        general, general_replies, seen = _run(True, width)
    finally:
        SystemTime.fixed_ns = None
        set_caller_id("system")
    assert seen     # the hooked run took the general path (its hook heard the releases)
    assert plain_replies == general_replies
    # tag 1 released all but item 7 (gone) and item 9 (which held no link to it); tag 2 all but item 7
    assert [r["unlinked"] for r in plain_replies if r["done"]] == [298, 53, 0]
    assert plain_replies[-1]["deleted"] == 1
    assert plain == general
    assert not [key for key in plain if ".items." in key or ".tags." in key]    # no id set is left
