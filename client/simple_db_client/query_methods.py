"""Queries, upserts, bulk writes and audit reads of `SimpleDB` (a mixin: it uses the client's `_ok`).

db.query("app::Person", where={"age__gte": 18}, order="-age")    # a lazy iterator over pages
db.create_many("app::Person", rows, progress=print)              # batches of at most 100
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .codec import audit_from_candid, entity_from_candid
from .models import AuditEntry, Entity, Page
from .ops import Create, Upsert
from .principal import Principal
from .values import to_fields, to_value

MAX_BATCH = 100
OPS = {
    "==": "Eq",
    "!=": "Ne",
    "<": "Lt",
    "<=": "Le",
    ">": "Gt",
    ">=": "Ge",
    "between": "Between",
    "in": "In",
    "startswith": "StartsWith",
}
SUFFIXES = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "between": "between",
    "in": "in",
    "startswith": "startswith",
}

Where = Mapping[str, Any] | Sequence[tuple[str, str, Any]] | None
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class QueryPage(Page[Entity]):
    """A page of `query`: `items`, `next` (cursor or None at the end), `scanned` (candidates the
    canister examined) and `complete` (False when its scan budget ended the call early)."""

    scanned: int = 0
    complete: bool = True


def filters_to_candid(where: Where) -> list[dict]:
    """`where` as Candid filters: {"age__gte": 18, "city": "Oslo"} or [("age", ">=", 18), ...]."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        triples = []
        for key, value in where.items():
            field, _, suffix = key.partition("__")
            if suffix and suffix not in SUFFIXES:
                raise ValueError(f"unknown filter suffix {suffix!r} in {key!r} (use {', '.join(SUFFIXES)})")
            triples.append((field, SUFFIXES[suffix] if suffix else "==", value))
    else:
        triples = list(where)
    out = []
    for field, op, value in triples:
        if op not in OPS:
            raise ValueError(f"unknown operator {op!r} (use {', '.join(OPS)})")
        if op in ("between", "in"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise ValueError(f"{field} {op} takes a list of values")
            values = [to_value(v) for v in value]
        else:
            values = [to_value(value)]
        out.append({"field": field, "op": {OPS[op]: None}, "values": values})
    return out


def order_to_candid(order: str | None) -> list:
    if order is None:
        return []
    descending = order.startswith("-")
    return [{"field": order.lstrip("-"), "descending": descending}]


def _request(type_name: str, where: Where, order: str | None, cursor: str | None, limit: int) -> dict:
    return {
        "type_name": type_name,
        "filters": filters_to_candid(where),
        "order": order_to_candid(order),
        "cursor": [] if cursor is None else [cursor],
        "limit": limit,
    }


def chunks(rows: Iterable[Any], size: int) -> Iterator[list]:
    """Consecutive lists of at most `size` items."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def create_chunks(type_name: str, rows: Iterable[Mapping[str, Any]], batch_size: int) -> Iterator[list]:
    """`Create` operations for the rows, in lists of at most `batch_size` (1 to 100)."""
    return chunks((Create(type_name, dict(row)) for row in rows), _batch_size(batch_size))


def upsert_chunks(
    type_name: str, alias_field: str, rows: Iterable[Mapping[str, Any]], batch_size: int
) -> Iterator[list]:
    """`Upsert` operations for the rows (by their `alias_field` value), in lists of at most `batch_size`."""

    def upsert(row: Mapping[str, Any]) -> Upsert:
        if row.get(alias_field) is None:
            raise ValueError(f"row without a value for the alias field {alias_field!r}: {dict(row)!r}")
        return Upsert(type_name, row[alias_field], {k: v for k, v in row.items() if k != alias_field})

    return chunks((upsert(row) for row in rows), _batch_size(batch_size))


def _report(progress: Progress | None, done: int, batch: int) -> int:
    done += batch
    if progress is not None:
        progress(done, batch)
    return done


class QueryMethods:
    """`query`, `query_count`, `upsert`, `create_many`, `upsert_many`, `audit_query`, `audit_tail`."""

    def _ok(self, method: str, *args: Any) -> Any:  # provided by SimpleDB
        raise NotImplementedError

    def query_page(
        self,
        type_name: str,
        where: Where = None,
        order: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> QueryPage:
        """One page of a query (see `query`)."""
        page = self._ok("query", _request(type_name, where, order, cursor, limit))
        return QueryPage(
            [entity_from_candid(e) for e in page["items"]],
            page["next"][0] if page["next"] else None,
            page["scanned"],
            page["complete"],
        )

    def query(
        self, type_name: str, where: Where = None, order: str | None = None, page_size: int = 100
    ) -> Iterator[Entity]:
        """Every matching entity, fetching pages lazily as you iterate. `where`: {"age__gte": 18} (suffixes
        eq ne lt lte gt gte between in startswith) or [("age", ">=", 18)]; `order`: "age" or "-age"."""
        cursor = None
        while True:
            page = self.query_page(type_name, where, order, cursor, page_size)
            yield from page.items
            if page.next is None:
                return
            cursor = page.next

    def query_count(self, type_name: str, where: Where = None) -> int:
        """How many entities match (calls again while the canister reports more to count)."""
        total, cursor = 0, None
        while True:
            got = self._ok("query_count", _request(type_name, where, None, cursor, 0))
            total += got["count"]
            if not got["next"]:
                return total
            cursor = got["next"][0]

    def upsert(
        self, type_name: str, alias: Any, fields: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[Entity, bool]:
        """Create the entity with this alias value, or update it: (entity, created)."""
        got = self._ok("upsert", type_name, to_value(alias), to_fields({**(fields or {}), **kwargs}))
        return entity_from_candid(got["entity"]), got["created"]

    def create_many(
        self,
        type_name: str,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int = MAX_BATCH,
        progress: Progress | None = None,
    ) -> list[Entity]:
        """Create every row, `batch_size` (at most 100) per all-or-nothing batch call; `progress(done,
        batch)` after each batch. A failing batch raises; the batches before it stay written."""
        return self._send_batches(create_chunks(type_name, rows, batch_size), progress)

    def upsert_many(
        self,
        type_name: str,
        alias_field: str,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int = MAX_BATCH,
        progress: Progress | None = None,
    ) -> list[Entity]:
        """Create or update every row by the value of its `alias_field`, `batch_size` (at most 100) per
        all-or-nothing batch call; `progress(done, batch)` after each batch."""
        return self._send_batches(upsert_chunks(type_name, alias_field, rows, batch_size), progress)

    def _send_batches(self, batches: Iterable[list], progress: Progress | None) -> list[Entity]:
        out, done = [], 0
        for chunk in batches:
            out += self.batch(chunk)
            done = _report(progress, done, len(chunk))
        return out

    def audit_query(
        self,
        newest_first: bool = True,
        start: int | None = None,
        type_name: str | None = None,
        id: int | None = None,
        caller: Principal | str | None = None,
        limit: int = 100,
    ) -> Page[AuditEntry]:
        """One page of audit entries, newest (or oldest) first, filtered by type, entity id and caller;
        `next` is the `start` of the following page (None when the log is exhausted)."""
        request = {
            "start": [] if start is None else [start],
            "newest_first": newest_first,
            "type_name": [] if type_name is None else [type_name],
            "id": [] if id is None else [id],
            "caller": [] if caller is None else [Principal.of(caller).to_str()],
            "limit": limit,
        }
        page = self._ok("audit_query", request)
        return Page([audit_from_candid(a) for a in page["items"]], page["next"][0] if page["next"] else None)

    def audit_tail(
        self,
        n: int = 20,
        type_name: str | None = None,
        id: int | None = None,
        caller: Principal | str | None = None,
    ) -> list[AuditEntry]:
        """The newest `n` matching audit entries, newest first."""
        out, start = [], None
        while len(out) < n:
            page = self.audit_query(True, start, type_name, id, caller, min(100, n - len(out)))
            out += page.items
            if page.next is None:
                break
            start = page.next
        return out[:n]

    def rebuild_indexes(self, type_name: str, page_size: int = 100) -> int:
        """Admins: fill a type's pending ordered indexes (after an upgrade); returns the calls made."""
        calls, cursor = 0, []
        while True:
            got = self._ok("rebuild_indexes", type_name, cursor, page_size)
            calls += 1
            if not got:
                return calls
            cursor = got


def _batch_size(size: int) -> int:
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
    return size


class AsyncQueryMethods:
    """The iterator and bulk methods of `QueryMethods` for `AsyncSimpleDB` (the single-call ones are
    wrapped from `SimpleDB` like every other endpoint)."""

    async def query(
        self, type_name: str, where: Where = None, order: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Entity]:
        """Every matching entity, fetching pages as you iterate (`async for`)."""
        cursor = None
        while True:
            page = await self.query_page(type_name, where, order, cursor, page_size)
            for item in page.items:
                yield item
            if page.next is None:
                return
            cursor = page.next

    async def create_many(
        self,
        type_name: str,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int = MAX_BATCH,
        progress: Progress | None = None,
    ) -> list[Entity]:
        """Async form of `SimpleDB.create_many`."""
        return await self._send_batches(create_chunks(type_name, rows, batch_size), progress)

    async def upsert_many(
        self,
        type_name: str,
        alias_field: str,
        rows: Iterable[Mapping[str, Any]],
        batch_size: int = MAX_BATCH,
        progress: Progress | None = None,
    ) -> list[Entity]:
        """Async form of `SimpleDB.upsert_many`."""
        return await self._send_batches(upsert_chunks(type_name, alias_field, rows, batch_size), progress)

    async def _send_batches(self, batches: Iterable[list], progress: Progress | None) -> list[Entity]:
        out, done = [], 0
        for chunk in batches:
            out += await self.batch(chunk)
            done = _report(progress, done, len(chunk))
        return out
