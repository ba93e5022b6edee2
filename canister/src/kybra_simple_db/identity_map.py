"""One live object per stored entity, without keeping every entity ever touched in memory.

Uses weak references when the runtime has them (isolated here: if `weakref` is unavailable, a
bounded map keeps the most recently used entities instead). Entries are plain weak references
(built in C, unlike `WeakValueDictionary`'s keyed ones); dead ones are swept when the map has
doubled since the last sweep, so the map stays within twice the live objects (plus a small slack).
"""

try:
    from weakref import ref as _ref

    WEAK = True
except ImportError:  # pragma: no cover - exercised only on runtimes without weakref
    _ref = None
    WEAK = False

BOUNDED_SIZE = 2000
SWEEP_SLACK = 1024


class IdentityMap:
    """(type code, id) -> the entity object currently representing that stored entity."""

    def __init__(self):
        self._items = {}    # (never replaced: emptied in place)
        self._sweep_at = SWEEP_SLACK
        if WEAK:   # get and put as closures over the items: no attribute read or bound method per use (each
            self.get, self.put = _weak_access(self, self._items)   # ~6,000 instructions on RustPython)
        else:    # (the kind of entry chosen once, not on every put)
            self.put = self._put_bounded

    def get(self, key):
        item = self._items.get(key)
        if item is None or not WEAK:
            return item
        return item()

    def put(self, key, entity) -> None:
        items = self._items
        items[key] = _ref(entity)
        if len(items) > self._sweep_at:
            self._sweep()

    def _put_bounded(self, key, entity) -> None:
        """`put` where the runtime has no weak references: the oldest entry goes when the map is full."""
        items = self._items
        if key not in items and len(items) >= BOUNDED_SIZE:
            items.pop(next(iter(items)))
        items[key] = entity

    def _sweep(self) -> None:
        """Drop the entries whose object is gone."""
        items = self._items
        for key in [k for k, item in items.items() if item() is None]:
            del items[key]
        self._sweep_at = 2 * len(items) + SWEEP_SLACK

    def drop(self, key) -> None:
        self._items.pop(key, None)

    def drop_type(self, tc: int) -> None:
        for key in [k for k in list(self._items.keys()) if k[0] == tc]:
            self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()
        self._sweep_at = SWEEP_SLACK

    def __len__(self) -> int:
        if WEAK:
            self._sweep()
        return len(self._items)


def _weak_access(owner: IdentityMap, items: dict) -> tuple:
    """`owner`'s `get` and `put` over its weak entries `items`: what the methods of those names do."""
    get_item = items.get

    def get(key):
        item = get_item(key)
        return None if item is None else item()

    def put(key, entity) -> None:
        items[key] = _ref(entity)
        if len(items) > owner._sweep_at:
            owner._sweep()

    return get, put
