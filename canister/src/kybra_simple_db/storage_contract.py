"""The storage contract: what the engine needs from a key-value map (Kybra's `StableBTreeMap[str, str]`).

Any object with these methods works as `db_storage` or `db_audit`: `MemoryMap`, `CountingMap`,
Kybra's stable maps, localnet's. A map may declare its maximum key and value sizes in UTF-8 bytes as
`max_key_size` / `max_value_size`: a number is a limit, None means unlimited; a map that does not
declare them (Kybra's StableBTreeMap does not expose them) is assumed to have the given fallback.

Optionally, a map may offer `host_functions`: a tuple (memory id, get, insert, remove, contains_key) of
functions that each take the memory id first and then the arguments of the method of that name, and do
exactly what the method does (Kybra's StableBTreeMap methods are one-line calls of such functions on
`_kybra_ic`). The engine's reads and commits then call them directly, without the map's Python method
between (about 25,000 instructions less per access on Kybra's RustPython). A map without the attribute (or
with None) is used through its methods (`HostFunctions`, `host_functions`).
"""

from typing import Optional, Protocol

UNDECLARED = object()
HostFunctions = tuple
"""(memory id, get(id, key), insert(id, key, value), remove(id, key), contains_key(id, key))"""


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


def host_functions(storage) -> Optional[HostFunctions]:
    """The map's `host_functions` (see the module docstring), checked for shape; None when it offers none."""
    offered = getattr(storage, "host_functions", None)
    if offered is None:
        return None
    if type(offered) is not tuple or len(offered) != 5 or not all(map(callable, offered[1:])):
        raise TypeError("host_functions must be (memory id, get, insert, remove, contains_key), "
                        "functions taking the memory id first")
    return offered


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
