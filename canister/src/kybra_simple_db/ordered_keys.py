"""Upkeep of an entity's entries in the ordered indexes of its type (one B+tree per indexed field)."""

from . import key_layout as keys
from . import value_counts
from .ordered_index import OrderedIndex


def tree(db, tc: int, field: str, gen: int, counting: str = None) -> OrderedIndex:
    """The ordered index of `field` (generation `gen`) of type code `tc`; `counting`: its count mode (in
    mode "t" its changes note their nontail changes: see tail_runs.py)."""
    index = OrderedIndex(db, keys.ordered_key(tc, field, gen))
    if counting == "t":
        index.tails_counted = True
    return index


def move_entry(db, tc: int, field: str, gen: int, entity_id: int, old, new, counting=None) -> tuple:
    """Move the entity's entry from value `old` to value `new` (None: no entry) in one operation, with
    the index's counts per value in `counting` mode ("t", "v" or "c": see value_counts.tails_moved and
    entry_moved); returns
    (an entry was removed, an entry was inserted)."""
    index = tree(db, tc, field, gen, counting)
    removed = old is not None and index.remove(old, entity_id)
    if removed and counting == "t":
        value_counts.tails_moved(db, index, tc, field, gen, old, -1)
    elif removed and counting is not None:
        value_counts.entry_moved(db, index, tc, field, gen, old, -1, counting == "c")
    inserted = new is not None and index.insert(new, entity_id)
    if inserted and counting == "t":
        value_counts.tails_moved(db, index, tc, field, gen, new, 1)
    elif inserted and counting is not None:
        value_counts.entry_added(db, index, tc, field, gen, new, counting == "c")
    elif counting == "c" and new is not None:     # a rebuild: the entry was there
        value_counts.fold_key(db, index, tc, field, gen, new)
    return removed, inserted
