"""Export files: a database dump as JSON Lines (a header, then one line per dump page) and its import."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import CanisterError

if TYPE_CHECKING:
    from .client import SimpleDB

FORMAT = "kybra-simple-db-dump"
VERSION = 1


class DumpFileError(ValueError):
    """The file is not an export written by `export_dump`."""


def export_dump(
    db: SimpleDB, out: IO[str], page_size: int = 100, on_page: Callable[[int], None] | None = None
) -> int:
    """Write every dump page of `db` to `out`; return the number of pages."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "canister_id": str(db.canister_id),
        "exported_at": datetime.now(timezone.utc).isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    pages = 0
    for data in db.dump(page_size):
        out.write(json.dumps({"data": data}) + "\n")
        pages += 1
        if on_page:
            on_page(pages)
    return pages


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
        super().__init__(f"page {page} refused after {restored} entities restored: {cause.message}")
        self.page, self.restored, self.cause = page, restored, cause


def import_pages(db: SimpleDB, pages: list[str], on_page: Callable[[int], None] | None = None) -> int:
    """Restore pages in order; return the number of entities restored."""
    restored = 0
    for number, data in enumerate(pages, start=1):
        try:
            count = db.restore(data)
        except CanisterError as exc:
            raise ImportFailed(number, restored, exc) from exc
        restored += count
        if on_page:
            on_page(count)
    return restored
