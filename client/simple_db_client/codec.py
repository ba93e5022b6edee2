"""Decoded Candid records <-> the typed objects of models.py."""

from __future__ import annotations

from typing import Any

from .models import (
    CREATE_ACCESS,
    FIELD_KINDS,
    ON_DELETE,
    READ_ACCESS,
    RELATION_KINDS,
    WRITE_ACCESS,
    AuditEntry,
    Entity,
    FieldDef,
    Policy,
    Ref,
    RelationDef,
    Stats,
    TypeDef,
)
from .principal import Principal
from .values import Timestamp, from_fields, from_value, to_value


def _opt(value: list) -> Any:
    return value[0] if value else None


def _tag(variant: dict) -> str:
    return next(iter(variant))


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    for option in allowed:
        if option.lower() == str(value).lower():
            return option
    raise ValueError(f"invalid {what} {value!r}: use one of {', '.join(allowed)}")


def entity_from_candid(raw: dict) -> Entity:
    refs = {
        ref["relation"]: Ref(ref["relation"], ref["target_type"], _opt(ref["target_id"]))
        for ref in raw["refs"]
    }
    return Entity(
        type_name=raw["type_name"],
        id=raw["id"],
        fields=from_fields(raw["fields"]),
        refs=refs,
        owner=Principal.of(raw["owner"]),
        creator=Principal.of(raw["creator"]),
        updater=Principal.of(raw["updater"]),
        created_at=Timestamp.from_ns(raw["created_at"]),
        updated_at=Timestamp.from_ns(raw["updated_at"]),
        version=raw["version"],
    )


def typedef_from_candid(raw: dict) -> TypeDef:
    fields = [
        FieldDef(
            name=f["name"],
            kind=_tag(f["kind"]),
            required=f["required"],
            default=from_value(f["default"][0]) if f["default"] else None,
            min=_opt(f["min"]),
            max=_opt(f["max"]),
            indexed=f["indexed"],
        )
        for f in raw["fields"]
    ]
    relations = [
        RelationDef(
            name=r["name"],
            kind=_tag(r["kind"]),
            target=r["target"],
            reverse=r["reverse"],
            on_delete=_tag(r["on_delete"]),
        )
        for r in raw["relations"]
    ]
    policy = raw["policy"]
    return TypeDef(
        name=raw["name"],
        fields=fields,
        alias=_opt(raw["alias"]),
        relations=relations,
        policy=Policy(
            read=_tag(policy["read"]),
            create=_tag(policy["create"]),
            modify=_tag(policy["modify"]),
            delete=_tag(policy["delete"]),
            certified=_opt(policy.get("certified", [])) is True,
        ),
    )


def typedef_to_candid(typedef: TypeDef) -> dict:
    """The Candid TypeDef record; raise ValueError on an unknown kind or access level."""

    def opt_float(value: float | None) -> list:
        return [] if value is None else [float(value)]

    fields = [
        {
            "name": f.name,
            "kind": {_choice(f.kind, FIELD_KINDS, "field kind"): None},
            "required": bool(f.required),
            "default": [] if f.default is None else [to_value(f.default)],
            "min": opt_float(f.min),
            "max": opt_float(f.max),
            "indexed": bool(f.indexed),
        }
        for f in typedef.fields
    ]
    relations = [
        {
            "name": r.name,
            "kind": {_choice(r.kind, RELATION_KINDS, "relation kind"): None},
            "target": r.target,
            "reverse": r.reverse,
            "on_delete": {_choice(r.on_delete, ON_DELETE, "on_delete"): None},
        }
        for r in typedef.relations
    ]
    p = typedef.policy
    policy = {
        "read": {_choice(p.read, READ_ACCESS, "read access"): None},
        "create": {_choice(p.create, CREATE_ACCESS, "create access"): None},
        "modify": {_choice(p.modify, WRITE_ACCESS, "modify access"): None},
        "delete": {_choice(p.delete, WRITE_ACCESS, "delete access"): None},
        "certified": [True] if p.certified else [],
    }
    return {
        "name": typedef.name,
        "fields": fields,
        "alias": [] if typedef.alias is None else [typedef.alias],
        "relations": relations,
        "policy": policy,
    }


def typedef_from_dict(data: dict) -> TypeDef:
    """A TypeDef from plain JSON/YAML data (the CLI's define-type file format); raise ValueError."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError("a type definition is a mapping with at least a `name`")
    unknown = set(data) - {"name", "fields", "alias", "relations", "policy"}
    if unknown:
        raise ValueError(f"unknown keys in the type definition: {', '.join(sorted(unknown))}")
    try:
        fields = [FieldDef(**f) for f in data.get("fields") or []]
        relations = [RelationDef(**r) for r in data.get("relations") or []]
        policy = Policy(**(data.get("policy") or {}))
    except TypeError as exc:
        raise ValueError(f"bad type definition: {exc}") from exc
    typedef = TypeDef(
        name=data["name"], fields=fields, alias=data.get("alias"), relations=relations, policy=policy
    )
    typedef_to_candid(typedef)  # validates kinds and access levels early
    return typedef


def audit_from_candid(raw: dict) -> AuditEntry:
    return AuditEntry(
        seq=raw["seq"],
        time=Timestamp.from_ns(raw["time"]),
        caller=raw["caller"],
        operation=raw["operation"],
        type_name=raw["type_name"],
        id=raw["id"],
        changes=from_fields(raw["changes"]),
    )


def stats_from_candid(raw: dict) -> Stats:
    return Stats(
        types={t["type_name"]: t["count"] for t in raw["types"]},
        entities=raw["entities"],
        audit_length=raw["audit_length"],
        stable_memory_bytes=raw["stable_memory_bytes"],
    )
