"""Everything the canister asks of the engine `kybra_simple_db`, in plain records.

A record is {"id", "fields": {name: stored}, "refs": {relation: id or None}, "owner", "creator",
"updater", "created_at", "updated_at", "version", "view"}; "view" is the engine's `view()` tuple it was
made from (id, values, refs, metadata document with keys "o", "c", "u", "tc", "tu", "v"), which replies
are built from. The hot paths (create, update, get) hand out views alone. Engine classes are built here
from plain type definitions (typedef_rules), so the rest of the canister never touches engine objects.
"""

import math

import dump_text
from audit_capture import AuditCapture
from error_map import limit, not_found
from kybra_simple_db import (
    CASCADE,
    RESTRICT,
    SET_NULL,
    Boolean,
    Database,
    DefinitionBatch,
    Entity,
    Float,
    Integer,
    ManyToMany,
    ManyToOne,
    OneToMany,
    OneToOne,
    Principal,
    String,
    Timestamp,
    entity_cascade,
    find_type,
    get_caller_id,
    set_caller_id,
    swap_caller,
)

HELD = 1024   # entities the gateway holds for the certifier at most (see EngineGateway.keep_types)
# The types whose created or changed entities a gateway holds for the certifier (see keep_types): a
# module's set (a global and `in` cost a third of an attribute read, on every create and update).
_KEEP = set()
ON_DELETE = {"SetNull": SET_NULL, "Cascade": CASCADE, "Restrict": RESTRICT}
RELATIONS = {"OneToOne": OneToOne, "OneToMany": OneToMany, "ManyToOne": ManyToOne, "ManyToMany": ManyToMany}


def _property(field: dict):
    """The engine property for a plain field definition."""
    kind = field["kind"]
    common = {"default": field["default"], "indexed": field["indexed"], "required": field["required"]}
    low, high = field["min"], field["max"]
    if kind == "Text":
        min_length = None if low is None else int(math.ceil(low))
        max_length = None if high is None else int(math.floor(high))
        return String(min_length=min_length, max_length=max_length, **common)
    if kind == "Int":
        return Integer(min_value=low, max_value=high, **common)
    if kind == "Float":
        return Float(min_value=low, max_value=high, **common)
    if kind == "Bool":
        return Boolean(**common)
    if kind == "Principal":
        return Principal(**common)
    return Timestamp(min_value=0 if low is None else low, max_value=high, **common)


def _as_record(view: tuple) -> dict:
    """The plain record of an engine entity's `view()` (or `stored_view`)."""
    eid, values, refs, meta = view
    try:  # subscripts cost a third of get() calls on Kybra's RustPython; a metadata key may be absent
        return {"id": eid, "fields": values, "refs": refs, "owner": meta["o"], "creator": meta["c"],
                "updater": meta["u"], "created_at": meta["tc"], "updated_at": meta["tu"],
                "version": meta["v"], "view": view}
    except KeyError:
        pass
    get = meta.get
    return {"id": eid, "fields": values, "refs": refs, "owner": get("o"), "creator": get("c"),
            "updater": get("u"), "created_at": get("tc"), "updated_at": get("tu"), "version": get("v"),
            "view": view}


def _hook_method(hook):
    def on_event(entity, field_name, old_value, new_value, action):
        return hook(entity, field_name, old_value, new_value, action)

    return staticmethod(on_event)



def _runner_as(gateway: "EngineGateway", run, audit):
    """`gateway.run_as(caller, action, args)`: `action(*args)` run as `caller` in one engine transaction
    (`run`, the database's), committed if it returns and rolled back if it raises (the previous caller
    restored either way, also when the commit fails). Returns (its result, the sequence number the
    transaction's first audit entry gets). What `enter`, the action and `leave` do, with two calls fewer,
    as a closure over the database's run and audit log (a call costs ~15,000 instructions on Kybra's
    RustPython, an attribute read ~6,000): every update passes here. Ends with what `release` does
    (nothing after it needs the held entity)."""

    def run_as(caller: str, action, args: tuple) -> tuple:
        previous = swap_caller(caller)
        try:
            first_seq = audit.next_seq   # (next_audit_seq() without its call)
            result = run(action, args)
        finally:
            set_caller_id(previous)
            gateway._held = None   # (what `release` does: the entity held was this update's)
        return result, first_seq

    return run_as


class EngineGateway:
    """The engine database over the canister's stable maps, with plain-record operations."""

    def __init__(self, db_map, audit_map, max_key_size: int, max_value_size: int, clock, audit_sizes: tuple):
        self.db = Database.init(
            audit_enabled=True,
            db_storage=db_map,
            db_audit=audit_map,
            clock=clock,
            max_key_size=max_key_size,
            max_value_size=max_value_size,
            audit_max_key_size=audit_sizes[0],
            audit_max_value_size=audit_sizes[1],
        )
        self.audit = self.db.audit   # (the database's audit log, made once with it)
        # The engine's identity map holds entities weakly and a record drops its entity: without a hold,
        # checking then changing an entity (update, link, transfer, delete) would read and parse it twice.
        self._held = None
        self._held_key = None   # (type name, id) `load_for_change` was asked for
        self.capture = AuditCapture(self.db)
        # copies_since(start): (block body, type name, id) of the audit entries from `start` on, as the
        # current update recorded them (see audit_capture), or None when one of them was not kept (then
        # read them with `audit_since`). The capture's own method: no call in between, in every update.
        self.copies_since = self.capture.take
        self.changed = {}   # (type name, id) -> an entity held for the certifier (see keep_types)
        self.run_as = _runner_as(self, self.db.run, self.audit)

    @staticmethod
    def keep_types(names) -> None:
        """Hold for the certifier the entities of these types (its certified types) that an update creates
        or loads to change, until it reads their records back after the commit (`changed_record`,
        `take_changed`): the engine's identity map then gives each without a stable read and a JSON parse
        (~0.6M instructions on Kybra's RustPython). Stale names cost reads, never results. (Never for a
        type with a hook: it might leave its entity with values it did not store.)"""
        if _KEEP != names.keys():   # (most calls name the same types: no change)
            _KEEP.clear()
            _KEEP.update(names)

    def release(self) -> None:
        """End of an update: let go of the entity held by `load_for_change` (`_held_key` means nothing
        without it). (The audit entries heard are forgotten as `copies_since` takes them.)"""
        self._held = None

    # --- context ---

    def as_user(self, caller: str):
        return self.db.as_user(caller)

    def transaction(self):
        return self.db.transaction()

    def enter(self, caller: str, transaction: bool) -> tuple:
        """Start running as `caller`, in one engine transaction if `transaction`; `leave` ends it. What
        `with as_user(caller), transaction():` does, in two calls instead of about fifteen (a call costs
        about 9,000 instructions on Kybra's RustPython). Returns the scope for `leave`: (previous caller,
        transaction mark or None, the sequence number the transaction's first audit entry gets)."""
        previous = get_caller_id()
        set_caller_id(caller)
        if not transaction:
            return previous, None, None
        return previous, self.db.begin(), self.audit.next_seq   # (next_audit_seq() without its call)

    def leave(self, scope: tuple, ok: bool) -> None:
        """End what `enter` started: commit its transaction if `ok` (else roll it back), then restore
        the previous caller (also when the commit fails)."""
        previous, mark, _ = scope
        try:
            if mark is not None:
                self.db.end(mark, ok)
        finally:
            set_caller_id(previous)

    def set_meter(self, meter, limit: int, step_limit: int = None) -> None:
        """Deletes refuse (Limit, nothing changed) once the message has used `limit` instructions; a
        step of a stepwise delete starts no new unit past `step_limit`."""
        self.db.set_meter(meter, limit, step_limit)

    def set_write_guard(self, may_write) -> None:
        """`may_write(caller, type_name, owner, action) -> bool` ("modify" or "delete") is asked for every
        entity a link, unlink or cascade would change besides the one the operation names."""

        def guard(entity, action: str) -> bool:
            # (the type name and the stored owner as get_full_type_name() and meta()["owner"] give them,
            # without the call and the metadata dict: ~80K instructions fewer per entity on RustPython)
            return may_write(get_caller_id(), entity.__class__.__type_name__, entity.stored_meta().get("o"),
                             action)

        self.db.set_write_guard(guard)

    # --- schema ---

    def defining_many(self):
        """A block in which several types are (re)defined and their relations resolved once, at its end."""
        return DefinitionBatch()

    def define(self, plain: dict, relations: list, hook) -> None:
        """(Re)define the engine class of a type: its fields, alias and effective relations."""
        namespace = None
        short = plain["name"]
        if "::" in short:
            namespace, _, short = short.partition("::")
        attrs = {"__namespace__": namespace, "__alias__": plain["alias"], "__module__": __name__}
        for field in plain["fields"]:
            attrs[field["name"]] = _property(field)
        for r in relations:
            attrs[r["name"]] = RELATIONS[r["kind"]](
                r["target"], r["reverse"], on_delete=ON_DELETE[r["engine_on_delete"]]
            )
        if hook is not None:
            attrs["on_event"] = _hook_method(hook)
        type(short, (Entity,), attrs)

    def _class(self, type_name: str):
        cls = find_type(type_name)
        if cls is None:
            raise not_found("unknown type " + type_name)
        return cls

    # --- records ---

    def _record(self, entity) -> dict:
        return _as_record(entity.view())

    def _entity(self, type_name: str, entity_id: int):
        if self._held_key == (type_name, entity_id):
            held = self._held   # the entity `load_for_change` just loaded: what loading it again would give
            if held is not None:
                return held
        entity = self._class(type_name).load(entity_id)
        if entity is None:
            raise not_found(type_name + " " + str(entity_id) + " does not exist")
        return entity

    def load(self, type_name: str, entity_id: int):
        """The record of an entity, or None (made from its document alone when the engine holds no object
        for it: a read needs none)."""
        view = self._class(type_name).stored_view(entity_id)
        return None if view is None else _as_record(view)

    def load_view(self, type_name: str, entity_id: int):
        """The view of an entity (what its record's "view" holds), or None; read as `load` reads."""
        cls = find_type(type_name)   # (what `_class` gives, one call fewer: every get passes here)
        if cls is None:
            raise not_found("unknown type " + type_name)
        return cls.stored_view(entity_id)

    def load_for_change(self, type_name: str, entity_id: int):
        """The metadata of an entity the update is about to change (its view's last part: {"o": owner,
        "v": version, ...}, a key may be absent; read it, do not change it), or None. The entity is kept
        until `release` (the end of the update), so the change finds it in the engine's identity map
        instead of reading it again, and `held_view` gives its view without one (a load costs ~0.85M
        instructions)."""
        cls = find_type(type_name)   # (what `_class` gives, one call fewer: every update passes here)
        if cls is None:
            raise not_found("unknown type " + type_name)
        entity = cls.load(entity_id)
        self._held = entity
        self._held_key = (type_name, entity_id)
        if type_name in _KEEP and entity is not None and cls.on_event is None:
            self._hold(self._held_key, entity)
        return None if entity is None else entity.stored_meta()

    def held_view(self) -> tuple:
        """The live view (the engine's `live_view()`: read it at once, do not change it) of the entity the
        last `load_for_change` found."""
        return self._held.live_view()

    def create(self, type_name: str, values: dict) -> tuple:
        """Create an entity; its live view (read it at once, do not change it). `values` were checked
        against the type's fields by the service (db_api's `_values`, required fields and defaults
        included), inside this message's transaction: the engine does not check them again."""
        cls = find_type(type_name)   # (what `_class` gives, one call fewer: every create passes here)
        if cls is None:
            raise not_found("unknown type " + type_name)
        if type_name in _KEEP and cls.on_event is None:   # (held for the certifier: see `keep_types`)
            entity = cls.create_checked(values, self.db)
            view = entity.live_view()
            self._hold((type_name, view[0]), entity)
            return view
        return cls.create_checked(values, self.db, True)   # (its live_view(), one call fewer)

    def _hold(self, key: tuple, entity) -> None:
        """Hold `entity` for the certifier (see `keep_types`); at most HELD entities (a message that fails is
        not certified, so its entities are let go only by a later certified change, or here)."""
        changed = self.changed
        if len(changed) >= HELD:
            changed.clear()
        changed[key] = entity

    def changed_record(self, type_name: str, entity_id: int):
        """What `load` gives, for the certifier after the commit: an entity this update created or changed
        and the gateway holds (see `keep_types`) is the engine's live object for it, as stored, when the
        identity map still gives it (what `load` then reads), taken from it without a read; any other is
        loaded."""
        entity = self.changed.get((type_name, entity_id))
        if entity is not None and entity.__class__ is find_type(type_name) and entity.is_live():
            db = self.db
            if db.identity.get((db.type_code(type_name), entity_id)) is entity:
                view = entity.view()
                if "i" not in view[3]:   # (an entity with a text id is not found by its number: load it)
                    return _as_record(view)
        return self.load(type_name, entity_id)

    def take_changed(self) -> None:
        """Let go of the entities held for the certifier (see `keep_types`), once it has read them back."""
        self.changed = {}

    def update_held(self, values: dict) -> tuple:
        """Set fields of the entity the last `load_for_change` found (it found one: the caller checked);
        its live view after (read it at once, do not change it). `values` were checked against the
        type's fields by the service (db_api's `_values`), inside this message's transaction: the engine
        does not check them again."""
        return self._held.update_checked(values).live_view()

    def delete(self, type_name: str, entity_id: int) -> None:
        self._entity(type_name, entity_id).delete()

    def delete_in_steps(self, type_name: str, entity_id: int) -> dict:
        """Delete now; a cascade too large for this message is left as a job ({"done", "deleted",
        "unlinked", "pending"})."""
        return self._entity(type_name, entity_id).delete_in_steps()

    def continue_delete(self, type_name: str, entity_id: int) -> dict:
        """One more step of the current caller's stepwise delete of that entity (NotFound: none)."""
        return self._class(type_name).continue_delete(entity_id)

    def next_delete_job(self):
        """(type name, id, caller) of the queued stepwise delete whose turn it is, or None."""
        return entity_cascade.next_queued_job(self.db)

    def requeue_delete_job(self, type_name: str, entity_id: int) -> None:
        entity_cascade.requeue_job(self.db, type_name, entity_id)

    def block_delete_job(self, type_name: str, entity_id: int, reason: str) -> None:
        entity_cascade.block_job(self.db, type_name, entity_id, reason)

    def delete_jobs_queued(self) -> bool:
        return entity_cascade.jobs_queued(self.db)

    def transfer(self, type_name: str, entity_id: int, owner: str) -> dict:
        entity = self._entity(type_name, entity_id)
        entity.set_owner(owner)
        return self._record(entity)

    def load_entity(self, type_name: str, entity_id: int) -> tuple:
        """(metadata, handle) of an entity, or (None, None). While the caller holds the handle (in the same
        message only: it is the engine's object), every operation on that entity uses it instead of
        reading it again; pass it to `link` / `unlink` as their target."""
        entity = self._class(type_name).load(entity_id)
        return (None, None) if entity is None else (entity.stored_meta(), entity)

    def link(self, type_name: str, entity_id: int, relation: str, target) -> None:
        """Link the entity to `target`, a handle from `load_entity`."""
        self._entity(type_name, entity_id).link(relation, target)

    def unlink(self, type_name: str, entity_id: int, relation: str, target) -> None:
        """Unlink the entity from `target`, a handle from `load_entity`."""
        self._entity(type_name, entity_id).unlink(relation, target)

    def link_page(self, type_name: str, entity_id: int, relation: str, cursor, size: int) -> tuple:
        return self._entity(type_name, entity_id).links(relation, cursor, size)

    def find_alias(self, type_name: str, alias_field: str, value: str):
        entity = self._class(type_name).by_alias(value)
        return None if entity is None else self._record(entity)

    def page(self, type_name: str, condition, cursor, size: int) -> tuple:
        """(records with id > cursor, next cursor): `condition` is (indexed field, value) or None."""
        cls = self._class(type_name)
        if condition is None:
            views, next_cursor = cls.view_page(cursor, size)
        else:
            views, next_cursor = cls.view_page(cursor, size, condition[0], condition[1])
        return [_as_record(view) for view in views], next_cursor

    @staticmethod
    def cursor_before(records: list, position: int):
        """The cursor that makes the next page start at records[position] (cursors are exclusive)."""
        return records[position - 1]["id"] if position > 0 else None

    def max_id(self, type_name: str) -> int:
        """The highest id ever given to an entity of the type (0 for an unknown type)."""
        cls = find_type(type_name)
        return 0 if cls is None else cls.max_id()

    def count(self, type_name: str, condition=None) -> int:
        cls = find_type(type_name)
        if cls is None:
            return 0
        if condition is None:
            return cls.count()
        return cls.count_by(condition[0], condition[1])

    # --- queries ---

    def query_pages(self, type_name: str, filters: list, order):
        """The pages of one engine query, as a function (cursor, size, budget) -> {"records", "next",
        "scanned", "complete", "cursor_after": fn(index) -> cursor}: `filters` [(field, op, operand)], `order`
        "field"/"-field"/None. The engine query is built (its filters checked) once for the pages one call
        reads, not once per page."""
        query = self._query(type_name, filters, order)

        def page_of(cursor, size: int, budget: int) -> dict:
            page = query.page(size, cursor, budget)
            return {"records": [self._record(e) for e in page.items], "next": page.next,
                    "scanned": page.scanned, "complete": page.complete, "cursor_after": page.cursor_after}

        return page_of

    def query_count(self, type_name: str, filters: list, cursor, budget: int = None) -> tuple:
        """(matches counted in this call, cursor to go on or None when complete); `budget` caps the
        candidates examined (None: the engine's default)."""
        return self._query(type_name, filters, None).count_page(cursor, budget)

    def _query(self, type_name: str, filters: list, order):
        query = self._class(type_name).query()
        for field, op, operand in filters:
            query = query.where(field, op, operand)
        return query if order is None else query.order_by(order)

    def rebuild_indexes(self, type_name: str, cursor, size: int):
        """Fill pending ordered indexes for one page of entities; the next id cursor, None when done."""
        return self._class(type_name).rebuild_keys(cursor, size)

    # --- audit ---

    def audit_page(self, start: int, end, size: int) -> tuple:
        """Entries with start <= seq < end (end None: the latest), at most `size`; and the next start."""
        if end is not None:
            if end <= start:
                return [], None
            size = min(size, end - start)
        entries, next_seq = self.db.audit_entries(start, size)
        if end is not None and next_seq is not None and next_seq >= end:
            next_seq = None
        for entry in entries:
            entry["type_name"] = entry.pop("type")
        return entries, next_seq

    def audit_scan(self, start, newest_first: bool):
        """Audit entries one by one from seq `start` (None: the newest or the oldest), newest first or
        oldest first; reads one entry per step (pruned entries are skipped)."""
        log_start, log_end = self.db.audit_bounds()
        if newest_first:
            seq = log_end - 1 if start is None else min(start, log_end - 1)
            while seq >= log_start:
                entries, _ = self.db.audit_entries(seq, 1)
                for entry in entries:
                    entry["type_name"] = entry.pop("type")
                    yield entry
                seq -= 1
            return
        seq = log_start if start is None else max(start, log_start)
        while seq < log_end:
            entries, _ = self.db.audit_entries(seq, 1)
            for entry in entries:
                entry["type_name"] = entry.pop("type")
                yield entry
            seq += 1

    def audit_length(self) -> int:
        return self.db.audit_length()

    def audit_since(self, start: int) -> list:
        """Every audit entry with seq >= start (the entries of the current message, for certification)."""
        out = []
        while True:
            entries, start = self.db.audit_entries(start, 1000)
            for entry in entries:
                entry["type_name"] = entry.pop("type")
                out.append(entry)
            if start is None:
                return out

    # --- export ---

    def dump_page(self, cursor, size: int, max_chars: int, spent=None, room: int = None) -> tuple:
        """(records, their JSON text, next cursor): records after `cursor` whose JSON (compact, keys
        sorted) fits `room` characters (`max_chars` without it: a page's whole data). Each record is
        encoded as it is read, once: the page ends before a record that does not fit (Limit for one
        that fits no page), and `spent(chars)` (the page's characters so far) true ends it after the
        record just read and encoded, so the instructions it counts include the encoding."""
        texts = []
        used = [1]  # characters of "[" + ",".join(texts) + "]"
        room = max_chars if room is None else room

        def admit(record: dict) -> bool:
            text = dump_text.record_text(record)   # (json's text: compact, keys sorted)
            if used[0] + len(text) + 1 > room:
                if not texts and len(text) + 2 > max_chars:
                    raise limit("one entity is too large for a dump page")
                return False
            texts.append(text)
            used[0] += len(text) + 1
            return True

        stop = None if spent is None else (lambda: spent(used[0]))
        records, next_cursor = self.db.dump_page(cursor, size, stop, admit)
        return records, "[" + ",".join(texts) + "]", next_cursor

    def restore(self, records: list) -> int:
        """Restore records the service checked (restore_rules: each field as `create` checks it)."""
        return self.db.restore(records, checked=True)
