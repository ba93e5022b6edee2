"""Upkeep of an entity's entries in the ordered indexes of its type (one B+tree per indexed field)."""

from . import key_layout as keys
from . import value_counts
from .ordered_index import OrderedIndex


def tree(db, tc: int, field: str, gen: int) -> OrderedIndex:
    """The ordered index of `field` (generation `gen`) of type code `tc`."""
    return OrderedIndex(db, keys.ordered_key(tc, field, gen))


def move_entry(db, tc: int, field: str, gen: int, entity_id: int, old, new, counting=None) -> tuple:
    """Move the entity's entry from value `old` to value `new` (None: no entry) in one operation, with
    the index's counts per value in `counting` mode ("v" or "c": see value_counts.entry_moved); returns
    (an entry was removed, an entry was inserted)."""
    index = tree(db, tc, field, gen)
    removed = old is not None and index.remove(old, entity_id)
    if removed and counting is not None:
        value_counts.entry_moved(db, index, tc, field, gen, old, -1, counting == "c")
    inserted = new is not None and index.insert(new, entity_id)
    if inserted and counting is not None:
        value_counts.entry_added(db, index, tc, field, gen, new, counting == "c")
    elif counting == "c" and new is not None:     # a rebuild: the entry was there
        value_counts.fold_key(db, index, tc, field, gen, new)
    return removed, inserted
