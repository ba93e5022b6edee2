"""`Cls.query()`: filtered, ordered, paged reads of one entity type, bounded per call.

    Person.query().where(age__gte=18, city="Paris").order_by("-age").page(limit=50)

A query walks one source in order: the ordered index of a filtered or ordered field (its key ranges),
an equality index of the older layout, or the type's ids. Every candidate is loaded and checked against
all filters, so results are exact; a call examines at most `budget` candidates and returns what it
found with a cursor to go on (pages may hold fewer than `limit` items before the end). Cursors are
positions in the source (not offsets), so they stay valid while entities are created or deleted.
"""

import base64
import json
from typing import Optional

from . import bitsets, index_nodes, value_counts
from . import key_layout as keys
from .db_engine import Database
from .db_errors import ValidationError
from .ordered_index import ID_CEILING, sort_key
from .ordered_keys import tree
from .query_filters import RANGE_OPERATORS, SUFFIXES, check_filter, intersect, predicate, ranges

DEFAULT_BUDGET = 1000          # candidates examined per call when filters are checked on entities
COUNT_BUDGET = 5000            # index entries counted per call when the index alone decides (~0.13M wasm
                               # instructions each under RustPython: ~0.7B of the 5B query limit)
MAX_LIMIT = 1000


class QueryPage:
    """One call's result: `items` (entities), `next` (a cursor, None when the query is done),
    `scanned` (candidates examined) and `complete` (False when the budget stopped the call early)."""

    def __init__(self, items: list, next_cursor: Optional[str], scanned: int, complete: bool,
                 cursor_of=None, positions: tuple = ()):
        self.items = items
        self.next = next_cursor
        self.scanned = scanned
        self.complete = complete
        self._cursor_of = cursor_of
        self._positions = positions

    def cursor_after(self, index: int) -> str:
        """A cursor that continues right after `items[index]` (to cut a page short, e.g. to fit a
        reply size)."""
        return self._cursor_of(self._positions[index])

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<QueryPage {len(self.items)} items, next={self.next!r}>"


class Plan:
    """How a query runs: source "tree" (field, ranges), "bits" (field, value) or "ids"; direction."""

    def __init__(self, source: str, field: Optional[str], ranges_or_value, descending: bool):
        self.source = source
        self.field = field
        self.ranges = ranges_or_value
        self.descending = descending


class Query:
    """An immutable query over one entity class; `where` and `order_by` return new queries."""

    def __init__(self, cls, filters: tuple = (), order: Optional[str] = None, descending: bool = False):
        self.cls = cls
        self.filters = filters
        self.order = order
        self.descending = descending
        self._fingerprint_text = None   # (worked out once: a page asks for it twice, and pages repeat)
        self._checks = None   # ((field, predicate), ...) of the filters, made once

    # ----- building -------------------------------------------------------------------------------

    def where(self, *condition, **conditions) -> "Query":
        """Add filters (all must hold): `where("age", ">=", 18)` or `where(age__gte=18, city="Paris")`
        (suffixes: eq, ne, lt, lte, gt, gte, between, in, startswith; none means eq)."""
        cls = self.cls
        added = []
        if condition:
            if len(condition) != 3:
                raise ValidationError("where() takes (field, op, value) or field__op=value arguments")
            added.append(condition)
        for name, value in conditions.items():
            field, _, suffix = name.partition("__")
            if suffix and suffix not in SUFFIXES:
                raise ValidationError(f"unknown filter suffix {suffix!r} in {name!r}")
            added.append((field, SUFFIXES[suffix] if suffix else "==", value))
        checked = tuple(check_filter(cls.__type_name__, cls.__fields__, f, op, v) for f, op, v in added)
        return Query(cls, self.filters + checked, self.order, self.descending)

    def order_by(self, spec: str) -> "Query":
        """Order by an indexed field ("age"), descending with a leading "-" ("-age"), or by "id" /
        "-id"; ties are ordered by id in the same direction."""
        if not isinstance(spec, str) or not spec.lstrip("-"):
            raise ValidationError("order_by takes a field name, optionally prefixed with '-'")
        descending = spec.startswith("-")
        field = spec[1:] if descending else spec
        cls = self.cls
        if field != "id":
            prop = cls.__fields__.get(field)
            if prop is None:
                raise ValidationError(f"{cls.__type_name__} has no field {field!r}")
            if not prop.indexed:
                raise ValidationError(f"order_by({spec!r}) needs an index on {cls.__type_name__}.{field}")
        return Query(cls, self.filters, field, descending)

    # ----- planning -------------------------------------------------------------------------------

    def _indexes(self, db: Database, tc: int) -> tuple:
        """(fields with a ready ordered index: generation, fields with an older-layout equality index)."""
        gens = db.key_generations(self.cls, tc)
        pending = db.pending_keys(self.cls, tc)
        ordered = {name[1:]: gen for name, gen in gens.items() if name[0] == "^" and name not in pending}
        legacy = {name: gen for name, gen in gens.items() if name[0] not in "^@"}
        return ordered, legacy

    def plan(self, db: Database, tc: int) -> Plan:
        ordered, legacy = self._indexes(db, tc)
        order = self.order
        if order is not None and order != "id":
            if order not in ordered:
                raise ValidationError(f"{self.cls.__type_name__}.{order} has no ready ordered index "
                                      "(run rebuild_keys after adding an index to a type with entities)")
            return Plan("tree", order, self._field_ranges(db, tc, order, ordered[order]), self.descending)
        for field, op, operand in self.filters:
            if op not in RANGE_OPERATORS or operand is None:
                continue
            if order == "id" and op != "==":
                continue
            if field in ordered:
                return Plan("tree", field, self._field_ranges(db, tc, field, ordered[field]), self.descending)
            if field in legacy and op == "==" and operand is not None and not self.descending:
                return Plan("bits", field, operand, False)
        return Plan("ids", None, None, self.descending)

    def _field_ranges(self, db: Database, tc: int, field: str, gen: int) -> list:
        index = tree(db, tc, field, gen)
        out = [(None, False, None, False)]
        for name, op, operand in self.filters:
            if name == field and op in RANGE_OPERATORS and operand is not None:
                out = intersect(out, ranges(index, op, operand))
        return out

    def _fingerprint(self) -> str:
        if self._fingerprint_text is None:
            text = keys.compact([self.cls.__type_name__, [list(f[:2]) + [repr(f[2])] for f in self.filters],
                                 self.order, self.descending])
            self._fingerprint_text = keys.digest(text)[:12]
        return self._fingerprint_text

    def _filter_checks(self) -> tuple:
        """((field, predicate), ...): each filter as a function of the entity's value of its field
        (`matches` with the operand's part worked out once), made once per query."""
        if self._checks is None:
            self._checks = tuple((field, predicate(op, operand)) for field, op, operand in self.filters)
        return self._checks

    # ----- cursors ----------------------------------------------------------------------------------

    def _cursor(self, position) -> str:
        text = keys.compact([self._fingerprint(), position])
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")

    def _position(self, cursor: Optional[str], plan: Plan):
        if cursor is None:
            return None
        try:
            if not isinstance(cursor, str) or len(cursor) > 2000:
                raise ValueError
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
            if _nesting(text) > 2:      # a forged cursor must not make the parser recurse (it would trap)
                raise ValueError
            fingerprint, position = json.loads(text)
        except (ValueError, TypeError):
            raise ValidationError("malformed query cursor") from None
        if fingerprint != self._fingerprint():
            raise ValidationError("the cursor belongs to another query")
        if plan.source == "tree":
            if (not isinstance(position, list) or len(position) != 2 or type(position[1]) is not int
                    or type(position[0]) not in (bool, int, float, str)):
                raise ValidationError("malformed query cursor")
            return sort_key(position[0], position[1])
        if type(position) is not int or position < 0:
            raise ValidationError("malformed query cursor")
        return position

    # ----- sources ----------------------------------------------------------------------------------

    def _candidates(self, db: Database, tc: int, plan: Plan, after, wanted: int = 256):
        """(position, id) of candidates in order, strictly after the position `after` (None: start);
        `wanted`: about how many the caller will take (ids are read that many at a time, at most 256)."""
        if plan.source == "tree":
            return self._tree_candidates(db, tc, plan, after)
        if plan.source == "bits":
            return self._bit_candidates(db, tc, plan, after or 0)
        if plan.descending:
            return _ids_descending(db, tc, after)
        return _ids_ascending(db, tc, after or 0, min(wanted, 256))

    def _tree_candidates(self, db: Database, tc: int, plan: Plan, after):
        gen = db.key_generations(self.cls, tc)["^" + plan.field]
        index = tree(db, tc, plan.field, gen)
        descending = plan.descending
        for low, low_in, high, high_in in (reversed(plan.ranges) if descending else plan.ranges):
            start, start_in, end, end_in = (high, high_in, low, low_in) if descending else (low, low_in, high,
                                                                                              high_in)
            if after is not None:
                if end is not None and ((after <= end) if descending else (after >= end)):
                    continue
                if start is None or ((after < start) if descending else (after > start)) or after == start:
                    start, start_in = after, False
            for value, eid in index.walk(start, start_in, descending):
                key = sort_key(value, eid)
                if end is not None:
                    if descending and (key < end or (key == end and not end_in)):
                        break
                    if not descending and (key > end or (key == end and not end_in)):
                        break
                yield [value, eid], eid

    def _bit_candidates(self, db: Database, tc: int, plan: Plan, after: int):
        gen = db.key_generations(self.cls, tc)[plan.field]
        field, value, limit = plan.field, plan.ranges, db.key_limit

        def bucket(b):
            return keys.index_key(tc, field, value, b, limit, gen)
        upper = db.counters(tc)[0]
        while after is not None:
            ids, after = db.bit_walk(bucket, after, upper, 256, 68)
            for eid in ids:
                yield eid, eid

    # ----- running ----------------------------------------------------------------------------------

    def _start(self, cursor):
        db = Database.get_instance()
        tc = db.type_code(self.cls.__type_name__)
        if tc is None:
            return db, None, None, None
        plan = self.plan(db, tc)
        return db, tc, plan, self._position(cursor, plan)

    def page(self, limit: int = 100, cursor: Optional[str] = None, budget: Optional[int] = None) -> QueryPage:
        """Up to `limit` matching entities after `cursor`, examining at most `budget` candidates."""
        _check_limit(limit)
        budget = _budget(budget, DEFAULT_BUDGET)
        db, tc, plan, after = self._start(cursor)
        if tc is None:
            return QueryPage([], None, 0, True)
        positions = []
        items, last, more, scanned = self._run(db, tc, plan, after, limit, budget, positions)
        return QueryPage(items, None if more is None else self._cursor(last), scanned, more is not False,
                         self._cursor, tuple(positions))

    def id_page(self, after: int, limit: int, budget: Optional[int] = None) -> tuple:
        """For queries ordered by id ascending: (entities with id > `after`, next id cursor or None)."""
        _check_limit(limit)
        db = Database.get_instance()
        tc = db.type_code(self.cls.__type_name__)
        if tc is None:
            return [], None
        plan = self.plan(db, tc)
        if self.order != "id" or plan.descending or plan.source == "tree" and len(plan.ranges) > 1:
            raise ValidationError("id_page needs a query ordered by id ascending")
        position = after
        if plan.source == "tree":
            if not plan.ranges:
                return [], None
            low = plan.ranges[0][0]
            position = (low[0], low[1], after)
        items, last, more, _ = self._run(db, tc, plan, position, limit, _budget(budget, DEFAULT_BUDGET))
        if more is None:
            return items, None
        return items, last[1] if isinstance(last, list) else last

    def _run(self, db: Database, tc: int, plan: Plan, after, limit: int, budget: int,
             positions: Optional[list] = None) -> tuple:
        """(items, last position examined, True if more may follow / False if the budget stopped the
        walk early / None at the end, candidates examined); each item's position goes to `positions`."""
        load = self.cls.stored_entity
        checks = self._filter_checks()
        items = []
        scanned = 0
        last = None
        for position, eid in self._candidates(db, tc, plan, after, budget + 1):   # (+1: is there more)
            if len(items) == limit:
                return items, last, True, scanned
            if scanned >= budget:
                return items, last, False, scanned
            scanned += 1
            last = position
            entity = load(db, tc, eid)
            if entity is None:
                continue
            passed = True
            for field, check in checks:    # every filter holds (`matches` on the entity's value)
                if not check(getattr(entity, field)):
                    passed = False
                    break
            if passed:
                items.append(entity)
                if positions is not None:
                    positions.append(position)
        return items, last, None, scanned

    def count_page(self, cursor: Optional[str] = None, budget: Optional[int] = None) -> tuple:
        """(matches counted in this call, cursor to go on or None when the count is complete). Reads
        only the index when it decides every filter, else loads each candidate (at most `budget`).
        The order does not matter to a count (and is ignored)."""
        if self.order is not None:
            return Query(self.cls, self.filters).count_page(cursor, budget)
        db, tc, plan, after = self._start(cursor)
        if tc is None:
            return 0, None
        if not self.filters and cursor is None:
            return db.counters(tc)[1], None
        if cursor is None and len(self.filters) == 1:
            counted = self._counted(db, tc, self.filters[0])
            if counted is not None:
                return counted, None
        index_only = plan.source != "ids" and all(
            f[0] == plan.field and f[1] in RANGE_OPERATORS and f[2] is not None
            and (plan.source == "bits" or not _shortened(db, tc, self.cls, f)) for f in self.filters)
        budget = _budget(budget, COUNT_BUDGET if index_only else DEFAULT_BUDGET)
        if plan.source == "bits" and index_only and cursor is None:
            gen = db.key_generations(self.cls, tc)[plan.field]
            return db.bit_count(lambda b: keys.index_key(tc, plan.field, plan.ranges, b, db.key_limit, gen),
                                db.counters(tc)[0]), None
        total = 0
        load = self.cls.stored_entity
        checks = self._filter_checks()
        scanned = 0
        last = None
        for position, eid in self._candidates(db, tc, plan, after):
            if scanned >= budget:
                return total, self._cursor(last)
            scanned += 1
            last = position
            if index_only:
                total += 1
                continue
            entity = load(db, tc, eid)
            if entity is None:
                continue
            passed = True
            for field, check in checks:
                if not check(getattr(entity, field)):
                    passed = False
                    break
            if passed:
                total += 1
        return total, None

    def _counted(self, db, tc: int, condition: tuple) -> Optional[int]:
        """The count of a sole `==` or `in` filter from its index's counts per value (O(log n) reads per
        value, as Cls.count_by), None when the index keeps no such counts. The operands were checked by
        `where` (a value past the field's bounds matches nothing: it counts 0, not an error)."""
        field, op, operand = condition
        if op not in ("==", "in"):
            return None
        counted = db.value_count_generation(self.cls, tc, field)
        if counted is None:
            return None
        values = [operand] if op == "==" else operand      # (`where` drops repeated `in` values)
        if None in values:
            return None
        gen, mode = counted
        return sum(value_counts.count(db, tc, field, gen, value, mode) for value in values)

    def count(self) -> int:
        """How many entities match (every call of `count_page` until the end: a whole-type operation
        when filters are not served by an index)."""
        total, cursor = self.count_page()
        while cursor is not None:
            more, cursor = self.count_page(cursor)
            total += more
        return total

    def all(self) -> list:
        """Every matching entity, in the query's order (pages until the end)."""
        out = []
        cursor = None
        while True:
            page = self.page(MAX_LIMIT, cursor)
            out.extend(page.items)
            cursor = page.next
            if cursor is None:
                return out

    def __iter__(self):
        return iter(self.all())

    def first(self):
        """The first matching entity in the query's order, or None."""
        cursor = None
        while True:
            page = self.page(1, cursor)
            if page.items:
                return page.items[0]
            cursor = page.next
            if cursor is None:
                return None


def _check_limit(limit) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_LIMIT}")


def _budget(budget, default: int) -> int:
    if budget is None:
        return default
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise ValidationError("budget must be a positive integer")
    return budget


def _shortened(db: Database, tc: int, cls, condition: tuple) -> bool:
    """Whether a text operand is long enough that the index's shortened texts could compare with it
    differently from the real values (then candidates are checked on the entities)."""
    operand = condition[2]
    values = operand if isinstance(operand, tuple) else (operand,)
    if all(type(v) is not str for v in values):
        return False
    gen = db.key_generations(cls, tc).get("^" + condition[0], 0)
    room = tree(db, tc, condition[0], gen).text_bytes - 16
    return any(type(v) is str and index_nodes.stored_size(v) > room for v in values)


def _ids_ascending(db: Database, tc: int, after: int, wanted: int = 256):
    """Live ids above `after`, lowest first, read `wanted` at a time (a live walk costs per id read)."""
    while after is not None:
        ids, after = db.live_walk(tc, after, wanted)
        for eid in ids:
            yield eid, eid


def _ids_descending(db: Database, tc: int, before):
    """Live ids below `before` (None: from the highest), highest first: one deleted-set read per
    bucket of ids."""
    width = db.bucket_width
    member = db.counters(tc)[0] if before is None else before - 1
    while member > 0:
        bucket = member // width
        span = db.deleted_span(tc, bucket)
        if span is not None:
            member = span[0] * width - 1
            continue
        deleted = bitsets.decode(db.get(keys.deleted_key(tc, bucket)))
        base = bucket * width
        while member >= max(base, 1):
            if not (deleted >> (member - base)) & 1:
                yield member, member
            member -= 1


__all__ = ["ID_CEILING", "Query", "QueryPage"]


def _nesting(text: str) -> int:
    """How many arrays and objects JSON text opens outside its strings (whole-string operations only,
    so it is linear under Kybra's RustPython too)."""
    outside = "".join(text.replace("\\\\", "").replace('\\"', "").split('"')[::2])
    return outside.count("[") + outside.count("{")
