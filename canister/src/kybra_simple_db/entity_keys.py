"""Alias and index key upkeep of an entity: the keys that make `by_alias`, `find_by` and `count_by` O(1).

A mixin of `Entity`: which keys a type keeps (and their generation) is decided by
`Database.sync_key_schema`; these methods move an entity's entries when its values change.
"""

from typing import Optional

from . import key_layout as keys
from . import ordered_keys, value_counts
from .db_engine import Database
from .db_errors import ConflictError
from .entity_values import differs
from .key_layout import encode_string

_ADD_STEPS = {}     # type code -> (database, key schema, steps of `_add_keys`)


def _add_steps(db: Database, cls, tc: int, schema: dict) -> tuple:
    """(kind "^", "@" or "=", field, generation, ordered index (an alias's key head) or None, count mode,
    count tree or None)
    per key the type keeps under `schema` (its Database.key_schema), kept in `_ADD_STEPS` for as long as
    that schema is the type's (a schema change makes a new one: `_add_keys` tests it)."""
    steps = []
    for name, gen in schema["k"].items():
        kind = name[0]
        if kind == "^":
            counting = db.count_mode(cls, tc, name)
            steps.append((kind, name[1:], gen, ordered_keys.tree(db, tc, name[1:], gen, counting), counting,
                          None if counting is None else value_counts.count_tree(db, tc, name[1:], gen)))
        elif kind == "@":     # (its key's head where the ordered index goes: see `_add_keys`)
            steps.append((kind, name[1:], gen, keys.alias_head(tc, name[1:], gen), None, None))
        else:
            steps.append(("=", name, gen, None, None, None))
    steps = tuple(steps)
    if len(_ADD_STEPS) >= 256:
        _ADD_STEPS.clear()
    _ADD_STEPS[tc] = (db, schema, steps)
    return steps


class IndexedKeys:
    """Alias keys (value -> id) and index id sets (value -> bucketed ids) of one entity."""

    def _sync_keys(self, before: dict, after: dict, changed: Optional[dict] = None) -> None:
        """Move alias and index entries from the `before` values to the `after` values (for the keys
        the type keeps now: see Database.sync_key_schema); only the fields in `changed` when given."""
        cls = type(self)
        db = self._db
        tc = self._tc
        eid = self._eid
        limit = db.key_limit
        for name, gen in db.key_generations(cls, tc).items():
            kind = name[0]
            if changed is not None and (name[1:] if kind == "^" or kind == "@" else name) not in changed:
                continue
            if kind == "^":
                field = name[1:]
                old = before.get(field)
                new = after.get(field)
                if differs(old, new):
                    ordered_keys.move_entry(db, tc, field, gen, eid, old, new, db.count_mode(cls, tc, name))
                continue
            alias = name[1:] if name[0] == "@" else None
            if alias is not None:
                old = before.get(alias)
                new = after.get(alias)
                if not differs(old, new):
                    continue
                if new is not None:
                    self._claim_alias(keys.alias_key(tc, alias, new, limit, gen), new)
                if old is not None:
                    # aliases are unique, so the old value's key is this entity's
                    db.delete(keys.alias_key(tc, alias, old, limit, gen))
                continue
            old = before.get(name)
            new = after.get(name)
            if not differs(old, new):
                continue
            if old is not None:
                db.bit_update(self._index_bucket(name, old, gen), eid, False)
            if new is not None:
                db.bit_update(self._index_bucket(name, new, gen), eid, True)

    def _add_keys(self, data: dict, db: Database, cls, tc: int, eid: int) -> None:
        """`_sync_keys({}, data)` for a new entity (no entries to move away), by the steps its type's key
        schema implies (computed once per schema: see `_add_steps`); `db`, `cls`, `tc` and `eid`: this
        entity's database, class, type code and storage id (the caller has them at hand)."""
        schema = db.key_schema(cls, tc)
        cached = _ADD_STEPS.get(tc)
        if cached is not None and cached[1] is schema and cached[0] is db:
            steps = cached[2]
        else:
            steps = _add_steps(db, cls, tc, schema)
        for kind, field, gen, index, counting, counts in steps:
            new = data.get(field)
            if new is None:
                continue
            if kind == "^":     # (what ordered_keys.move_entry does with no old value, inline)
                if index.insert(new, eid):
                    if counting == "t":     # (nothing to do, the common case, without a call)
                        if index.tail_changes or (new.__class__ is str and len(new) * 4 > index.text_bytes):
                            value_counts.tails_moved(db, index, tc, field, gen, new, 1, counts)
                    elif counting is not None:
                        value_counts.entry_added(db, index, tc, field, gen, new, counting == "c", counts)
                elif counting == "c":
                    value_counts.fold_key(db, index, tc, field, gen, new)
            elif kind == "@":     # (what `_claim_alias` does, inline)
                limit = db.key_limit
                if new.__class__ is str:   # (alias_key's plain Text key inline: `index` is its head)
                    key = index + encode_string(new)
                    if len(key) * 4 > limit:
                        key = keys.alias_key(tc, field, new, limit, gen)
                else:
                    key = keys.alias_key(tc, field, new, limit, gen)
                holder = db.get(key)
                if holder is not None and int(holder) != eid:
                    raise self._alias_taken(new, holder)
                db.put(key, str(eid))
            else:
                db.bit_update(self._index_bucket(field, new, gen), eid, True)

    def _claim_alias(self, key: str, value) -> None:
        """Point the alias key `key` (of `value`) at this entity; refused when another one holds it."""
        db = self._db
        holder = db.get(key)
        if holder is not None and int(holder) != self._eid:
            raise self._alias_taken(value, holder)
        db.put(key, str(self._eid))

    def _alias_taken(self, value, holder: str) -> ConflictError:
        """The refusal of alias `value` to this entity: entity `holder` of its type has it."""
        type_name = type(self).__type_name__
        return ConflictError(f"{type_name} alias {value!r} is already used by {type_name}@{holder}")

    def _drop_keys(self, before: dict) -> None:
        """Remove the alias and index entries of the `before` values (what `_sync_keys(before, {})`
        does, without comparing against new values)."""
        db = self._db
        tc = self._tc
        for name, gen in db.key_generations(type(self), tc).items():
            if name[0] == "^":
                old = before.get(name[1:])
                if old is not None:
                    ordered_keys.move_entry(db, tc, name[1:], gen, self._eid, old, None,
                                            db.count_mode(type(self), tc, name))
                continue
            if name[0] == "@":
                old = before.get(name[1:])
                if old is not None:
                    db.delete(keys.alias_key(tc, name[1:], old, db.key_limit, gen))
                continue
            old = before.get(name)
            if old is not None:
                db.bit_update(self._index_bucket(name, old, gen), self._eid, False)

    def _index_bucket(self, field: str, value, gen: int):
        tc = self._tc
        limit = self._db.key_limit
        return lambda bucket: keys.index_key(tc, field, value, bucket, limit, gen)

    @classmethod
    def _probe(cls, db: Database, tc: int, field: str, value):
        """The index buckets of `field` == `value`, or None when the type keeps no such index."""
        gen = db.key_generations(cls, tc).get(field)
        if gen is None:
            return None
        probe = cls.__new__(cls)
        probe.__dict__["_tc"] = tc
        probe.__dict__["_db"] = db
        return probe._index_bucket(field, value, gen)


    @classmethod
    def rebuild_keys(cls, cursor=None, limit: int = 200):
        """Re-create alias and index entries for one page of entities (after a schema change made a
        field the alias or indexed, or to move counts kept with a key per value to count trees); returns
        the next cursor, None when done (then pending ordered indexes are ready: see
        Database.sync_key_schema and finish_key_rebuild). Idempotent."""
        db = Database.get_instance()
        with db.operation():
            start = cursor
            items, cursor = cls.page(cursor, limit)
            for entity in items:
                entity._sync_keys({}, entity._data)
            tc = db.type_code(cls.__type_name__)
            if tc is not None and cursor is None:
                db.finish_key_rebuild(cls, tc, start)
            elif tc is not None:
                db.advance_key_rebuild(cls, tc, start, cursor)
        return cursor


def key_steps(db: Database, cls, tc: int) -> tuple:
    """The steps `_add_keys` takes for a new entity of the type now (see `_add_steps`), made once per key
    schema: read ahead after an upgrade (restart_warmup.py), so the first create does not make them."""
    schema = db.key_schema(cls, tc)
    cached = _ADD_STEPS.get(tc)
    if cached is not None and cached[1] is schema and cached[0] is db:
        return cached[2]
    return _add_steps(db, cls, tc, schema)
