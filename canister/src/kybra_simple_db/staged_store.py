"""Staged writes over a StableBTreeMap-like map: reads see pending writes, commit applies them all.

This is how every engine operation is all-or-nothing: writes are collected (sizes checked at once),
and only reach storage when the outermost operation or transaction commits. A nested unit that
rolls back alone undoes its writes in two ways: a key it stages for the first time is cut off the
end of the pending writes (a dict keeps insertion order; the unit's mark noted where they ended), and
only a key staged before gets an undo-journal entry with its earlier pending value (most writes of
an operation are first writes, so most need no journal entry).

`get_cached` keeps what storage holds under the engine's own structures (index nodes and headers,
count trees) in the heap across messages: `commit` writes through to it, a rollback or `discard`
leaves it alone (it only ever holds what storage holds), and a new map starts empty (docs/engine.md
"Caching").

A map that offers host functions (storage_contract.host_functions: Kybra's stable maps in the canister)
gets a `DirectStagedMap`, whose reads and commit call them with its memory id; any other map is used
through its methods, exactly as before.
"""

from typing import Optional

from .db_errors import StorageLimitError
from .storage_contract import host_functions

NO_LIMIT = 1 << 62
CACHE_SIZE = 4096
"""Keys a map's `get_cached` keeps at most (the cache is dropped wholesale when full: a few MB of heap
at the canister's 1 KiB values)."""
SETTLED = [0]
"""How many times any map's pending writes were applied or dropped in this process (commit, discard,
cut). While it stays the same, a value read from storage under a key not pending is still what storage
holds: no engine wrote storage since (see `get_known`)."""


class StagedMap:
    """One storage map plus its pending writes (key -> value, or None for a removal)."""

    def __init__(self, raw, max_key_size: Optional[int], max_value_size: Optional[int]):
        self.raw = raw
        self.max_key_size = max_key_size
        self.max_value_size = max_value_size
        # text of at most this many characters fits whatever it holds (4 UTF-8 bytes per character)
        self.key_chars = NO_LIMIT if max_key_size is None else max_key_size // 4
        self.value_chars = NO_LIMIT if max_value_size is None else max_value_size // 4
        self.pending = {}       # the same dict for the map's lifetime (emptied in place): see pending_sets
        self.cache = {}         # key -> what storage holds (None: absent), for `get_cached` only
        # put(key, value, journal) and put_whole(key, value, journal): closures over the limits and `pending`
        # (none of them is ever replaced), without an attribute read or a bound method per write (each costs
        # ~6,000 instructions on Kybra's RustPython; a create stages five writes)
        self.put, self.put_whole = writes(self)

    def get(self, key: str) -> Optional[str]:
        pending = self.pending
        if key in pending:
            return pending[key]
        return self.raw.get(key)

    def get_known(self, key: str, known: Optional[tuple]) -> Optional[str]:
        """`get(key)`, given `known`: (the value storage held under `key`, `SETTLED[0]` then), or None:
        without reading storage again while nothing was applied or dropped since."""
        pending = self.pending
        if key in pending:
            return pending[key]
        if known is not None and known[1] == SETTLED[0]:
            return known[0]
        return self.raw.get(key)

    def get_cached(self, key: str) -> Optional[str]:
        """`get(key)` for a key that only the engine writes, through this map (an index node or header, a
        count tree's): storage's value is read once and kept across messages; `commit` keeps it current."""
        pending = self.pending
        if key in pending:
            return pending[key]
        cache = self.cache
        if key in cache:
            return cache[key]
        value = self.raw.get(key)
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = value
        return value

    def forget_cached(self) -> None:
        """Empty the cache of `get_cached` (storage is read again on the next use of each key)."""
        self.cache.clear()

    def contains(self, key: str) -> bool:
        if key in self.pending:
            return self.pending[key] is not None
        return self.raw.contains_key(key)

    def check_key(self, key: str) -> None:
        limit = self.max_key_size
        if limit is not None and len(key) * 4 > limit and len(key.encode("utf-8")) > limit:
            raise StorageLimitError(f"storage key {key[:40]!r}... exceeds {self.max_key_size} bytes")

    def delete(self, key: str, journal: list) -> None:
        pending = self.pending
        if key in pending:
            journal.append((self, key, pending[key]))
        pending[key] = None

    def undo(self, key: str, previous) -> None:
        """Give `key` back the pending value it had (a journal entry of `put` or `delete`)."""
        self.pending[key] = previous


def writes(staged: StagedMap) -> tuple:
    """`staged`'s `put` and `put_whole` (see StagedMap.__init__).

    put(key, value, journal): stage `value` under `key` (StorageLimitError if either is too large); a key
    staged before gets a journal entry with its earlier pending value (a nested unit rolling back restores
    it). put_whole(key, value, journal): the same if `value` fits in one stored value (True); else stages
    nothing (False), and the caller splits it over several keys (value_chunks). ASCII text (the usual
    documents and audit entries) is measured by its length, without encoding it."""
    key_chars, value_chars, pending = staged.key_chars, staged.value_chars, staged.pending
    check_key = staged.check_key

    def put(key: str, value: str, journal: list) -> None:
        if len(key) > key_chars:
            check_key(key)
        if len(value) > value_chars:
            limit = staged.max_value_size
            if (len(value) > limit or not value.isascii()) and len(value.encode("utf-8")) > limit:
                raise StorageLimitError(f"value for {key[:40]!r} exceeds {limit} bytes")
        if key in pending:
            journal.append((staged, key, pending[key]))
        pending[key] = value

    def put_whole(key: str, value: str, journal: list) -> bool:
        if len(value) > value_chars and (len(value) > staged.max_value_size or not value.isascii()):
            return False
        if len(key) > key_chars:
            check_key(key)
        if key in pending:
            journal.append((staged, key, pending[key]))
        pending[key] = value
        return True

    return put, put_whole


class DirectStagedMap(StagedMap):
    """A StagedMap over a map that offers host functions: a read calls the host function with the memory
    id, without the map's Python method between; the same values, errors and traps, as the method is one
    call of that function. Its reads (`get`, `get_known`, `get_cached`, `contains`) are closures over its
    dicts and the host function (`direct_reads`): no attribute read per call, ~35,000 instructions less
    per read on Kybra's RustPython than a StagedMap's over StableBTreeMap's method."""

    def __init__(self, raw, max_key_size: Optional[int], max_value_size: Optional[int], host: tuple):
        StagedMap.__init__(self, raw, max_key_size, max_value_size)
        self.memory_id, self.host_get, self.host_insert, self.host_remove, self.host_contains = host
        self.get, self.get_known, self.get_cached, self.contains = direct_reads(
            self.pending, self.cache, host)


def direct_reads(pending: dict, cache: dict, host: tuple) -> tuple:
    """StagedMap's `get`, `get_known`, `get_cached` and `contains` over the map's `pending` and `cache`
    dicts (the same for its lifetime), reading storage by the host functions of `host` (storage_contract)."""
    memory_id, host_get, host_contains = host[0], host[1], host[4]

    def get(key: str) -> Optional[str]:
        if key in pending:
            return pending[key]
        return host_get(memory_id, key)

    def get_known(key: str, known: Optional[tuple]) -> Optional[str]:
        if key in pending:
            return pending[key]
        if known is not None and known[1] == SETTLED[0]:
            return known[0]
        return host_get(memory_id, key)

    def get_cached(key: str) -> Optional[str]:
        if key in pending:
            return pending[key]
        if key in cache:
            return cache[key]
        value = host_get(memory_id, key)
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = value
        return value

    def contains(key: str) -> bool:
        if key in pending:
            return pending[key] is not None
        return host_contains(memory_id, key)

    return get, get_known, get_cached, contains


def staged_map(raw, max_key_size: Optional[int], max_value_size: Optional[int]) -> StagedMap:
    """The StagedMap of `raw`: a DirectStagedMap when it offers host functions (storage_contract)."""
    host = host_functions(raw)
    if host is None:
        return StagedMap(raw, max_key_size, max_value_size)
    return DirectStagedMap(raw, max_key_size, max_value_size, host)


def pending_sets(stages: tuple) -> tuple:
    """The pending writes of each map (dicts that stay the same for the maps' lifetime). A nested unit's
    mark, how many keys each map has pending when it begins (what `cut` goes back to), is
    `tuple(map(len, pending_sets(stages)))`: counted without an interpreted step per map (a nested
    begin costs ~50,000 instructions less on Kybra's RustPython than with a comprehension)."""
    return tuple([staged.pending for staged in stages])


def cut(stages: tuple, mark: tuple) -> None:
    """A nested unit's rollback: drop the keys staged for the first time since its `mark` (see
    pending_sets); the journal has restored the keys staged before by then."""
    SETTLED[0] += 1
    for staged, size in zip(stages, mark):
        pending = staged.pending
        while len(pending) > size:
            pending.popitem()


def commit(stages: tuple) -> None:
    """Apply every map's pending writes to its storage (the outermost unit's success), emptying them;
    a key `get_cached` keeps gets its new value (if storage refuses a write, the cache is dropped)."""
    SETTLED[0] += 1
    for staged in stages:
        pending = staged.pending
        if pending:
            raw = staged.raw
            try:
                insert = raw.insert
                for key, value in pending.items():
                    if value is None:
                        try:
                            raw.remove(key)
                        except KeyError:    # the original's storages raise for an absent key
                            pass
                    else:
                        insert(key, value)
            except BaseException:
                staged.cache.clear()
                raise
            cache = staged.cache
            if cache:   # the cached keys written get their new values: found among the pending keys by a
                # native filter, in time by the (few) pending keys; `cache.keys() & pending.keys()` costs
                # ~1,500 instructions per cached key on Kybra's RustPython (6M at CACHE_SIZE keys)
                for key in filter(cache.__contains__, pending):
                    cache[key] = pending[key]
            pending.clear()     # (a failed write leaves the rest to `discard`)


def direct_commit(stages: tuple):
    """`commit` for maps that are all DirectStagedMaps, as a function of no argument: a closure over each
    map's dicts, memory id and host functions (no attribute read per map); each write calls the host
    function with the memory id (the same writes in the same order, the same cache upkeep, the same
    handling of a refused write)."""
    maps = tuple([(staged.pending, staged.cache, staged.memory_id, staged.host_insert, staged.host_remove)
                  for staged in stages])

    def commit_direct() -> None:
        SETTLED[0] += 1
        for pending, cache, memory_id, insert, remove in maps:
            if pending:
                try:
                    for key, value in pending.items():
                        if value is None:
                            try:
                                remove(memory_id, key)
                            except KeyError:
                                pass
                        else:
                            insert(memory_id, key, value)
                except BaseException:
                    cache.clear()
                    raise
                if cache:   # (as in `commit`)
                    for key in filter(cache.__contains__, pending):
                        cache[key] = pending[key]
                pending.clear()

    return commit_direct


class Stages(tuple):
    """A database's StagedMaps, in order (a tuple): `stages.commit()` applies their pending writes."""

    __slots__ = ()
    commit = commit


class DirectStages(Stages):
    """Stages that are all DirectStagedMaps: `stages.commit()` is their `direct_commit` closure."""

    def __init__(self, maps: tuple):
        self.commit = direct_commit(self)


def stages_of(maps: tuple) -> Stages:
    """`maps` as the Stages whose `commit` suits them (a `direct_commit` closure when every one is direct)."""
    if all(type(staged) is DirectStagedMap for staged in maps):
        return DirectStages(maps)
    return Stages(maps)


def discard(stages: tuple) -> None:
    """Drop every map's pending writes (the outermost unit rolled back, or its commit failed)."""
    SETTLED[0] += 1
    for staged in stages:
        staged.pending.clear()
