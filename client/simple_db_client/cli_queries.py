"""`simpledb query`, `simpledb insert` and the filtered audit tail: parsing of `--where` conditions and
of row files (JSON Lines, a JSON array or CSV)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .models import TypeDef
from .values import coerce

_SYMBOLS = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|\^=|=|>|<)\s*(.*)$", re.S)
_WORDS = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(between|in|startswith)\s+(.*)$", re.S | re.I)
_OPS = {"=": "==", "^=": "startswith"}


def parse_where(condition: str, typedef: TypeDef) -> tuple[str, str, Any]:
    """`age>=18`, `name^=An` (starts with), `city=Oslo`, `age between 18,30`, `city in Oslo,Paris` as
    (field, op, value) with the value converted to the field's kind."""
    match = _SYMBOLS.match(condition) or _WORDS.match(condition)
    if match is None:
        raise click.BadParameter(
            f"{condition!r}: use FIELD OP VALUE with OP one of == != < <= > >= ^= (starts with), "
            "or FIELD between LOW,HIGH / FIELD in A,B,C",
            param_hint="--where",
        )
    name, op, text = match.group(1), match.group(2).lower(), match.group(3).strip()
    op = _OPS.get(op, op)
    kinds = {f.name: f.kind for f in typedef.fields}
    if name not in kinds:
        raise click.BadParameter(
            f"{typedef.name} has no field {name!r} (fields: {', '.join(kinds) or 'none'})",
            param_hint="--where",
        )
    try:
        if op in ("between", "in"):
            values = [coerce(kinds[name], part.strip()) for part in text.split(",")]
            if op == "between" and len(values) != 2:
                raise ValueError("between takes LOW,HIGH")
            return name, op, values
        return name, op, coerce(kinds[name], text)
    except ValueError as exc:
        raise click.BadParameter(f"{condition!r}: {exc}", param_hint="--where") from exc


def read_rows(path: Path, file_format: str | None) -> list[dict]:
    """Rows of a JSON Lines file, a JSON array of objects or a CSV file with a header line (`-`: stdin);
    the format comes from `file_format` or the file name, else from the first character."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    kind = file_format or {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(
        path.suffix.lower()
    )
    if kind is None:
        kind = "json" if text.lstrip().startswith("[") else "jsonl"
    if kind == "csv":
        return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(io.StringIO(text))]
    if kind == "json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not a JSON array: {exc}", param_hint="FILE") from exc
        if not isinstance(rows, list):
            raise click.BadParameter("the JSON file must hold an array of objects", param_hint="FILE")
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise click.BadParameter(f"line {number}: not JSON ({exc})", param_hint="FILE") from exc
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise click.BadParameter(f"row {number} is not an object", param_hint="FILE")
    return rows


def typed_rows(rows: list[dict], typedef: TypeDef) -> Iterator[dict]:
    """Each row with its values converted to the fields' kinds (unknown columns are refused)."""
    kinds = {f.name: f.kind for f in typedef.fields}
    relations = {r.name for r in typedef.relations}
    for number, row in enumerate(rows, 1):
        typed = {}
        for name, value in row.items():
            if name in relations:
                typed[name] = None if value is None else int(value)
                continue
            if name not in kinds:
                raise click.BadParameter(
                    f"row {number}: {typedef.name} has no field {name!r}", param_hint="FILE"
                )
            try:
                typed[name] = coerce(kinds[name], value)
            except ValueError as exc:
                raise click.BadParameter(f"row {number}, field {name}: {exc}", param_hint="FILE") from exc
        yield typed


def insert_rows(db, typedef: TypeDef, rows: list[dict], batch_size: int, upsert: bool) -> int:
    """Create (or upsert by the type's alias) every row with a progress bar; returns the rows written."""
    typed = list(typed_rows(rows, typedef))
    from tqdm import tqdm  # loaded only when rows are inserted, not for `simpledb --help`

    with tqdm(total=len(typed), unit=" rows", desc="insert", disable=None, file=sys.stderr) as bar:

        def advance(_done: int, batch: int) -> None:
            bar.update(batch)

        if upsert:
            if typedef.alias is None:
                raise click.BadParameter(
                    f"{typedef.name} has no alias field to upsert by", param_hint="--upsert"
                )
            written = db.upsert_many(typedef.name, typedef.alias, typed, batch_size, advance)
        else:
            written = db.create_many(typedef.name, typed, batch_size, advance)
    return len(written)
