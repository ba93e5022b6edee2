"""A canister's stable memory inside its process: the StableBTreeMaps and raw stable pages.

Keys and values are stored Candid-encoded, as Kybra stores them, so the declared maximum sizes apply
to the same bytes as on the IC; keys are ordered like the Rust `Ord` Kybra derives. Every change is
also recorded in `writes` so the replica can commit exactly the message's changes to SQLite.
"""

from __future__ import annotations

import bisect
from typing import Any

from localnet import candid_codec
from localnet.candid_types import Interface, StableMapDecl

RAW_MEMORY = -1  # the `memory` column value of raw stable memory pages (ic.stable_write ...)
PAGE = 65536
MAX_RAW_PAGES = 4 * 1024 * 1024 // 64  # 4 GiB of 64 KiB pages is plenty for a local replica


class StableTrap(Exception):
    """A stable-memory operation that traps on the IC (oversize key or value, unknown memory id)."""


class _Map:
    def __init__(self, iface: Interface, decl: StableMapDecl):
        self.iface = iface
        self.decl = decl
        self.entries: dict[bytes, bytes] = {}
        self.order: list[tuple[Any, bytes]] = []

    def key_bytes(self, key: Any) -> bytes:
        return self._encode("Key", self.decl.key, self.decl.max_key_size, key)

    def value_bytes(self, value: Any) -> bytes:
        return self._encode("Value", self.decl.value, self.decl.max_value_size, value)

    def _encode(self, what: str, t: Any, limit: int, v: Any) -> bytes:
        try:
            raw = candid_codec.encode((t,), [v], self.iface)
        except candid_codec.CandidError as e:
            raise TypeError(f"StableBTreeMap {self.decl.memory_id} {what.lower()}: {e}") from None
        if len(raw) > limit:
            raise StableTrap(
                f"{what} too large: {len(raw)} bytes exceeds max_{what.lower()}_size {limit} "
                f"of StableBTreeMap memory_id {self.decl.memory_id}"
            )
        return raw

    def key(self, kb: bytes) -> Any:
        return candid_codec.decode(kb, (self.decl.key,), self.iface)[0]

    def value(self, vb: bytes) -> Any:
        return candid_codec.decode(vb, (self.decl.value,), self.iface)[0]

    def sort_key(self, kb: bytes) -> Any:
        return candid_codec.sort_key(self.iface, self.decl.key, self.key(kb))

    def put(self, kb: bytes, vb: bytes) -> bytes | None:
        old = self.entries.get(kb)
        if old is None:
            bisect.insort(self.order, (self.sort_key(kb), kb))
        self.entries[kb] = vb
        return old

    def drop(self, kb: bytes) -> bytes | None:
        old = self.entries.pop(kb, None)
        if old is not None:
            item = (self.sort_key(kb), kb)
            i = bisect.bisect_left(self.order, item)
            del self.order[i]
        return old


class StableMemory:
    """All stable state of one canister, loaded from the replica's SQLite rows."""

    def __init__(self, iface: Interface, rows: list[tuple[int, bytes, bytes]]):
        self.iface = iface
        self.maps = {mid: _Map(iface, decl) for mid, decl in iface.stable_maps.items()}
        self.pages: dict[int, bytearray] = {}
        self.page_count = 0
        self.writes: dict[tuple[int, bytes], bytes | None] = {}
        self.dirty_pages: set[int] = set()
        orphans: dict[int, dict[bytes, bytes]] = {}
        for memory, key, value in rows:
            if memory == RAW_MEMORY:
                n = int.from_bytes(key, "big")
                if n == 0xFFFFFFFFFFFFFFFF:
                    self.page_count = int.from_bytes(value, "big")
                else:
                    self.pages[n] = bytearray(value)
            elif memory in self.maps:
                m = self.maps[memory]
                m.entries[key] = value
            else:
                orphans.setdefault(memory, {})[key] = value
        for m in self.maps.values():
            m.order = sorted((m.sort_key(kb), kb) for kb in m.entries)
        # Maps whose declaration disappeared from the source keep their data untouched, as on the IC.
        self.orphans = orphans

    def _map(self, memory_id: Any) -> _Map:
        m = self.maps.get(memory_id)
        if m is None:
            raise LookupError(f"memory_id {memory_id} does not have an associated StableBTreeMap")
        return m

    def take_writes(self) -> dict[tuple[int, bytes], bytes | None]:
        for n in self.dirty_pages:
            self.writes[(RAW_MEMORY, n.to_bytes(8, "big"))] = bytes(self.pages[n])
        self.dirty_pages.clear()
        w, self.writes = self.writes, {}
        return w

    def apply(self, writes: dict[tuple[int, bytes], bytes | None]) -> None:
        """Apply writes made elsewhere (by pre_upgrade in the old code) to this memory."""
        for (memory, kb), vb in writes.items():
            if memory == RAW_MEMORY:
                n = int.from_bytes(kb, "big")
                if n == 0xFFFFFFFFFFFFFFFF:
                    self.page_count = int.from_bytes(vb or b"", "big")
                elif vb is not None:
                    self.pages[n] = bytearray(vb)
            elif memory in self.maps:
                if vb is None:
                    self.maps[memory].drop(kb)
                else:
                    self.maps[memory].put(kb, vb)
            self.writes[(memory, kb)] = vb

    # -- StableBTreeMap -----------------------------------------------------------------------------------

    def contains_key(self, memory_id: int, key: Any) -> bool:
        m = self._map(memory_id)
        return m.key_bytes(key) in m.entries

    def get(self, memory_id: int, key: Any) -> Any:
        m = self._map(memory_id)
        vb = m.entries.get(m.key_bytes(key))
        return None if vb is None else m.value(vb)

    def insert(self, memory_id: int, key: Any, value: Any) -> Any:
        m = self._map(memory_id)
        kb, vb = m.key_bytes(key), m.value_bytes(value)
        old = m.put(kb, vb)
        self.writes[(memory_id, kb)] = vb
        return None if old is None else m.value(old)

    def remove(self, memory_id: int, key: Any) -> Any:
        m = self._map(memory_id)
        kb = m.key_bytes(key)
        old = m.drop(kb)
        if old is None:
            return None
        self.writes[(memory_id, kb)] = None
        return m.value(old)

    def is_empty(self, memory_id: int) -> bool:
        return not self._map(memory_id).entries

    def len(self, memory_id: int) -> int:
        return len(self._map(memory_id).entries)

    def keys(self, memory_id: int) -> list[Any]:
        m = self._map(memory_id)
        return [m.key(kb) for _, kb in m.order]

    def values(self, memory_id: int) -> list[Any]:
        m = self._map(memory_id)
        return [m.value(m.entries[kb]) for _, kb in m.order]

    def items(self, memory_id: int) -> list[tuple[Any, Any]]:
        m = self._map(memory_id)
        return [(m.key(kb), m.value(m.entries[kb])) for _, kb in m.order]

    # -- raw stable memory (ic.stable_* / ic.stable64_*) --------------------------------------------------

    def size_pages(self) -> int:
        return self.page_count

    def grow(self, new_pages: int, limit: int) -> int | None:
        """Grow by `new_pages`; the previous size, or None when the limit would be exceeded."""
        old = self.page_count
        if new_pages < 0 or old + new_pages > limit:
            return None
        self.page_count = old + new_pages
        self.writes[(RAW_MEMORY, (0xFFFFFFFFFFFFFFFF).to_bytes(8, "big"))] = self.page_count.to_bytes(
            8, "big"
        )
        return old

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.page_count * PAGE:
            raise StableTrap("stable memory out of bounds")

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        out = bytearray()
        while length:
            n, at = divmod(offset, PAGE)
            take = min(length, PAGE - at)
            page = self.pages.get(n)
            out += page[at : at + take] if page is not None else bytes(take)
            offset += take
            length -= take
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        self._check(offset, len(data))
        pos = 0
        while pos < len(data):
            n, at = divmod(offset + pos, PAGE)
            take = min(len(data) - pos, PAGE - at)
            page = self.pages.setdefault(n, bytearray(PAGE))
            page[at : at + take] = data[pos : pos + take]
            self.dirty_pages.add(n)
            pos += take
