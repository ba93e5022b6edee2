"""A dict-backed map with the surface of Kybra's `StableBTreeMap[str, str]`, counting every call.

Every package under test gets the same map, so reads, writes and bytes written per operation are
exact, deterministic numbers that compare across packages. Runs under any Python >= 3.8 with the
standard library only, because it is imported inside the upstream packages' own environments.
"""

from collections.abc import Iterator
from typing import Optional


class Counters:
    """Storage calls seen so far; `snapshot()` gives a tuple to subtract for one operation."""

    __slots__ = ("reads", "writes", "bytes_written", "scans")

    def __init__(self) -> None:
        self.reads = 0
        self.writes = 0
        self.bytes_written = 0
        self.scans = 0

    def snapshot(self) -> tuple[int, int, int, int]:
        return (self.reads, self.writes, self.bytes_written, self.scans)


class ValueTooLarge(ValueError):
    """A key or value exceeds the map's fixed maximum size (a real StableBTreeMap traps)."""


class CountingMap:
    """In-memory `StableBTreeMap`-like map enforcing max key/value sizes in UTF-8 bytes.

    Reads are `get` and `contains_key`; writes are `insert` and `remove`; bytes written are the
    key plus value bytes of each insert; scans are whole-map `keys`/`values`/`items` calls.
    It is always truthy: an empty map must not look like "no storage" to any package.
    """

    def __init__(
        self, counters: Counters, max_key_size: Optional[int] = None, max_value_size: Optional[int] = None
    ) -> None:
        self._data: dict[str, str] = {}
        self.counters = counters
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size

    def __bool__(self) -> bool:
        return True

    def _check(self, key: str, value: str) -> int:
        key_bytes = len(key.encode("utf-8"))
        value_bytes = len(value.encode("utf-8"))
        if self.max_key_size is not None and key_bytes > self.max_key_size:
            raise ValueTooLarge(f"key of {key_bytes} bytes exceeds max_key_size {self.max_key_size}")
        if self.max_value_size is not None and value_bytes > self.max_value_size:
            raise ValueTooLarge(
                f"value of {value_bytes} bytes for key {key[:40]!r} exceeds max_value_size "
                f"{self.max_value_size}"
            )
        return key_bytes + value_bytes

    def get(self, key: str) -> Optional[str]:
        self.counters.reads += 1
        return self._data.get(key)

    def contains_key(self, key: str) -> bool:
        self.counters.reads += 1
        return key in self._data

    __contains__ = contains_key

    def insert(self, key: str, value: str) -> Optional[str]:
        size = self._check(key, value)
        self.counters.writes += 1
        self.counters.bytes_written += size
        previous = self._data.get(key)
        self._data[key] = value
        return previous

    def remove(self, key: str) -> Optional[str]:
        self.counters.writes += 1
        return self._data.pop(key, None)

    def len(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def is_empty(self) -> bool:
        return not self._data

    def keys(self) -> list[str]:
        self.counters.scans += 1
        return sorted(self._data)       # in key order, as a StableBTreeMap walks

    def values(self) -> list[str]:
        self.counters.scans += 1
        return [self._data[k] for k in sorted(self._data)]

    def items(self) -> list[tuple[str, str]]:
        self.counters.scans += 1
        return [(k, self._data[k]) for k in sorted(self._data)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())
