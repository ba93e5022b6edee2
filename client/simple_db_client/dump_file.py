"""Export files: a database dump as JSON Lines (a header, then one line per dump page) and its import."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import CanisterError, Conflict, NotFound

if TYPE_CHECKING:
    from .client import SimpleDB

FORMAT = "kybra-simple-db-dump"
VERSION = 1
PAGE_FORMAT = "kybra-simple-db-dump/1"
CONTINUED_PAGE_FORMAT = "kybra-simple-db-dump/2"  # /1 plus an entity's links continued on later pages
MAX_PAGE_LINK_IDS = 5000
"""Link ids per restore page when the client splits a page: what a dump page holds at most (a canister
restores 10,000); a page of an older dump with a heavily linked entity is restored in such pieces."""


class DumpFileError(ValueError):
    """The file is not an export written by `export_dump`."""


def page_entities(data: str) -> int:
    """How many entities a dump page holds (its records with an id; type end markers have none)."""
    try:
        records = json.loads(data).get("records")
    except (ValueError, AttributeError):
        return 0
    return sum(1 for record in records or () if isinstance(record, dict) and "id" in record)


def export_dump(
    db: SimpleDB, out: IO[str], page_size: int = 100, on_page: Callable[[int], None] | None = None
) -> int:
    """Write every dump page of `db` to `out`; return the number of entities written. `on_page` gets
    each page's entity count."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "canister_id": str(db.canister_id),
        "exported_at": datetime.now(timezone.utc).isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    entities = 0
    for data in db.dump(page_size):
        out.write(json.dumps({"data": data}) + "\n")
        count = page_entities(data)
        entities += count
        if on_page:
            on_page(count)
    return entities


def read_dump(path: str | Path) -> tuple[dict, list[str]]:
    """The header and page texts of an export file; raise DumpFileError if it is not one."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise DumpFileError(f"{path} is not a Simple DB export (no {FORMAT} header)")
        if header.get("version") != VERSION:
            raise DumpFileError(
                f"{path} has export version {header.get('version')}, this client reads {VERSION}"
            )
        pages = []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("data"), str):
                raise DumpFileError(f"{path}:{number}: a page line needs a text `data`")
            pages.append(record["data"])
    except json.JSONDecodeError as exc:
        raise DumpFileError(f"{path}: not JSON Lines: {exc}") from exc
    return header, pages


class ImportFailed(CanisterError):
    """A page was refused: the pages before it are restored, the rest are not."""

    def __init__(self, page: int, restored: int, cause: CanisterError):
        self.kind = cause.kind
        hint = (
            " (import again with --skip-existing / skip_existing=True to resume)"
            if cause.kind == "Conflict"
            else ""
        )
        super().__init__(f"page {page} refused after {restored} entities restored: {cause.message}{hint}")
        self.page, self.restored, self.cause = page, restored, cause


def _exists(db: SimpleDB, record: dict) -> bool:
    try:
        db.get(record["type"], record["id"])
    except NotFound:
        return False
    return True


def _without_existing(db: SimpleDB, page: dict) -> tuple[str | None, int]:
    """The page without the entities the canister already holds (None if none is left to restore),
    and how many were left out."""
    records = page.get("records") or []
    missing = [r for r in records if not (isinstance(r, dict) and "id" in r and _exists(db, r))]
    skipped = len(records) - len(missing)
    if not any(isinstance(r, dict) and "id" in r for r in missing):
        return None, skipped
    return json.dumps(dict(page, records=missing)), skipped


def _link_count(record) -> int:
    links = record.get("links") if isinstance(record, dict) else None
    if not isinstance(links, dict):
        return 0
    return sum(len(ids) for ids in links.values() if isinstance(ids, list))


def _plain_links(record: dict) -> bool:
    """Whether every link of the record is an int in a list (only such a record is split; the canister
    names what is wrong with any other)."""
    return all(
        isinstance(ids, list) and all(type(i) is int for i in ids) for ids in record["links"].values()
    )


def _pieces(record: dict, room: int, max_ids: int) -> list[dict]:
    """A record whose links do not fit `room`: the record with the first of them (`more_links`), then
    continuation records of at most `max_ids` ids each; the last keeps the record's own `more_links`."""
    ids = [(name, i) for name in sorted(record["links"]) for i in sorted(set(record["links"][name]))]
    eid = record.get("links_of", record.get("id"))
    out, start, size = [], 0, room
    while start < len(ids) or not out:
        links: dict = {}
        for name, i in ids[start : start + size]:
            links.setdefault(name, []).append(i)
        if out:
            piece = {"type": record["type"], "links_of": eid, "links": links}
        else:
            piece = dict(record, links=links)
        piece.pop("more_links", None)
        start += size
        if start < len(ids) or record.get("more_links"):
            piece["more_links"] = True
        out.append(piece)
        size = max_ids
    return out


def split_page(data: str, max_ids: int | None = None) -> list[str]:
    """The page itself when its records carry at most `max_ids` link ids; else pages that carry at most
    `max_ids` each, in order, an entity whose links do not fit going on in continuation records (format
    /2). Pages this client exports never need it; a page of an older dump with an entity of many links
    is restored so."""
    max_ids = max_ids or MAX_PAGE_LINK_IDS
    try:
        page = json.loads(data)
        records = page["records"]
        if sum(_link_count(r) for r in records) <= max_ids:
            return [data]
    except (ValueError, TypeError, KeyError, AttributeError):
        return [data]  # the canister names what is wrong with it
    pieces: list[list[dict]] = [[]]
    room = max_ids
    for record in records:
        count = _link_count(record)
        if count > room and _plain_links(record):
            parts = _pieces(record, room, max_ids)  # two or more: the first fills this piece
            pieces[-1].append(parts[0])
            pieces.extend([part] for part in parts[1:])
            room = max_ids - _link_count(parts[-1])
        else:
            pieces[-1].append(record)
            room -= count
        if room <= 0:
            pieces.append([])
            room = max_ids
    out = []
    for number, part in enumerate(p for p in pieces if p):
        continued = any(isinstance(r, dict) and ("links_of" in r or "more_links" in r) for r in part)
        tag = CONTINUED_PAGE_FORMAT if continued else page.get("format", PAGE_FORMAT)
        piece = {"format": tag, "records": part}
        if number == 0 and "schema" in page:
            piece["schema"] = page["schema"]
        out.append(json.dumps(piece))
    return out


def import_pages(
    db: SimpleDB,
    pages: list[str],
    on_page: Callable[[int], None] | None = None,
    skip_existing: bool = False,
    on_skip: Callable[[int], None] | None = None,
) -> int:
    """Restore pages in order; return the number of entities restored. With `skip_existing`, a page
    refused because some of its ids are used is restored without the entities the canister already
    has (`on_skip` gets how many), so an interrupted import can simply be run again."""
    restored = 0
    for number, data in enumerate(pages, start=1):
        count = 0
        for piece in split_page(data):
            try:
                count += _restore_piece(db, piece, skip_existing, on_skip)
            except CanisterError as exc:
                raise ImportFailed(number, restored + count, exc) from exc
        restored += count
        if on_page:
            on_page(count)
    return restored


def _restore_piece(
    db: SimpleDB, data: str, skip_existing: bool, on_skip: Callable[[int], None] | None
) -> int:
    """Restore one page; with `skip_existing`, a page refused for a used id is restored without the
    entities the canister holds, then each of its continuation records on its own: one refused as a
    `Conflict` has its links in already (or goes on with an entity that was there before, skipped
    like it)."""
    try:
        return db.restore(data)
    except Conflict:
        if not skip_existing:
            raise
    page = json.loads(data)
    records = page.get("records") or []
    continuations = [r for r in records if isinstance(r, dict) and "links_of" in r]
    rest = [r for r in records if not (isinstance(r, dict) and "links_of" in r)]
    remaining, skipped = _without_existing(db, dict(page, records=rest))
    if on_skip:
        on_skip(skipped)
    restored = 0 if remaining is None else db.restore(remaining)
    for record in continuations:
        try:
            db.restore(json.dumps({"format": CONTINUED_PAGE_FORMAT, "records": [record]}))
        except Conflict:
            continue
    return restored
