"""The storage contract: what the engine needs from a key-value map (Kybra's `StableBTreeMap[str, str]`).

Any object with these methods works as `db_storage` or `db_audit`: `MemoryMap`, `CountingMap`,
Kybra's stable maps, localnet's. A map may declare its maximum key and value sizes in UTF-8 bytes as
`max_key_size` / `max_value_size`: a number is a limit, None means unlimited; a map that does not
declare them (Kybra's StableBTreeMap does not expose them) is assumed to have the given fallback.
"""

from typing import Optional, Protocol

UNDECLARED = object()


class KeyValueMap(Protocol):
    """Ordered str -> str map with StableBTreeMap's method names; every method touches O(1) keys
    except `keys`, `values` and `items`, which walk the whole map in key order."""

    def get(self, key: str) -> Optional[str]:
        """The value stored under `key`, or None."""

    def insert(self, key: str, value: str) -> Optional[str]:
        """Store `value` under `key`; returns the previous value or None."""

    def remove(self, key: str) -> Optional[str]:
        """Remove `key`; returns the removed value or None."""

    def contains_key(self, key: str) -> bool:
        """True if `key` holds a value."""

    def len(self) -> int:
        """Number of keys."""

    def is_empty(self) -> bool:
        """True if no key holds a value."""

    def keys(self) -> list[str]:
        """Every key, ascending."""

    def values(self) -> list[str]:
        """Every value, in key order."""

    def items(self) -> list[tuple[str, str]]:
        """Every (key, value), in key order."""


def declared_limit(storage, attribute: str, fallback: Optional[int]) -> Optional[int]:
    """The map's declared `max_key_size` / `max_value_size` (None: unlimited), or `fallback` when the
    map does not declare it."""
    declared = getattr(storage, attribute, UNDECLARED)
    return fallback if declared is UNDECLARED else declared


class Storage:
    """The original packages' storage base class: subclass it and implement `get`, `insert`,
    `remove`, `items`, `keys` and `__contains__`; the rest of `KeyValueMap` is derived here."""

    def get(self, key: str) -> Optional[str]:
        raise NotImplementedError

    def insert(self, key: str, value: str) -> Optional[str]:
        raise NotImplementedError

    def remove(self, key: str) -> Optional[str]:
        raise NotImplementedError

    def items(self):
        raise NotImplementedError

    def keys(self):
        raise NotImplementedError

    def __contains__(self, key: str) -> bool:
        raise NotImplementedError

    def contains_key(self, key: str) -> bool:
        return key in self

    def values(self) -> list:
        return [value for _, value in self.items()]

    def len(self) -> int:
        return sum(1 for _ in self.keys())

    def is_empty(self) -> bool:
        return self.len() == 0
