"""`AsyncSimpleDB`: every `SimpleDB` method as a coroutine, over `AsyncAgent` (httpx.AsyncClient).

One definition of each endpoint: an async method runs the very `SimpleDB` method body (argument
checks, Candid encoding, result decoding, error mapping) against a replaying agent. When the body
makes a call, the replaying agent suspends it; the call is sent with `await`, and the body is run again
from the start with the replies so far, until it returns. Bodies are pure functions of their replies,
so a method making one call runs its body twice, and nothing is sent twice. Iterators (`list`,
`links`, `audit`, `dump`, `query`) are async generators over the `*_page` methods; `create_many` and
`upsert_many` (query_methods.AsyncQueryMethods) await one batch after another.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from .async_agent import AsyncAgent
from .client import DEFAULT_PAGE_SIZE, SimpleDB, connect
from .identity import Identity
from .models import AuditEntry, Entity
from .principal import Principal
from .query_methods import AsyncQueryMethods, QueryMethods

# Methods with their own async form here, or that make no sense without a file or a connection.
_NOT_WRAPPED = {
    "close",
    "identity",
    "principal",
    "list",
    "list_certified",
    "links",
    "audit",
    "dump",
    "query",
    "create_many",
    "upsert_many",
    "export_to",
    "import_from",
}


class _Suspended(BaseException):
    """Raised through a SimpleDB method body when it needs a reply not yet received (a BaseException, so
    no `except Exception` in a body can swallow it)."""

    def __init__(self, kind: str, canister_id: Principal, method: str, arg: bytes):
        super().__init__(method)
        self.call = (kind, canister_id, method, arg)


class _ReplayAgent:
    """Answers a body's calls from recorded replies (or re-raises recorded errors), then suspends."""

    def __init__(self, replies: list, identity: Identity | None, root_key: bytes | None = None):
        self.replies = replies
        self.identity = identity
        self.root_key = root_key  # certified reads verify against it
        self.position = 0

    def _next(self, kind: str, canister_id: Principal, method: str, arg: bytes) -> bytes:
        if self.position == len(self.replies):
            raise _Suspended(kind, canister_id, method, arg)
        reply = self.replies[self.position]
        self.position += 1
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def query(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        return self._next("query", canister_id, method, arg)

    def update(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        return self._next("update", canister_id, method, arg)


def _wrap(name: str, body: Callable) -> Callable:
    @functools.wraps(body)
    async def method(self: AsyncSimpleDB, *args: Any, **kwargs: Any) -> Any:
        replies: list = []
        while True:
            replay = _ReplayAgent(replies, self.agent.identity, getattr(self.agent, "root_key", None))
            shadow = SimpleDB(canister_id=self.canister_id, agent=replay)
            try:
                result = body(shadow, *args, **kwargs)
            except _Suspended as suspended:
                kind, canister_id, candid_method, arg = suspended.call
                send = self.agent.query if kind == "query" else self.agent.update
                try:
                    replies.append(await send(canister_id, candid_method, arg))
                except Exception as exc:  # replayed at the same point of the body
                    replies.append(exc)
                continue
            if inspect.isgenerator(result):
                raise TypeError(f"{name}() is an iterator: use its _page method with AsyncSimpleDB")
            return result

    method.__doc__ = f"Async form of `SimpleDB.{name}`. {body.__doc__ or ''}".strip()
    return method


class AsyncSimpleDB(AsyncQueryMethods):
    """`SimpleDB` for asyncio: `async with AsyncSimpleDB(url, canister_id, identity) as db:
    await db.get(...)`. Same arguments (plus `agent=` any object with async `query`/`update`)."""

    def __init__(
        self,
        url: str | None = None,
        canister_id: str | Principal | None = None,
        identity: Identity | str | Path | None = None,
        *,
        fetch_root_key: bool = False,
        root_key: bytes | None = None,
        timeout: float = 60.0,
        agent: Any = None,
        **agent_options: Any,
    ):
        self.canister_id, self.agent = connect(
            AsyncAgent, url, canister_id, identity, agent, fetch_root_key, root_key, timeout, agent_options
        )

    @property
    def identity(self) -> Identity:
        return self.agent.identity

    @property
    def principal(self) -> Principal:
        return self.identity.principal

    async def aclose(self) -> None:
        close = getattr(self.agent, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncSimpleDB:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list(
        self, type_name: str, where: Mapping[str, Any] | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Entity]:
        """Every matching entity, fetched page by page."""
        async for item in _pages(lambda start: self.list_page(type_name, where, start, page_size)):
            yield item

    async def list_certified(
        self, type_name: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Entity]:
        """Every entity of a certified type, page by page, each page verified complete."""
        async for item in _pages(lambda start: self.list_certified_page(type_name, start, page_size)):
            yield item

    async def links(
        self, type_name: str, id: int, relation: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[int]:
        """The ids linked to an entity through `relation`, page by page."""
        async for item in _pages(lambda start: self.links_page(type_name, id, relation, start, page_size)):
            yield item

    async def audit(
        self, start: int = 0, end: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[AuditEntry]:
        """Audit entries with `start <= seq` (and `seq < end`), page by page."""
        async for item in _pages(lambda c: self.audit_page(start if c is None else c, end, page_size)):
            yield item

    async def dump(self, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[str]:
        """The whole database as JSON text pages, each accepted by `restore`."""
        async for item in _pages(lambda cursor: self.dump_page(cursor, page_size)):
            yield item


async def _pages(fetch: Callable) -> AsyncIterator:
    cursor = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next is None:
            return
        cursor = page.next


for _name, _body in {**vars(QueryMethods), **vars(SimpleDB)}.items():
    if not _name.startswith("_") and _name not in _NOT_WRAPPED and inspect.isfunction(_body):
        setattr(AsyncSimpleDB, _name, _wrap(_name, _body))
