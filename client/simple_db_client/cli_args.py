"""Parsing the CLI's own argument syntax: `field=value` / `field:=json` and define-type specs."""

from __future__ import annotations

import json
from typing import Any

import click

from .models import FieldDef, RelationDef, TypeDef
from .values import coerce


def parse_assignments(args: tuple[str, ...], typedef: TypeDef) -> dict[str, Any]:
    """`name=text` (converted by the field's kind) and `name:=json` (e.g. `x:=null`) into a dict."""
    kinds = {f.name: f.kind for f in typedef.fields}
    values: dict[str, Any] = {}
    for arg in args:
        name, sep, text = arg.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{arg!r}: use FIELD=VALUE or FIELD:=JSON", param_hint="FIELDS")
        raw: Any = text
        if name.endswith(":"):
            name = name[:-1]
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(
                    f"{arg!r}: not JSON after ':=' ({exc})", param_hint="FIELDS"
                ) from exc
        if name not in kinds:
            known = ", ".join(kinds) or "none"
            raise click.BadParameter(
                f"{typedef.name} has no field {name!r} (fields: {known})", param_hint="FIELDS"
            )
        try:
            values[name] = coerce(kinds[name], raw)
        except ValueError as exc:
            raise click.BadParameter(f"field {name}: {exc}", param_hint="FIELDS") from exc
    return values


def _options(spec: str, what: str) -> tuple[str, list[str]]:
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise click.BadParameter(f"{spec!r}: expected NAME=KIND[,...]", param_hint=what)
    return name, [part.strip() for part in rest.split(",")]


def parse_field_spec(spec: str) -> FieldDef:
    """`name=kind[,required][,indexed][,min=N][,max=N][,default=V]`."""
    name, parts = _options(spec, "--field")
    kind, flags = parts[0], parts[1:]
    options: dict[str, Any] = {}
    try:
        for flag in flags:
            key, sep, value = flag.partition("=")
            if key in ("required", "indexed") and not sep:
                options[key] = True
            elif key in ("min", "max") and sep:
                options[key] = float(value)
            elif key == "default" and sep:
                options[key] = coerce(kind, value)
            else:
                raise click.BadParameter(f"{spec!r}: unknown option {flag!r}", param_hint="--field")
    except ValueError as exc:
        raise click.BadParameter(f"{spec!r}: {exc}", param_hint="--field") from exc
    return FieldDef(name=name, kind=kind, **options)


def parse_relation_spec(spec: str) -> RelationDef:
    """`name=kind,target,reverse[,on_delete]`."""
    name, parts = _options(spec, "--relation")
    if len(parts) not in (3, 4):
        raise click.BadParameter(
            f"{spec!r}: expected NAME=KIND,TARGET,REVERSE[,ON_DELETE]", param_hint="--relation"
        )
    return RelationDef(name, parts[0], parts[1], parts[2], *(parts[3:]))
