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


def _without_existing(db: SimpleDB, data: str) -> tuple[str | None, int]:
    """The page without the entities the canister already holds (None if nothing is left), and how
    many were left out."""
    page = json.loads(data)
    records = page.get("records") or []
    missing = [r for r in records if not (isinstance(r, dict) and "id" in r and _exists(db, r))]
    skipped = len(records) - len(missing)
    if not any(isinstance(r, dict) and "id" in r for r in missing):
        return None, skipped
    return json.dumps(dict(page, records=missing)), skipped


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
        try:
            try:
                count = db.restore(data)
            except Conflict:
                if not skip_existing:
                    raise
                remaining, skipped = _without_existing(db, data)
                if on_skip:
                    on_skip(skipped)
                count = 0 if remaining is None else db.restore(remaining)
        except CanisterError as exc:
            raise ImportFailed(number, restored, exc) from exc
        restored += count
        if on_page:
            on_page(count)
    return restored
