"""One live object per stored entity, without keeping every entity ever touched in memory.

Uses weak references when the runtime has them (isolated here: if `weakref` is unavailable, a
bounded map keeps the most recently used entities instead).
"""

try:
    from weakref import WeakValueDictionary as _Store

    WEAK = True
except ImportError:  # pragma: no cover - exercised only on runtimes without weakref
    _Store = None
    WEAK = False

BOUNDED_SIZE = 2000


class IdentityMap:
    """(type code, id) -> the entity object currently representing that stored entity."""

    def __init__(self):
        self._items = _Store() if WEAK else {}

    def get(self, key):
        return self._items.get(key)

    def put(self, key, entity) -> None:
        if not WEAK and key not in self._items and len(self._items) >= BOUNDED_SIZE:
            self._items.pop(next(iter(self._items)))
        self._items[key] = entity

    def drop(self, key) -> None:
        self._items.pop(key, None)

    def drop_type(self, tc: int) -> None:
        for key in [k for k in list(self._items.keys()) if k[0] == tc]:
            self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
