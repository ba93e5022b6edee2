"""How the CLI shows results: aligned text tables by default, JSON with --json."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from .models import AuditEntry, Entity, TypeDef
from .principal import is_principal
from .values import to_json


def plain(obj: Any) -> Any:
    """A JSON-ready form of models, principals, datetimes and containers of them."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return to_json(obj)


def dumps(obj: Any) -> str:
    return json.dumps(plain(obj), indent=2, ensure_ascii=False)


def cell(value: Any) -> str:
    """One value as table text: None empty, datetimes ISO 8601 UTC, principals as text."""
    if value is None:
        return ""
    if isinstance(value, datetime) or is_principal(value):
        return str(to_json(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Columns padded to their widest cell, a dashed rule under the headers."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in texts]
    return "\n".join(lines)


def entity_details(entity: Entity) -> str:
    """One entity as a two-column table: fields, refs, then metadata."""
    rows: list[list[Any]] = [["type", entity.type_name], ["id", entity.id]]
    rows += [[name, value] for name, value in entity.fields.items()]
    rows += [
        [f"-> {ref.relation}", "" if ref.target_id is None else f"{ref.target_type} #{ref.target_id}"]
        for ref in entity.refs.values()
    ]
    rows += [
        ["owner", entity.owner],
        ["creator", entity.creator],
        ["updater", entity.updater],
        ["created_at", entity.created_at],
        ["updated_at", entity.updated_at],
        ["version", entity.version],
    ]
    return table(["key", "value"], rows)


def entity_table(entities: list[Entity]) -> str:
    """Entities of one type, one row each: id, every field, owner, version."""
    names: list[str] = []
    for entity in entities:
        names += [n for n in entity.fields if n not in names]
    rows = [[e.id] + [e.fields.get(n) for n in names] + [e.owner, e.version] for e in entities]
    return table(["id", *names, "owner", "version"], rows)


def policy_text(typedef: TypeDef) -> str:
    p = typedef.policy
    return f"read={p.read} create={p.create} modify={p.modify} delete={p.delete}"


def schema_table(types: list[TypeDef]) -> str:
    rows = [
        [
            t.name,
            ", ".join(f"{f.name}:{f.kind}" for f in t.fields),
            t.alias,
            ", ".join(f"{r.name}->{r.target}" for r in t.relations),
            policy_text(t),
        ]
        for t in types
    ]
    return table(["type", "fields", "alias", "relations", "policy"], rows)


def type_details(typedef: TypeDef) -> str:
    fields = table(
        ["field", "kind", "required", "default", "min", "max", "indexed"],
        [[f.name, f.kind, f.required, f.default, f.min, f.max, f.indexed] for f in typedef.fields],
    )
    parts = [f"type {typedef.name}" + (f" (alias: {typedef.alias})" if typedef.alias else ""), fields]
    if typedef.relations:
        parts.append(
            table(
                ["relation", "kind", "target", "reverse", "on_delete"],
                [[r.name, r.kind, r.target, r.reverse, r.on_delete] for r in typedef.relations],
            )
        )
    parts.append(f"policy: {policy_text(typedef)}")
    return "\n\n".join(parts)


def audit_table(entries: list[AuditEntry]) -> str:
    rows = [
        [
            a.seq,
            a.time,
            a.caller,
            a.operation,
            a.type_name,
            a.id,
            ", ".join(f"{k}={cell(v)}" for k, v in a.changes.items()),
        ]
        for a in entries
    ]
    return table(["seq", "time", "caller", "operation", "type", "id", "changes"], rows)
