"""In-memory maps with the surface of Kybra's `StableBTreeMap[str, str]`, for CPython and tests."""

from typing import Optional

from .db_errors import StorageLimitError
from .storage_contract import Storage


class MemoryMap:
    """A dict-backed map that enforces the maximum key and value sizes (UTF-8 bytes) like stable memory."""

    def __class_getitem__(cls, item):
        """`MemoryMap[str, str](...)` works like Kybra's `StableBTreeMap[str, str](...)`."""
        return cls

    def __init__(self, memory_id: int = 0, max_key_size: Optional[int] = None,
                 max_value_size: Optional[int] = None):
        self.memory_id = memory_id
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        # text of at most this many characters fits whatever it holds (4 UTF-8 bytes per character)
        self._key_chars = (1 << 62) if max_key_size is None else max_key_size // 4
        self._value_chars = (1 << 62) if max_value_size is None else max_value_size // 4
        self._data = {}

    def _check(self, key: str, value: Optional[str]) -> None:
        if not isinstance(key, str):
            raise TypeError("MemoryMap keys must be str")
        if self.max_key_size is not None and len(key.encode("utf-8")) > self.max_key_size:
            raise StorageLimitError(f"key of {len(key.encode('utf-8'))} bytes exceeds {self.max_key_size}")
        if value is None:
            return
        if not isinstance(value, str):
            raise TypeError("MemoryMap values must be str")
        size = len(value.encode("utf-8"))
        if self.max_value_size is not None and size > self.max_value_size:
            raise StorageLimitError(f"value of {size} bytes exceeds {self.max_value_size}")

    def get(self, key: str) -> Optional[str]:
        return self._data.get(key)

    def insert(self, key: str, value: str) -> Optional[str]:
        if (type(key) is not str or type(value) is not str or len(key) > self._key_chars
                or len(value) > self._value_chars):
            self._check(key, value)     # only text that might not fit is measured in bytes
        data = self._data
        previous = data.get(key)
        data[key] = value
        return previous

    def remove(self, key: str) -> Optional[str]:
        return self._data.pop(key, None)

    def contains_key(self, key: str) -> bool:
        return key in self._data

    def len(self) -> int:
        return len(self._data)

    def is_empty(self) -> bool:
        return not self._data

    def keys(self) -> list:
        return sorted(self._data)

    def values(self) -> list:
        return [self._data[k] for k in sorted(self._data)]

    def items(self) -> list:
        return [(k, self._data[k]) for k in sorted(self._data)]


class MemoryStorage(MemoryMap, Storage):
    """The original's in-memory storage (`MemoryStorage()`): a MemoryMap without size limits."""

    def __init__(self, memory_id: int = 0, max_key_size: Optional[int] = None,
                 max_value_size: Optional[int] = None):
        MemoryMap.__init__(self, memory_id, max_key_size, max_value_size)

    def __contains__(self, key: str) -> bool:
        return key in self._data


class CountingMap:
    """Wraps a map and counts storage calls (reads, writes, bytes written) for deterministic cost tests."""

    def __init__(self, inner):
        self.inner = inner
        self.max_key_size = getattr(inner, "max_key_size", None)
        self.max_value_size = getattr(inner, "max_value_size", None)
        self.reset()

    def reset(self) -> None:
        self.reads = 0
        self.writes = 0
        self.bytes_written = 0
        self.scans = 0

    def get(self, key):
        self.reads += 1
        return self.inner.get(key)

    def contains_key(self, key):
        self.reads += 1
        return self.inner.contains_key(key)

    def insert(self, key, value):
        self.writes += 1
        self.bytes_written += len(key.encode("utf-8")) + len(value.encode("utf-8"))
        return self.inner.insert(key, value)

    def remove(self, key):
        self.writes += 1
        return self.inner.remove(key)

    def len(self):
        self.reads += 1
        return self.inner.len()

    def is_empty(self):
        self.reads += 1
        return self.inner.is_empty()

    def keys(self):
        self.scans += 1
        return self.inner.keys()

    def values(self):
        self.scans += 1
        return self.inner.values()

    def items(self):
        self.scans += 1
        return self.inner.items()
