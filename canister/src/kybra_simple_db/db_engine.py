"""The `Database`: storage access, all-or-nothing operations, counters, id sets and the audit log.

Entities (db_entity.py) build on the primitives here; every primitive touches O(1) keys, except
the walks (pages, links) which read one key per bucket of ids plus one per item returned.
"""

import json
import time
from typing import Optional

from . import bitsets, type_registry, value_chunks
from . import key_layout as keys
from .audit_log import ENGINE_TYPES, AuditLog
from .context import CallerScope, get_caller_id
from .db_errors import NotFoundError, StorageLimitError, ValidationError
from .identity_map import IdentityMap
from .memory_map import MemoryMap
from .schema_check import SchemaUpgrades
from .seed_documents import SeedDocuments
from .staged_store import cut, discard, pending_sets, staged_map, stages_of
from .storage_contract import declared_limit
from .system_time import SystemTime
from .undo_journal import CALL, rollback

DEFAULT_MAX_KEY_SIZE = 100
DEFAULT_MAX_VALUE_SIZE = 1000
ENCODING_MARGIN = 16
DEFAULT_BUCKET_WIDTH = 2048
MAX_DELETED_SPANS = 32         # spans of wholly deleted id buckets kept with a type's counters
_CHUNK_MARK = keys.CHUNK_MARK   # (a module global: one attribute read fewer per write)
DEFAULT_DELETE_BUDGET = 2000    # linked entities one delete may touch (about 4M instructions each on Kybra)


def _limit(declared, storage, attribute: str, fallback: int):
    """The usable size (after the encoding margin): the explicit one, else what the map declares
    (see storage_contract), else `fallback`; None when unlimited."""
    if declared is None:
        declared = declared_limit(storage, attribute, fallback)
    if declared is None:
        return None
    if declared <= ENCODING_MARGIN + 8:
        raise ValidationError(f"{attribute} {declared} is too small for the engine")
    return declared - ENCODING_MARGIN


NEW_COUNT_MODE = "t"     # the count mode of every ordered index created from now on (see count_mode)


def _with_count_modes(schema: dict, counted, tallied, reached=None, tailed=None) -> None:
    """Record which ordered indexes count their values (since their creation): "c" with a count key per
    value (indexes stored before value_counts.py, moving to count trees), "v" with value_counts.py's
    stored counts of values with many entries, "t" with its counts outside each value's last leaf; and
    "m", the id a `rebuild_keys` pass from the first id has reached while "c" or pending ("p") indexes
    remain."""
    if counted:
        schema["c"] = list(counted)
    if reached is not None and (counted or schema.get("p")):
        schema["m"] = reached
    if tallied:
        schema["v"] = list(tallied)
    if tailed:
        schema["t"] = list(tailed)


def system_clock():
    """The default clock, nanoseconds since the epoch: `time.time_ns` where the runtime has it (Kybra's
    RustPython does not), else `time.time()` scaled (microsecond resolution)."""
    clock = getattr(time, "time_ns", None)
    if clock is not None:
        return clock
    wall = time.time
    return lambda: int(wall() * 1_000_000) * 1000


def _unit_runner(db: "Database"):
    """`db.run(action, args)`: `action(*args)` in one all-or-nothing unit, committed (if outermost) when it
    returns, rolled back when it raises. What `begin`, the action and `end` do, the success path inline
    (two calls fewer), as a closure over the database's undo journal, staged maps and their pending writes
    (none is ever replaced): no attribute read of them per run (each costs ~6,000 instructions on Kybra's
    RustPython, a call ~15,000; every canister update passes here)."""
    journal, stages, pending = db._journal, db._stages, db._pending
    commit = stages.commit

    def run(action, args: tuple):
        depth = db.depth
        db.depth = depth + 1
        mark = len(journal)
        if depth:   # (as `begin`)
            journal.append((CALL, cut, (stages, tuple(map(len, pending)))))
        try:
            result = action(*args)
        except BaseException:
            db.end(mark, False)
            raise
        depth = db.depth - 1   # (as `end(mark, True)`)
        db.depth = depth
        if depth == 0:
            journal.clear()
            try:
                commit()
            except BaseException:
                discard(stages)
                raise
        return result

    return run


def _uncount(undo, counters: dict, tc: int, previous: tuple) -> None:
    """A create's rollback in `set_counters`: `undo()`, then the type's counters as they were."""
    undo()
    counters[tc] = previous


def _journaled_put(put, journal: list):
    """`Database.put` over its staged map's `put` and its undo journal (the same list for its lifetime)."""

    def journaled(key: str, value: str) -> None:
        put(key, value, journal)

    return journaled


class Operation:
    """Context manager for one all-or-nothing unit: nested units roll back alone, the outermost commits."""

    def __init__(self, db: "Database"):
        self.db = db
        self.mark = 0

    def __enter__(self) -> "Operation":
        self.mark = self.db.begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.db.end(self.mark, exc_type is None)
        return False


class Database(SeedDocuments, SchemaUpgrades):
    """An entity database over a StableBTreeMap-like storage (and optionally a separate audit map)."""

    _instance = None

    @classmethod
    def init(cls, audit_enabled: bool = True, db_storage=None, db_audit=None, clock=None,
             max_key_size: Optional[int] = None, max_value_size: Optional[int] = None,
             audit_max_key_size: Optional[int] = None, audit_max_value_size: Optional[int] = None
             ) -> "Database":
        """Create the database on `db_storage` (re-initialising on existing storage restores everything)."""
        cls._instance = cls(audit_enabled=audit_enabled, db_storage=db_storage, db_audit=db_audit,
                            clock=clock, max_key_size=max_key_size, max_value_size=max_value_size,
                            audit_max_key_size=audit_max_key_size,
                            audit_max_value_size=audit_max_value_size)
        return cls._instance

    @classmethod
    def get_instance(cls) -> "Database":
        """The current database (an in-memory one with audit on is created if none was initialised)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self, audit_enabled: bool = True, db_storage=None, db_audit=None, clock=None,
                 max_key_size: Optional[int] = None, max_value_size: Optional[int] = None,
                 audit_max_key_size: Optional[int] = None, audit_max_value_size: Optional[int] = None):
        if db_storage is None:
            db_storage = MemoryMap(max_key_size=max_key_size, max_value_size=max_value_size)
        self._storage = db_storage
        key_limit = _limit(max_key_size, db_storage, "max_key_size", DEFAULT_MAX_KEY_SIZE)
        value_limit = _limit(max_value_size, db_storage, "max_value_size", DEFAULT_MAX_VALUE_SIZE)
        self.key_limit = key_limit if key_limit is not None else 10_000
        self.value_limit = value_limit
        self._journal = []      # the undo journal of the current operation (emptied, never replaced)
        self._data = staged_map(db_storage, key_limit, value_limit)
        if type(self).get is Database.get:
            self.get = self._data.get   # the same read, one interpreted call fewer (every operation reads)
        if type(self).get_known is Database.get_known:
            self.get_known = self._data.get_known
        if type(self).get is Database.get and type(self).get_cached is Database.get_cached:
            self.get_cached = self._data.get_cached
        if type(self).put is Database.put:   # (the journal is never replaced: one interpreted call fewer)
            self.put = _journaled_put(self._data.put, self._journal)
        self._audit_enabled = bool(audit_enabled)
        if db_audit is not None:
            audit_map = staged_map(
                db_audit, _limit(audit_max_key_size, db_audit, "max_key_size", DEFAULT_MAX_KEY_SIZE),
                _limit(audit_max_value_size, db_audit, "max_value_size", DEFAULT_MAX_VALUE_SIZE))
            self._stages = stages_of((self._data, audit_map))
            self.audit = AuditLog(audit_map, "", self._audit_enabled, journal=self._journal)
        else:
            self._stages = stages_of((self._data,))
            self.audit = AuditLog(self._data, "&", self._audit_enabled, shared=True, journal=self._journal)
        self._pending = pending_sets(self._stages)
        if getattr(type(self), "run", None) is None:   # (unless a subclass defines its own)
            self.run = _unit_runner(self)
        self._audit_storage = db_audit
        self._clock = clock or system_clock()
        self._deleted_spans = {}
        self.delete_budget = DEFAULT_DELETE_BUDGET
        self.meter = None
        self.meter_limit = None
        self.step_meter_limit = None
        self._after_commit = []
        self.depth = 0          # units open now (`begin` without its `end`): read it, do not change it
        self._type_codes = {}
        self._counters = {}
        self._counter_keys = {}     # type code -> its counters' key (set as `counters` first reads them)
        self._key_schemas = {}
        self._keyed = {}
        self.identity = IdentityMap()
        self.write_guard = None
        self.bucket_width = self._load_meta()
        with self.operation():
            for type_name in type_registry.all_types():
                self.sync_key_schema(type_registry.find(type_name))

    # ----- configuration -------------------------------------------------------------------------

    def _load_meta(self) -> int:
        text = self._storage.get(keys.META)
        if text:
            return int(json.loads(text)["w"])
        width = DEFAULT_BUCKET_WIDTH
        if self.value_limit is not None:
            chars = 16
            while chars * 2 <= self.value_limit and chars * 2 * 4 <= DEFAULT_BUCKET_WIDTH:
                chars *= 2
            width = chars * 4
        with self.operation():
            self.put(keys.META, json.dumps({"v": 1, "w": width}))
        return width

    def set_clock(self, clock) -> None:
        """Use `clock()` (nanoseconds since the epoch, e.g. Kybra's `ic.time`) for timestamps and audit."""
        self._clock = clock

    def now(self) -> int:
        """Nanoseconds since the epoch: SystemTime's fixed time when one is set, else the clock."""
        fixed = SystemTime.fixed_ns
        if fixed is not None:
            return fixed
        return int(self._clock())

    @property
    def audit_enabled(self) -> bool:
        return self._audit_enabled

    def set_write_guard(self, guard) -> None:
        """`guard(entity, action) -> bool` is asked before an operation changes an entity other than the
        one it was called on: ACTION_MODIFY before a link or unlink rewrites that entity's document
        (False refuses the operation), ACTION_DELETE before a Cascade deletes it (False unlinks it
        instead, as SetNull). None (the default) allows everything."""
        self.write_guard = guard

    def set_meter(self, meter, limit: int, step_limit: Optional[int] = None) -> None:
        """Bound deletes by instructions too: `meter()` returns the instructions the current message
        has used (the canister passes `ic.performance_counter(0)`); a delete refuses (StorageLimitError,
        nothing changed) once it passes `limit`, and a step of `delete_in_steps` starts no new unit
        past `step_limit`. `meter=None` turns it off."""
        self.meter = meter
        self.meter_limit = limit
        self.step_meter_limit = step_limit

    def allows(self, entity, action: str) -> bool:
        guard = self.write_guard
        return guard is None or bool(guard(entity, action))

    def as_user(self, user_id: str) -> CallerScope:
        """Context manager: operations inside are attributed to `user_id`."""
        return CallerScope(user_id)

    # ----- all-or-nothing operations ---------------------------------------------------------------

    def operation(self) -> Operation:
        """One all-or-nothing unit (every public engine operation runs in one)."""
        return Operation(self)

    def transaction(self) -> Operation:
        """`with db.transaction():` groups several operations: all of their writes or none."""
        return Operation(self)

    def in_operation(self) -> bool:
        return self.depth > 0

    def begin(self) -> int:
        """Open an all-or-nothing unit (what `operation()` does, without a context manager object);
        returns the mark to pass to `end`. A nested unit notes where the staged writes stand, so its
        rollback drops what it staged first (the outermost one discards all of them instead)."""
        depth = self.depth
        self.depth = depth + 1
        journal = self._journal
        mark = len(journal)
        if depth:   # the keys each map has pending now (see staged_store.pending_sets)
            journal.append((CALL, cut, (self._stages, tuple(map(len, self._pending)))))
        return mark

    def end(self, mark: int, ok: bool) -> None:
        """Close the unit opened at `mark`: undo it unless `ok`; the outermost unit commits."""
        depth = self.depth - 1
        self.depth = depth
        if not ok:
            rollback(self._journal, mark)
        if depth == 0:
            self._journal.clear()
            if ok:
                try:
                    self._stages.commit()
                    return
                except BaseException:
                    discard(self._stages)
                    raise
            discard(self._stages)

    def on_rollback(self, undo) -> None:
        """Register `undo()` to restore in-memory state if the current operation rolls back."""
        self._journal.append((None, undo, None))

    def on_rollback_call(self, function, args: tuple) -> None:
        """Register `function(*args)` to run if the current operation rolls back (no closure needed)."""
        self._journal.append((CALL, function, args))

    # ----- raw staged access -------------------------------------------------------------------------

    def get(self, key: str) -> Optional[str]:
        return self._data.get(key)

    def get_known(self, key: str, known: Optional[tuple]) -> Optional[str]:
        """`get(key)` without a storage read when `known` is (what it gave, staged_store.SETTLED then)
        and nothing was committed or rolled back since."""
        return self._data.get_known(key, known)

    def cached_reader(self):
        """The function `get_cached` reads through (the staged map's, or `get` when a subclass overrides
        it): an index descent reading several nodes calls it directly, one call less per read."""
        if type(self).get is not Database.get:
            return self.get
        return self._data.get_cached

    def get_cached(self, key: str) -> Optional[str]:
        """`get(key)` for the engine's own structures (index nodes and headers, count trees), kept in the
        heap across messages (staged_store.StagedMap.get_cached); a subclass overriding `get` reads
        through it instead (`__init__` binds the staged map's to the instance when neither is overridden)."""
        return self.cached_reader()(key)

    def forget_cached(self) -> None:
        """Empty the heap cache of `get_cached` (as a new Database starts: for benchmarks and tests)."""
        self._data.forget_cached()

    def contains(self, key: str) -> bool:
        return self._data.contains(key)

    def put(self, key: str, value: str) -> None:
        self._data.put(key, value, self._journal)


    def get_value(self, key: str, head: Optional[str] = None) -> Optional[str]:
        """A value that may be split over several keys (head `~n` then chunks `key~0..n-1`)."""
        text = self._data.get(key) if head is None else head
        if text is None or not text.startswith(keys.CHUNK_MARK):
            return text
        return value_chunks.join(self._data, key, text)

    def put_value(self, key: str, text: str, old_head: Optional[str] = None) -> None:
        """Store `text`, split across keys if it exceeds the value size; stale chunks are removed."""
        if (old_head is None or not old_head.startswith(_CHUNK_MARK)) and not text.startswith(
                _CHUNK_MARK) and self._data.put_whole(key, text, self._journal):
            return      # the common case: one value, no chunks before or now
        value_chunks.write(self._data, self._journal, key, text, self.value_limit, old_head)

    def delete_value(self, key: str, old_head: Optional[str]) -> None:
        if old_head is not None and not old_head.startswith(keys.CHUNK_MARK):
            self._data.delete(key, self._journal)     # the common case: no chunks
            return
        value_chunks.remove(self._data, self._journal, key, old_head)

    # ----- types and counters ---------------------------------------------------------------------

    def type_code(self, type_name: str, create: bool = False) -> Optional[int]:
        """The small int standing for `type_name` in keys (assigned on first store), or None."""
        try:
            return self._type_codes[type_name]   # (a subscript: a third of get() on Kybra's RustPython)
        except KeyError:
            pass
        text = self.get(keys.type_code_key(type_name))
        if text is None:
            if not create:
                return None
            if len((keys.type_code_key(type_name)).encode("utf-8")) > self.key_limit:
                raise StorageLimitError(f"type name {type_name!r} is too long for this storage")
            tc = int(self.get(keys.TYPE_SEQ) or 0) + 1
            self.put(keys.TYPE_SEQ, str(tc))
            self.put(keys.type_code_key(type_name), str(tc))
            self.put(keys.type_name_key(tc), type_name)
            self.on_rollback(lambda: self._type_codes.pop(type_name, None))
        else:
            tc = int(text)
        self._type_codes[type_name] = tc
        return tc

    def key_generations(self, cls, tc: int) -> dict:
        """{indexed field or "@" + alias field: generation} of the alias and index keys kept for the
        type now (synced first if `cls` is its current class and was not synced yet)."""
        entry = self._key_schemas.get(tc)
        if entry is None or (entry[0] is not cls and type_registry.find(cls.__type_name__) is cls):
            if type_registry.find(cls.__type_name__) is cls:
                with self.operation():
                    self.sync_key_schema(cls)
            else:   # an object of a replaced class: keep the current class's keys
                self._key_schemas[tc] = (None, self._read_key_schema(tc) or {"n": 1, "k": {}})
            entry = self._key_schemas[tc]
        return entry[1]["k"]

    def key_schema(self, cls, tc: int) -> dict:
        """The type's key schema as `key_generations` syncs it ({"k": generations, "t"/"v"/"c": count modes,
        "p": pending}); a new dict whenever it changes, so what callers derive from it may be cached
        by its identity (see entity_keys). Do not change it."""
        entry = self._key_schemas.get(tc)
        if entry is None or entry[0] is not cls:     # (synced for this class: no key_generations call)
            self.key_generations(cls, tc)
            entry = self._key_schemas[tc]
        return entry[1]

    def keyed_fields(self, cls, tc: int) -> frozenset:
        """Names of the fields whose changes move alias or index keys (see `key_generations`); cached
        per class until the type's key schema changes."""
        try:
            cached = self._keyed[tc]   # (a subscript: a third of get() on Kybra's RustPython)
            if cached[0] is cls:
                return cached[1]
        except KeyError:
            pass
        generations = self.key_generations(cls, tc)
        names = frozenset(n[1:] if n[0] == "^" or n[0] == "@" else n for n in generations)
        if self._key_schemas[tc][0] is cls:
            self._keyed[tc] = (cls, names)
        return names

    def count_mode(self, cls, tc: int, name: str) -> Optional[str]:
        """How the ordered index `name` ("^field") counts its values: "t" (stored counts of entries
        outside each value's last leaf), "v" (stored counts of the values with many entries; both:
        value_counts.py), "c" (a count key per value, as stored before) or None."""
        self.key_generations(cls, tc)
        schema = self._key_schemas[tc][1]
        if name in schema.get("t", ()):
            return "t"
        if name in schema.get("v", ()):
            return "v"
        return "c" if name in schema.get("c", ()) else None

    def value_count_generation(self, cls, tc: int, field: str) -> Optional[tuple]:
        """(generation, count mode) of `field`'s ordered index when it counts its values exactly
        (created since counts exist, and not pending a rebuild), else None."""
        gen = self.key_generations(cls, tc).get("^" + field)
        name = "^" + field
        mode = self.count_mode(cls, tc, name)
        if gen is None or mode is None or name in self._key_schemas[tc][1].get("p", ()):
            return None
        return gen, mode

    def add_to_count(self, key: str, delta: int) -> None:
        """Add `delta` to the counter stored under `key` (removed at zero; only the engine writes it, so
        it is read through the heap cache, see `get_cached`)."""
        text = self._data.get_cached(key)
        value = (int(text) if text else 0) + delta
        if value:
            self._data.put(key, str(value), self._journal)
        elif text is not None:
            self._data.delete(key, self._journal)

    def _read_key_schema(self, tc: int, head: Optional[str] = None) -> Optional[dict]:
        text = self.get_value(keys.key_schema_key(tc), head)
        return None if text is None else json.loads(text)

    def sync_key_schema(self, cls) -> int:
        """Record the alias and indexes `cls` keeps and return its type code. A key dropped from the
        schema is forgotten; one (re)added gets a new generation, which is part of its key names, so
        entries left by an earlier definition are never read again (O(1); they are not deleted).

        Each indexed field keeps an ordered index (name "^field"). One added to a type that already has
        entities is pending (listed in "p": queries do not use it) until `rebuild_keys` has filled it;
        an equality index of the older layout (name "field", id sets per value) is kept up to date
        and used for equality lookups until then, and dropped from the schema afterwards."""
        tc = self.type_code(cls.__type_name__, create=True)
        indexed = list(cls.__indexed__)
        wanted = ["^" + name for name in indexed]
        if cls.__alias__ is not None:
            wanted.append("@" + cls.__alias__)
        key = keys.key_schema_key(tc)
        head = self.get(key)
        previous = self._key_schemas.get(tc)
        stored = None
        if head is not None:
            stored = previous[1] if previous is not None else self._read_key_schema(tc, head)
        if stored is None:
            # a new type, or one stored before generations existed: its keys are generation 0
            gens = {name: 0 for name in wanted}
            pending = []
            if self.counters(tc)[1] > 0:
                gens.update({name: 0 for name in indexed})
                pending = ["^" + name for name in indexed]
            schema = {"n": 1, "k": gens}
            counted = []
            tallied = [name for name in wanted if name[0] == "^"]
            tailed = []
            if NEW_COUNT_MODE == "t":
                tallied, tailed = tailed, tallied
        else:
            kept = stored["k"]
            gens = {name: gen for name, gen in kept.items() if name in wanted or name in indexed}
            pending = [name for name in stored.get("p", ()) if name in gens]
            counted = [name for name in stored.get("c", ()) if name in gens]
            tallied = [name for name in stored.get("v", ()) if name in gens]
            tailed = [name for name in stored.get("t", ()) if name in gens]
            following = stored["n"]
            reached = stored.get("m")
            for name in wanted:
                if name not in gens:
                    gens[name] = following
                    following += 1
                    if name[0] == "^":
                        (tailed if NEW_COUNT_MODE == "t" else tallied).append(name)
                        if self.counters(tc)[1] > 0:
                            pending.append(name)
                            reached = None      # a pass under way has not filled it: one from the first id
            schema = {"n": following, "k": gens}
        if pending:
            schema["p"] = pending
        _with_count_modes(schema, counted, tallied, None if stored is None else reached, tailed)
        self._save_key_schema(tc, cls, schema, stored, head, previous)
        return tc

    def _save_key_schema(self, tc: int, cls, schema: dict, stored, head, previous) -> None:
        if schema != stored:
            self.put_value(keys.key_schema_key(tc), json.dumps(schema, separators=(",", ":")), head)
        self._key_schemas[tc] = (cls, schema)
        self._keyed.pop(tc, None)
        self.keyed_fields(cls, tc)      # cached now, from the schema in hand, not on the first update

        def undo():
            self._keyed.pop(tc, None)
            if previous is None:
                self._key_schemas.pop(tc, None)
            else:
                self._key_schemas[tc] = previous
        self.on_rollback(undo)

    def pending_keys(self, cls, tc: int) -> tuple:
        """Ordered indexes of the type ("^field") not filled yet (see sync_key_schema)."""
        self.key_generations(cls, tc)
        return tuple(self._key_schemas[tc][1].get("p", ()))

    def advance_key_rebuild(self, cls, tc: int, start, reached: int) -> None:
        """After a `rebuild_keys` page from `start` to `reached`: remember how far a pass from the first id
        has come, while indexes with a count key per value or pending ones remain (see finish_key_rebuild)."""
        self.key_generations(cls, tc)
        entry = self._key_schemas[tc]
        stored = entry[1]
        if (stored.get("c") or stored.get("p")) and (not start or stored.get("m") == start):
            schema = dict(stored)
            schema["m"] = reached
            self._save_key_schema(tc, entry[0], schema, stored, self.get(keys.key_schema_key(tc)), entry)

    def finish_key_rebuild(self, cls, tc: int, start=None) -> None:
        """After `rebuild_keys` reached the last entity (its last page began at `start`), when the pass went
        over every id from the first one (else nothing changes): pending ordered indexes are ready,
        equality indexes of the older layout are no longer kept, and indexes with a count key per value
        have moved every value's key over (value_counts.fold_key) and count with count trees alone."""
        self.key_generations(cls, tc)
        entry = self._key_schemas[tc]
        stored = entry[1]
        if start and stored.get("m") != start:
            return      # (a pass that skipped ids, or began before a pending index was added)
        gens = {name: gen for name, gen in stored["k"].items()
                if name[0] in "^@" or "^" + name not in stored["k"]}
        schema = {"n": stored["n"], "k": gens}
        counted, tallied = stored.get("c"), stored.get("v")
        if counted:
            counted, tallied = None, list(tallied or ()) + list(counted)
        _with_count_modes(schema, counted, tallied, None, stored.get("t"))
        if schema != stored:
            self._save_key_schema(tc, entry[0], schema, stored, self.get(keys.key_schema_key(tc)), entry)

    def stored_types(self) -> list:
        """(type code, type name) of every type that has ever stored an entity, by code."""
        count = int(self.get(keys.TYPE_SEQ) or 0)
        out = []
        for tc in range(1, count + 1):
            name = self.get(keys.type_name_key(tc))
            if name is not None:
                out.append((tc, name))
        return out

    def creation_state(self, type_name: str) -> tuple:
        """(type code, max id, live count, time) for a create of `type_name`, its code assigned on its first
        store: what a create starts from (`type_code`, `counters` and `now` in one call; two subscripts
        once the code and counters are known)."""
        try:
            tc = self._type_codes[type_name]
            max_id, count = self._counters[tc]
        except KeyError:
            tc = self.type_code(type_name, True)
            max_id, count = self.counters(tc)
        fixed = SystemTime.fixed_ns     # (`now()` without its call)
        if fixed is None:
            fixed = self._clock()
            if fixed.__class__ is not int:   # (Kybra's clock gives an int: no int() call, ~8,000)
                fixed = int(fixed)
        return tc, max_id, count, fixed

    def counters(self, tc: Optional[int]) -> tuple:
        """(max id ever assigned, live count) of a type (cached: only this engine writes them). The
        same key holds the type's deleted spans, if any ("max,count,first-last;first-last")."""
        if tc is None:
            return (0, 0)
        cached = self._counters.get(tc)
        if cached is not None:
            return cached
        key = keys.counter_key(tc)
        self._counter_keys[tc] = key
        text = self.get(key)
        spans = []
        if text:
            parts = text.split(",")
            cached = (int(parts[0]), int(parts[1]))
            if len(parts) > 2:
                for span in parts[2].split(";"):
                    first, last = span.split("-")
                    spans.append((int(first), int(last)))
        else:
            cached = (0, 0)
        self._counters[tc] = cached
        self._deleted_spans[tc] = spans
        return cached

    def set_counters(self, tc: int, max_id: int, count: int, created=None, eid: int = 0, undo=None,
                     key: Optional[str] = None, text: Optional[str] = None) -> None:
        """The type's (max id, live count) become (`max_id`, `count`) (a rollback restores them). A create
        passes its new entity `created`, of id `eid`, and `undo`: the identity map holds the entity from
        then on, and a rollback calls `undo()`; and, when it has it already, its document `text` (never a
        chunk head: it starts with `{`) to stage under `key`, which holds nothing yet. Every create needs
        all of this: one call instead of four."""
        counters = self._counters
        journal = self._journal
        try:   # (a subscript: a third of get() on Kybra's RustPython)
            previous = counters[tc]
        except KeyError:
            previous = self.counters(tc)      # loads the deleted spans too
        data = self._data
        spans = self._deleted_spans[tc]
        if spans:
            self._write_counters(tc, max_id, count, spans)
        else:   # (the usual case, inline: every create sets them)
            data.put(self._counter_keys[tc], f"{max_id},{count}", journal)
        counters[tc] = (max_id, count)
        if created is None:
            journal.append((CALL, counters.__setitem__, (tc, previous)))
            return
        self.identity.put((tc, eid), created)
        # a rollback calls `undo()`, then gives the counters back (one journal entry where two took more)
        journal.append((CALL, _uncount, (undo, counters, tc, previous)))
        if key is not None and not data.put_whole(key, text, journal):
            value_chunks.write(data, journal, key, text, self.value_limit)

    def count_deleted(self, tc: int, entity_id: int) -> None:
        """A live entity of the type was deleted: its count goes down by one and its id joins the
        deleted set (`set_counters` and `mark_deleted` in one step, as every delete needs both)."""
        counters = self._counters
        previous = counters.get(tc) or self.counters(tc)      # loads the deleted spans too
        max_id, count = previous
        if self._deleted_spans[tc]:     # rare (a restore into a large id gap): the general steps
            self.set_counters(tc, max_id, count - 1)
            self.mark_deleted(tc, entity_id, True)
            return
        data = self._data
        journal = self._journal
        data.put(self._counter_keys[tc], f"{max_id},{count - 1}", journal)
        counters[tc] = (max_id, count - 1)
        journal.append((CALL, counters.__setitem__, (tc, previous)))
        bucket, offset = divmod(entity_id, self.bucket_width)
        key = keys.deleted_key(tc, bucket)
        text, changed = bitsets.change(data.get(key), offset, True)
        if changed:     # (a set bit never leaves the bucket empty)
            data.put(key, text, journal)

    def _write_counters(self, tc: int, max_id: int, count: int, spans) -> None:
        text = f"{max_id},{count}"
        if spans:
            text += "," + ";".join(str(first) + "-" + str(last) for first, last in spans)
        self._data.put(keys.counter_key(tc), text, self._journal)

    # ----- id sets (buckets of bits) ---------------------------------------------------------------

    def bit_update(self, key_of_bucket, member: int, present: bool) -> bool:
        """Add or remove `member` in the id set with bucket keys `key_of_bucket(b)`; True if changed."""
        bucket, offset = divmod(member, self.bucket_width)
        return self.bit_set(key_of_bucket(bucket), offset, present)

    def bit_set(self, key: str, offset: int, present: bool) -> bool:
        """Set or clear bit `offset` of the bucket stored under `key`; True if it changed."""
        text, changed = bitsets.change(self._data.get(key), offset, present)
        if not changed:
            return False
        if text is None:
            self._data.delete(key, self._journal)
        else:
            self._data.put(key, text, self._journal)
        return True

    def bit_add_all(self, key_of_bucket, members: list) -> None:
        """Add every id of `members` to an id set: one read and at most one write per bucket touched
        (a trusted restore adds thousands of ids to one entity's set)."""
        width = self.bucket_width
        masks = {}
        for member in members:
            bucket, offset = divmod(member, width)
            masks[bucket] = masks.get(bucket, 0) | (1 << offset)
        for bucket, mask in masks.items():
            key = key_of_bucket(bucket)
            old = bitsets.decode(self._data.get(key))
            if old | mask != old:
                self._data.put(key, bitsets.encode(old | mask), self._journal)

    def bit_test(self, key_of_bucket, member: int) -> bool:
        bucket, offset = divmod(member, self.bucket_width)
        return bitsets.test(self.get(key_of_bucket(bucket)), offset)

    def bit_walk(self, key_of_bucket, after: int, upper: int, limit: int, max_buckets: int,
                 stored: Optional[list] = None) -> tuple:
        """Members > `after` and <= `upper`, ascending, at most `limit`, reading at most `max_buckets`
        buckets; returns (ids, next cursor or None when the walk reached `upper`). The numbers of the
        buckets read that are stored are appended to the list `stored`, if given."""
        width = self.bucket_width
        out = []
        bucket = (after + 1) // width
        last_bucket = upper // width
        reads = 0
        while bucket <= last_bucket:
            if reads >= max_buckets:
                return out, (out[-1] if out else bucket * width - 1)
            reads += 1
            text = self.get(key_of_bucket(bucket))
            if text is not None:    # (an absent bucket has no members)
                if stored is not None:
                    stored.append(bucket)
                base = bucket * width
                start = after + 1 - base if after + 1 > base else 0
                found = bitsets.members(bitsets.decode(text), base, start, limit - len(out))  # (to the limit)
                if found and found[-1] > upper:     # (only in the last bucket)
                    found = [member for member in found if member <= upper]
                out += found
                if found and len(out) == limit:
                    member = found[-1]
                    return out, (member if member < upper else None)
            bucket += 1
        return out, None

    def bit_count(self, key_of_bucket, upper: int) -> int:
        total = 0
        for bucket in range(upper // self.bucket_width + 1):
            total += bitsets.popcount(bitsets.decode(self.get(key_of_bucket(bucket))))
        return total

    def bit_clear_all(self, key_of_bucket, upper: int) -> None:
        for bucket in range(upper // self.bucket_width + 1):
            key = key_of_bucket(bucket)
            if self.get(key) is not None:
                self.delete(key)

    def live_walk(self, tc: Optional[int], after: int, limit: int) -> tuple:
        """Live ids of a type after `after`: (ids, next cursor or None); reads one deleted-set bucket
        per `bucket_width` ids (none inside a restored gap) and stops early (with a cursor) after
        limit/4 + 4 buckets."""
        if tc is None or limit <= 0:
            return [], None
        max_id = self.counters(tc)[0]
        width = self.bucket_width
        full = bitsets.full_mask(width)
        out = []
        member = max(after, 0) + 1
        bucket_reads = 0
        cap = limit // 4 + 4
        while member <= max_id:
            bucket = member // width
            span = self.deleted_span(tc, bucket)
            if span is not None:
                member = (span[1] + 1) * width
                continue
            if bucket_reads >= cap:
                return out, member - 1
            bucket_reads += 1
            deleted = bitsets.decode(self.get(keys.deleted_key(tc, bucket)))
            end = min((bucket + 1) * width - 1, max_id)
            if deleted == full:
                member = end + 1
                continue
            while member <= end:
                if not (deleted >> (member - bucket * width)) & 1:
                    out.append(member)
                    if len(out) == limit:
                        return out, (member if member < max_id else None)
                member += 1
        return out, None

    # A restore into a large id gap marks whole buckets of ids as deleted by recording spans of bucket
    # numbers under one key per type ("deleted spans") instead of writing every bucket of the gap.

    def deleted_spans(self, tc: int) -> list:
        """(first bucket, last bucket) spans whose ids are all deleted (kept with the counters)."""
        spans = self._deleted_spans.get(tc)
        if spans is None:
            self._counters.pop(tc, None)
            self.counters(tc)
            spans = self._deleted_spans[tc]
        return spans

    def deleted_span(self, tc: int, bucket: int) -> Optional[tuple]:
        """The deleted span holding `bucket`, or None."""
        for span in self.deleted_spans(tc):
            if span[0] <= bucket <= span[1]:
                return span
        return None

    def _set_deleted_spans(self, tc: int, spans: list) -> None:
        previous = self.deleted_spans(tc)
        spans = sorted(spans)
        max_id, count = self.counters(tc)
        self._write_counters(tc, max_id, count, spans)
        self._deleted_spans[tc] = spans
        self.on_rollback_call(self._deleted_spans.__setitem__, (tc, previous))

    def deleted_bits(self, tc: int, bucket: int) -> int:
        """The deleted-set bits of one bucket of ids."""
        if self.deleted_span(tc, bucket) is not None:
            return bitsets.full_mask(self.bucket_width)
        return bitsets.decode(self.get(keys.deleted_key(tc, bucket)))

    def mark_deleted(self, tc: int, entity_id: int, deleted: bool) -> None:
        bucket, offset = divmod(entity_id, self.bucket_width)
        # deleted spans are rare (a restore into a large id gap): none loaded and none kept skips the search
        span = None if self._deleted_spans.get(tc) == [] else self.deleted_span(tc, bucket)
        if span is not None:
            if deleted:
                return
            # an id inside a deleted span comes back: the span gives up that one bucket
            spans = [s for s in self.deleted_spans(tc) if s != span]
            parts = [part for part in ((span[0], bucket - 1), (bucket + 1, span[1])) if part[0] <= part[1]]
            full = bitsets.full_mask(self.bucket_width)
            if len(spans) + len(parts) > MAX_DELETED_SPANS:
                # no room for both parts: the shorter one is written out bucket by bucket
                parts.sort(key=lambda part: part[1] - part[0])
                shorter = parts.pop(0)
                for each in range(shorter[0], shorter[1] + 1):
                    self.put(keys.deleted_key(tc, each), bitsets.encode(full))
            spans.extend(parts)
            self._set_deleted_spans(tc, spans)
            self.put(keys.deleted_key(tc, bucket), bitsets.encode(full & ~(1 << offset)))
            return
        self.bit_set(keys.deleted_key(tc, bucket), offset, deleted)

    def mark_range_deleted(self, tc: int, low: int, high: int) -> None:
        """Mark ids low..high (inclusive) as deleted: a bucket write for a partly covered bucket at
        either end, one span for the whole buckets between (O(1) whatever the size of the gap)."""
        width = self.bucket_width
        if high < low:
            return
        first_whole = -(-low // width)
        last_whole = (high + 1) // width - 1
        if last_whole - first_whole >= 1 and len(self.deleted_spans(tc)) < MAX_DELETED_SPANS:
            self._mark_bits(tc, low, first_whole * width - 1)
            self._mark_bits(tc, (last_whole + 1) * width, high)
            spans = self.deleted_spans(tc)
            merged = [first_whole, last_whole]
            kept = []
            for span in spans:
                if span[1] < merged[0] - 1 or span[0] > merged[1] + 1:
                    kept.append(span)
                else:
                    merged = [min(merged[0], span[0]), max(merged[1], span[1])]
            kept.append(tuple(merged))
            self._set_deleted_spans(tc, kept)
            return
        self._mark_bits(tc, low, high)

    def _mark_bits(self, tc: int, low: int, high: int) -> None:
        width = self.bucket_width
        while low <= high:
            bucket = low // width
            end = min(high, bucket * width + width - 1)
            if self.deleted_span(tc, bucket) is None:
                mask = ((1 << (end - low + 1)) - 1) << (low - bucket * width)
                key = keys.deleted_key(tc, bucket)
                bits = bitsets.decode(self.get(key))
                if bits | mask != bits:
                    self.put(key, bitsets.encode(bits | mask))
            low = end + 1

    def is_deleted(self, tc: int, entity_id: int) -> bool:
        bucket, offset = divmod(entity_id, self.bucket_width)
        return bool((self.deleted_bits(tc, bucket) >> offset) & 1)

    # ----- audit -----------------------------------------------------------------------------------

    def record(self, operation: str, type_name: str, entity_id, changes: dict, when: int = None,
               caller: str = None) -> None:
        """Append an audit entry (when audit is enabled) inside the current operation."""
        log = self.audit
        if not log.enabled:
            return
        if when is None:
            when = self.now()
        if caller is None:
            caller = get_caller_id()
        if (type(entity_id), type(changes), type(when)) == ENGINE_TYPES:
            log.append(operation, type_name, entity_id, changes, when, caller)
        else:
            log.append(operation, type_name, entity_id, changes, when, caller,
                       log.entry_text(when, caller, operation, type_name, entity_id, changes))

    def audit_entries(self, from_seq: int = 0, limit: int = 100) -> tuple:
        """Structured entries with seq >= from_seq (at most `limit`), and the next seq or None."""
        if limit <= 0:
            raise ValidationError("limit must be positive")
        return self.audit.entries(from_seq, limit)

    def get_audit(self, id_from: Optional[int] = None, id_to: Optional[int] = None) -> dict:
        """Seed view of id_from <= seq < id_to: {"seq": [operation, time_ms, "Type@id", changes]}."""
        log = self.audit
        start = log.min_seq if id_from is None else max(int(id_from), log.min_seq)
        end = log.next_seq if id_to is None else min(int(id_to), log.next_seq)
        out = {}
        while start < end:
            entries, _ = self.audit_entries(start, min(1000, end - start))
            for e in entries:
                out[str(e["seq"])] = [e["operation"], e["time"] // 1_000_000,
                                      e["type"] + "@" + str(e["id"]), e["changes"]]
            start += 1000
        return out

    def audit_length(self) -> int:
        """Entries kept (after pruning)."""
        return self.audit.length()

    def audit_bounds(self) -> tuple:
        """(oldest seq kept, next seq): the entries kept are oldest <= seq < next."""
        return self.audit.min_seq, self.audit.next_seq

    def next_audit_seq(self) -> int:
        """The sequence number the next entry will get (never decreases, survives re-init)."""
        return self.audit.next_seq

    def prune_audit(self, before: int) -> int:
        """Remove audit entries with seq < `before`; returns how many were removed."""
        with self.operation():
            return self.audit.prune(before)

    # ----- whole-database operations ---------------------------------------------------------------

    def clear(self) -> None:
        """Remove every entity (whole-map operation); the audit sequence keeps counting."""
        log = self.audit
        with self.operation():
            for key in list(self._storage.keys()):
                if log.owns_key(key):
                    continue
                if key == keys.META:
                    continue
                self.delete(key)
        self._type_codes = {}
        self._counters = {}
        self._deleted_spans = {}
        self.identity.clear()
        with self.operation():
            for type_name in type_registry.all_types():
                self.type_code(type_name, create=True)

    def entity_class(self, type_name: str):
        """The entity class registered under a qualified type name (NotFoundError if none)."""
        return type_registry.get(type_name)

    def type_counts(self) -> dict:
        """Live entity count per stored type name (O(number of types))."""
        return {name: self.counters(tc)[1] for tc, name in self.stored_types()}

    def dump_page(self, cursor: Optional[str] = None, limit: int = 100, stop=None, admit=None) -> tuple:
        """Records of up to `limit` entities after `cursor`, and the next cursor (None at the end);
        `stop()` true ends the page early after a record (at least one), `admit(record)` false before
        it."""
        from .dump_restore import dump_page
        return dump_page(self, cursor, limit, stop, admit)

    def restore(self, records: list, checked: bool = False) -> int:
        """Trusted restore of dumped records, keeping ids, owners, timestamps and versions; `checked`: the
        caller checked every field value as the field's validation would (as for `create_checked`)."""
        from .dump_restore import restore
        return restore(self, records, checked)

    def dump_json(self, pretty: bool = False) -> str:
        """The whole database as JSON: {type name: {id: serialized entity}}."""
        out = {}
        for type_name, entity_id, data in self.raw_documents():
            out.setdefault(type_name, {})[entity_id] = data
        for tc, name in self.stored_types():
            cls = type_registry.find(name)
            ids_after = 0
            while True:
                ids, ids_after = self.live_walk(tc, ids_after, 500)
                for entity_id in ids:
                    if cls is not None:
                        entity = cls.by_storage_id(entity_id)
                        if entity is not None:
                            out.setdefault(name, {})[entity._id] = entity.serialize()
                    else:
                        text = self.get_value(keys.doc_key(tc, entity_id))
                        if text is not None:
                            out.setdefault(name, {})[str(entity_id)] = json.loads(text)
                if ids_after is None:
                    break
        if pretty:
            return json.dumps(out, indent=2, sort_keys=True)
        return json.dumps(out, sort_keys=True)

    def raw_dump_json(self, pretty: bool = False) -> str:
        """Every storage key and value (debugging; whole-map operation)."""
        out = {k: v for k, v in self._storage.items()}
        return json.dumps(out, indent=2 if pretty else None)

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise NotFoundError(message)


def _on_type_registered(type_name: str, previous) -> None:
    """A type was defined: give it its storage code now (so a create never pays for it); if it was
    defined again (schema change), drop cached objects of the old class."""
    db = Database._instance
    if db is None:
        return
    if previous is not None:
        tc = db._type_codes.get(type_name)
        if tc is not None:
            db.identity.drop_type(tc)
    with db.operation():
        db.sync_key_schema(type_registry.find(type_name))
        db.adopt_documents(type_name)


type_registry.on_register(_on_type_registered)
