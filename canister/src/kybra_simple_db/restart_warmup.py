"""What the first messages after an upgrade would read cold, read ahead in post_upgrade (whose heap the
next messages keep): each type's counters, key steps and field names' JSON, and its ordered indexes' and
count trees' headers and inner nodes, root first; then, while the bounds allow, the leaves where a Text
value's entries end, for the tail hints that spare its next create the descent (ordered_index.warm_tails).
Read-only, and bounded: the caller gives an instruction meter, where to stop, and how many nodes at most
(the node cache empties itself when full, so a warm-up fills a part of it only)."""

from collections.abc import Callable

from . import entity_keys, json_text, type_registry
from .db_engine import Database
from .ordered_index import warm_node, warm_tails


def warm_types(db: Database, spent: Callable[[], int], stop: int, nodes: int) -> int:
    """Read ahead for every registered type that has stored entities, in registration order (the inner
    nodes of all of them first, then leaves for tail hints), until `spent()` (instructions the message has
    used) reaches `stop` or `nodes` index nodes, headers and leaves are read. Returns how many were read."""
    get = db.cached_reader()
    read = 0
    indexes = []
    for name in type_registry.all_types():
        if read >= nodes or spent() >= stop:
            break
        tc = db.type_code(name)
        if tc is None:
            continue
        db.counters(tc)
        cls = type_registry.find(name)
        json_text.encode_dict(cls.__new_data__)     # (its keys' JSON is kept: every document has them)
        for step in entity_keys.key_steps(db, cls, tc):
            if step[0] == "^":
                indexes.append(step[3].prefix)
                for tree in (step[3], step[5]):
                    if tree is not None:
                        read = _warm_tree(get, tree.prefix, spent, stop, nodes, read)
    for prefix in indexes:
        if read >= nodes or spent() >= stop:
            break
        read += warm_tails(get, prefix, nodes - read, spent, stop)
    return read


def _warm_tree(get, prefix: str, spent: Callable[[], int], stop: int, nodes: int, read: int) -> int:
    """Read the header and inner nodes of the tree `prefix`, level by level, within the bounds of
    `warm_types` (`read`: nodes read so far); returns the new count."""
    queue = [(prefix, -1)]
    at = 0
    while at < len(queue) and read < nodes and spent() < stop:
        key, levels = queue[at]
        at += 1
        queue += warm_node(get, key, levels)
        read += 1
    return read
