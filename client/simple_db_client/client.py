"""`SimpleDB`: one method per endpoint of the database canister, with typed results and page iterators."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .certified import DEFAULT_MAX_AGE_S, block_entry, verify_chain, verify_entity, verify_page, verify_tip
from .codec import (
    audit_from_candid,
    entity_from_candid,
    stats_from_candid,
    typedef_from_candid,
    typedef_to_candid,
)
from .dump_file import export_dump, import_pages, read_dump
from .errors import CertificateError, TransportError, canister_error
from .models import AuditEntry, Entity, Page, Stats, TypeDef
from .ops import Op
from .principal import Principal
from .query_methods import QueryMethods
from .values import to_fields

if TYPE_CHECKING:
    from .identity import Identity

DEFAULT_PAGE_SIZE = 100


class SimpleDB(QueryMethods):
    """A client of one Kybra Simple DB canister.

    `identity`: an Identity, a path to a PEM or seed-phrase file, or None for anonymous.
    `fetch_root_key=True` trusts the root key the network reports (local networks only); otherwise
    certificates are checked against `root_key` or the IC mainnet key. Other keyword arguments go to
    `Agent` (`transport=`, `retry=`, `force_fetch_root_key=`, ...).
    `agent`: instead of `url` and `identity`, any object with `query(canister_id, method, arg) -> bytes`
    and `update(...) -> bytes` (an `Agent`, a test double, your own transport).
    """

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
            _new_agent, url, canister_id, identity, agent, fetch_root_key, root_key, timeout, agent_options
        )

    @property
    def identity(self) -> Identity:
        return self.agent.identity

    @property
    def principal(self) -> Principal:
        """The caller's principal, computed locally (see `whoami` for the canister's view)."""
        return self.identity.principal

    def close(self) -> None:
        close = getattr(self.agent, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> SimpleDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the Candid call

    def call(self, method: str, *args: Any) -> Any:
        """Call `method` with already-Candid-shaped `args`; return the decoded result."""
        from . import candid_types as C  # ic-py's Candid codec loads with the first call
        from .arg_check import check_args
        from .ic_candid import candid

        arg_types, result_type, kind = C.METHODS[method]
        check_args(method, arg_types, args, _param_names(method))
        arg = candid.encode([{"type": t, "value": v} for t, v in zip(arg_types, args, strict=True)])
        send = self.agent.query if kind == "query" else self.agent.update
        reply = send(self.canister_id, method, arg)
        try:
            return candid.decode(reply, [result_type])[0]["value"]
        except Exception as exc:
            raise TransportError(f"cannot decode the reply of {method}: {exc}") from exc

    def _ok(self, method: str, *args: Any) -> Any:
        result = self.call(method, *args)
        if "Err" in result:
            raise canister_error(result["Err"])
        return result["Ok"]

    # schema

    def define_type(self, typedef: TypeDef, force: bool = False) -> None:
        """Create or change a type (admins only); `force` allows destructive changes."""
        self._ok("define_type", typedef_to_candid(typedef), force)

    def schema(self) -> list[TypeDef]:
        return [typedef_from_candid(t) for t in self.call("schema")]

    def type(self, name: str) -> TypeDef | None:
        """The schema of one type, or None."""
        return next((t for t in self.schema() if t.name == name), None)

    # data

    def create(self, type_name: str, fields: Mapping[str, Any] | None = None, **kwargs: Any) -> Entity:
        """Create an entity; fields as a dict and/or keyword arguments."""
        return entity_from_candid(self._ok("create", type_name, to_fields({**(fields or {}), **kwargs})))

    def get(self, type_name: str, id: int) -> Entity:
        return entity_from_candid(self._ok("get", type_name, id))

    def find(self, type_name: str, alias: str) -> Entity:
        """The entity whose alias field equals `alias`."""
        return entity_from_candid(self._ok("find", type_name, alias))

    # certified reads: proven by the subnet's signature (docs/canister.md, "Certified data")

    def _root_key(self) -> bytes:
        key = getattr(self.agent, "root_key", None)
        if not isinstance(key, bytes):
            raise CertificateError("certified reads need an agent with the network's root key")
        return key

    def get_certified(
        self, type_name: str, id: int, *, max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> Entity | None:
        """The entity of a certified type, verified against the root key (certificate signature, this
        canister, freshness, witness, entity hash); None when the canister proves it absent. Raises
        CertificateError when any of it does not hold."""
        reply = self._ok("get_certified", type_name, id)
        raw = verify_entity(reply, type_name, id, self.canister_id.bytes, self._root_key(), max_age_s)
        return None if raw is None else entity_from_candid(raw)

    def find_certified(self, type_name: str, alias: str, *, max_age_s: float = DEFAULT_MAX_AGE_S) -> Entity:
        """`find` with the entity verified as `get_certified` does, and its alias field checked against
        `alias` (a miss raises NotFound and is not proven)."""
        reply = self._ok("find_certified", type_name, alias)
        entity = reply["entity"][0] if reply["entity"] else None
        if entity is None:
            raise CertificateError("find_certified answered without an entity")
        canister = self.canister_id.bytes
        raw = verify_entity(reply, type_name, entity["id"], canister, self._root_key(), max_age_s)
        found = entity_from_candid(raw)
        typedef = self.type(type_name)
        if typedef is None or typedef.alias is None or found.fields.get(typedef.alias) != alias:
            raise CertificateError(f"the certified {type_name} does not have the alias {alias!r}")
        return found

    def list_certified_page(
        self, type_name: str, start: int | None = None, limit: int = DEFAULT_PAGE_SIZE,
        *, max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> Page[Entity]:
        """A page of a certified type (ids after `start`), verified complete: no stored entity with an id
        in the page's range is missing or changed."""
        reply = self._ok("list_certified", type_name, _opt(start), limit)
        items = verify_page(reply, type_name, start, self.canister_id.bytes, self._root_key(), max_age_s)
        return Page([entity_from_candid(e) for e in items], _first(reply["next"]))

    def list_certified(self, type_name: str, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Entity]:
        """Every entity of a certified type, page by page, each page verified complete."""
        return _pages(lambda start: self.list_certified_page(type_name, start, page_size))

    def audit_verified(
        self, start: int = 0, end: int | None = None, *, max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> list[AuditEntry]:
        """Audit entries `start <= seq < end` read as ICRC-3 blocks (admins) and verified: the chain
        from `start` up to the certified tip is recomputed and must end at the tip's hash."""
        tip = self.call("icrc3_get_tip_certificate")
        if not tip:
            return []
        last_index, last_hash = verify_tip(tip[0], self.canister_id.bytes, self._root_key(), max_age_s)
        blocks = []
        cursor = start
        while cursor <= last_index:
            result = self.call("icrc3_get_blocks", [{"start": cursor, "length": last_index + 1 - cursor}])
            page = [(b["id"], b["block"]) for b in result["blocks"]]
            if not page:
                raise CertificateError(f"the canister returned no block at {cursor}")
            blocks.extend(page)
            cursor = page[-1][0] + 1
        verify_chain(blocks, last_index, last_hash)
        stop = last_index + 1 if end is None else end
        return [audit_from_candid(_entry_as_candid(block_entry(i, b))) for i, b in blocks if i < stop]

    def update(
        self,
        type_name: str,
        id: int,
        fields: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        **kwargs: Any,
    ) -> Entity:
        """Change some fields; with `expected_version`, raise Conflict if the entity changed meanwhile."""
        expected = [] if expected_version is None else [expected_version]
        return entity_from_candid(
            self._ok("update", type_name, id, to_fields({**(fields or {}), **kwargs}), expected)
        )

    def delete(self, type_name: str, id: int) -> None:
        """Delete an entity. A cascade too large for one message goes on in the background after this
        returns (the entity itself is gone already); `delete_continue` carries it on by hand."""
        self._ok("delete", type_name, id)

    def delete_continue(self, type_name: str, id: int) -> dict[str, Any]:
        """One more step of your own delete whose cascade goes on across messages:
        {"done": bool, "deleted": n, "pending": n}. NotFoundError when none is under way for you
        (it finished, or was never started by you)."""
        progress = self._ok("delete_continue", type_name, id)
        return {"done": bool(progress["done"]), "deleted": int(progress["deleted"]),
                "pending": int(progress["pending"])}

    def link(self, type_name: str, id: int, relation: str, target_id: int) -> None:
        self._ok("link", type_name, id, relation, target_id)

    def unlink(self, type_name: str, id: int, relation: str, target_id: int) -> None:
        self._ok("unlink", type_name, id, relation, target_id)

    def transfer(self, type_name: str, id: int, owner: Principal | str) -> Entity:
        """Give an entity to another principal."""
        return entity_from_candid(self._ok("transfer", type_name, id, Principal.of(owner).to_str()))

    def batch(self, ops: Iterable[Op]) -> list[Entity | None]:
        """Run operations all or nothing; one result per op (the entity, or None for delete/link/...)."""
        results = self._ok("batch", [op.to_candid() for op in ops])
        return [entity_from_candid(r["Entity"]) if "Entity" in r else None for r in results]

    def count(self, type_name: str, where: Mapping[str, Any] | None = None) -> int:
        """How many entities of a type match equality filters on indexed fields."""
        return self._ok("count", type_name, to_fields(where))

    # pages

    def list_page(
        self,
        type_name: str,
        where: Mapping[str, Any] | None = None,
        start: int | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Entity]:
        page = self._ok("list", type_name, to_fields(where), _opt(start), limit)
        return Page([entity_from_candid(e) for e in page["items"]], _first(page["next"]))

    def list(
        self, type_name: str, where: Mapping[str, Any] | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Entity]:
        """Every matching entity, fetched page by page."""
        return _pages(lambda start: self.list_page(type_name, where, start, page_size))

    def links_page(
        self, type_name: str, id: int, relation: str, start: int | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[int]:
        page = self._ok("links", type_name, id, relation, _opt(start), limit)
        return Page(list(page["items"]), _first(page["next"]))

    def links(
        self, type_name: str, id: int, relation: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[int]:
        """The ids linked to an entity through `relation`, page by page."""
        return _pages(lambda start: self.links_page(type_name, id, relation, start, page_size))

    def audit_page(
        self, start: int = 0, end: int | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[AuditEntry]:
        page = self._ok("audit", start, _opt(end), limit)
        return Page([audit_from_candid(a) for a in page["items"]], _first(page["next"]))

    def audit(
        self, start: int = 0, end: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[AuditEntry]:
        """Audit entries with `start <= seq` (and `seq < end` when given), page by page."""
        return _pages(lambda cursor: self.audit_page(start if cursor is None else cursor, end, page_size))

    def dump_page(self, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE) -> Page[str]:
        """One page of the JSON export; `items` holds the page's data text."""
        page = self._ok("dump", _opt(cursor), limit)
        return Page([page["data"]], _first(page["next"]))

    def dump(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """The whole database as JSON text pages, each accepted by `restore`."""
        return _pages(lambda cursor: self.dump_page(cursor, page_size))

    def restore(self, data: str) -> int:
        """Load one dump page (admins only); return how many entities it restored."""
        return self._ok("restore", data)

    def export_to(self, path: str | Path, page_size: int = DEFAULT_PAGE_SIZE) -> int:
        """Write the whole database to an export file (JSON Lines); return the number of entities."""
        with open(path, "w", encoding="utf-8") as out:
            return export_dump(self, out, page_size)

    def import_from(self, path: str | Path, skip_existing: bool = False) -> int:
        """Restore an export file page by page (admins only); return the number of entities restored.
        `skip_existing=True` leaves out entities whose ids the canister already holds (to resume an
        interrupted import) instead of stopping at the first page that has one."""
        _, pages = read_dump(path)
        return import_pages(self, pages, skip_existing=skip_existing)

    # operations

    def whoami(self) -> Principal:
        """The caller's principal as the canister sees it."""
        return Principal.of(self.call("whoami"))

    def stats(self) -> Stats:
        return stats_from_candid(self.call("stats"))

    def admins(self) -> list[Principal]:
        return [Principal.of(p) for p in self.call("admins")]

    def add_admin(self, principal: Principal | str) -> None:
        self._ok("add_admin", Principal.of(principal).to_str())

    def remove_admin(self, principal: Principal | str) -> None:
        self._ok("remove_admin", Principal.of(principal).to_str())


def _new_agent(url: str, identity: Identity, **options: Any) -> Any:
    from .agent import Agent  # httpx and the verifiers load with the first client, not at import

    return Agent(url, identity, **options)


def connect(
    new_agent: Any,
    url: str | None,
    canister_id: str | Principal | None,
    identity: Identity | str | Path | None,
    agent: Any,
    fetch_root_key: bool,
    root_key: bytes | None,
    timeout: float,
    agent_options: dict,
) -> tuple[Principal, Any]:
    """The canister id and the agent of a client: `agent` as given (it must have query and update),
    or `new_agent(url, identity, **options)`."""
    if canister_id is None:
        raise TypeError("a canister_id is required")
    canister = Principal.of(canister_id)
    if agent is not None:
        if url is not None or identity is not None or agent_options:
            raise TypeError("pass either agent= or url/identity/agent options, not both")
        if not all(callable(getattr(agent, name, None)) for name in ("query", "update")):
            raise TypeError(f"agent must have query() and update() methods, not {type(agent).__name__}")
        return canister, agent
    if not isinstance(url, str):
        raise TypeError(f"url must be a str such as 'https://icp-api.io', not {url!r}")
    from .identity import Identity, load_identity  # cryptography loads with the first client

    if not isinstance(identity, Identity):
        identity = load_identity(identity)
    options = dict(agent_options, root_key=root_key, fetch_root_key=fetch_root_key, timeout=timeout)
    return canister, new_agent(url, identity, **options)


@functools.cache
def _param_names(method: str) -> tuple[str, ...]:
    """The parameter names of the public method behind a Candid method (`get`, or `list_page` for
    `list`), to name a wrong argument; () when the positions do not line up."""
    from . import candid_types as C

    arg_types = C.METHODS[method][0]
    for name in (method, f"{method}_page"):
        function = getattr(SimpleDB, name, None)
        if function is None:
            continue
        params = [p.name for p in inspect.signature(function).parameters.values()][1:]
        if len(params) >= len(arg_types):
            return tuple(params[: len(arg_types)])
    return ()


def _entry_as_candid(entry: dict) -> dict:
    """A verified block's entry in the shape of the `audit` endpoint's records (values kind-tagged)."""
    changes = []
    for name, value in entry["changes"].items():
        if value is None:
            tagged = {"Null": None}
        elif isinstance(value, bool):
            tagged = {"Bool": value}
        elif isinstance(value, int):
            tagged = {"Int": value}
        elif isinstance(value, float):
            tagged = {"Float": value}
        else:
            tagged = {"Text": value}
        changes.append({"name": name, "value": tagged})
    return dict(entry, changes=changes)


def _opt(value: Any) -> list:
    return [] if value is None else [value]


def _first(value: list) -> Any:
    return value[0] if value else None


def _pages(fetch) -> Iterator:
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next is None:
            return
        cursor = page.next
