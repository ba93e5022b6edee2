"""Schema descriptors of the entity classes, their differences, and the upgrade check (ic-python-db's
`schema` module: `build_schema`, `diff_schemas`, `schema_hash`, `check_upgrade_compatibility`).

A descriptor is plain JSON: {type: {"version", "fields": {name: {"type", "kind", "default"?,
"constraints"?}}, "relationships": {name: {"type", "target", "inverse", "many", "kind"}},
"has_migrate"?}}. The stored one lives in the plain document `_system@_schema` with its hash in
`_system@_schema_hash`; `check_upgrade_compatibility` (call it from post_upgrade) refuses breaking
changes of classes that do not override `migrate`.
"""

import hashlib
import json
from typing import Any, Optional

from . import relation_union, type_registry

_BOUNDS = ("min_length", "max_length", "min_value", "max_value")


class ChangeType:
    """The kinds of change (`.value` is the original's text)."""

    def __init__(self, value: str):
        self.value = value
        self.name = value.upper()

    def __repr__(self) -> str:
        return "ChangeType." + self.name


for _name in ("added", "removed", "type_changed", "default_changed", "constraints_changed",
              "relationship_changed", "entity_added", "entity_removed", "version_changed"):
    setattr(ChangeType, _name.upper(), ChangeType(_name))


class SchemaChange:
    """One difference between two descriptors; `safe` when old data still loads without `migrate`."""

    def __init__(self, entity_type: str, field: Optional[str], change_type: ChangeType, old_value=None,
                 new_value=None, safe: bool = False, reason: str = ""):
        self.entity_type = entity_type
        self.field = field
        self.change_type = change_type
        self.old_value = old_value
        self.new_value = new_value
        self.safe = safe
        self.reason = reason

    def __repr__(self) -> str:
        where = self.entity_type + ("." + self.field if self.field else "")
        return f"SchemaChange({where}: {self.change_type.value}, safe={self.safe})"


class SchemaIncompatibleError(Exception):
    """An upgrade changes a schema in a breaking way for a class without `migrate()`."""


def build_field_descriptor(prop) -> dict[str, Any]:
    """The descriptor of one field."""
    out = {"type": type(prop).__name__, "kind": "property"}
    if prop.default is not None:
        out["default"] = prop.default
    constraints = {name: getattr(prop, name) for name in _BOUNDS if getattr(prop, name, None) is not None}
    if constraints:
        out["constraints"] = constraints
    return out


def _has_custom_migrate(entity_cls) -> bool:
    """True when the class (or a base other than Entity) overrides `migrate`."""
    from .db_entity import Entity
    return getattr(entity_cls.migrate, "__func__", None) is not Entity.migrate.__func__


def build_schema(entity_types: dict[str, Any]) -> dict[str, Any]:
    """Descriptors of the given {type name: class} (declared fields and relations)."""
    out = {}
    for type_name in sorted(entity_types):
        cls = entity_types[type_name]
        entry = {"version": cls.__version__,
                 "fields": {name: build_field_descriptor(prop) for name, prop in cls.__fields__.items()},
                 "relationships": {}}
        for rel in relation_union.declared(cls):
            if rel.implicit:
                continue
            target = list(rel.targets) if rel.targets is not None else rel.target
            entry["relationships"][rel.name] = {"type": rel.kind, "target": target,
                                                "inverse": rel.public_reverse(), "many": rel.to_many,
                                                "kind": "relationship"}
        if _has_custom_migrate(cls):
            entry["has_migrate"] = True
        out[type_name] = entry
    return out


def schema_hash(schema: dict[str, Any]) -> str:
    """SHA-256 (hex) of the descriptor's canonical JSON."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _diff_fields(type_name: str, old: dict, new: dict) -> list[SchemaChange]:
    out = []
    for name, desc in new.items():
        before = old.get(name)
        if before is None:
            safe = desc.get("default") is not None
            out.append(SchemaChange(type_name, name, ChangeType.ADDED, None, desc, safe,
                                    "" if safe else "Field added without a default"))
        elif before.get("type") != desc.get("type"):
            out.append(SchemaChange(type_name, name, ChangeType.TYPE_CHANGED, before.get("type"),
                                    desc.get("type"), False,
                                    f"Type changed from {before.get('type')} to {desc.get('type')}"))
        elif (before.get("constraints") or {}) != (desc.get("constraints") or {}):
            out.append(SchemaChange(type_name, name, ChangeType.CONSTRAINTS_CHANGED,
                                    before.get("constraints"), desc.get("constraints"), True))
        elif before.get("default") != desc.get("default"):
            out.append(SchemaChange(type_name, name, ChangeType.DEFAULT_CHANGED, before.get("default"),
                                    desc.get("default"), True))
    for name, before in old.items():
        if name not in new:
            out.append(SchemaChange(type_name, name, ChangeType.REMOVED, before, None, True))
    return out


def _diff_relations(type_name: str, old: dict, new: dict) -> list[SchemaChange]:
    out = []
    for name, desc in new.items():
        before = old.get(name)
        if before is None:
            out.append(SchemaChange(type_name, name, ChangeType.ADDED, None, desc, True))
        elif before.get("type") != desc.get("type") or before.get("target") != desc.get("target"):
            out.append(SchemaChange(type_name, name, ChangeType.RELATIONSHIP_CHANGED, before, desc, False,
                                    f"Relationship changed from {before.get('type')} {before.get('target')}"
                                    f" to {desc.get('type')} {desc.get('target')} (breaking)"))
    for name, before in old.items():
        if name not in new:
            out.append(SchemaChange(type_name, name, ChangeType.REMOVED, before, None, True))
    return out


def diff_schemas(old: dict[str, Any], new: dict[str, Any]) -> list[SchemaChange]:
    """Every change from descriptor `old` to `new`."""
    out = []
    for type_name, entry in new.items():
        before = old.get(type_name)
        if before is None:
            out.append(SchemaChange(type_name, None, ChangeType.ENTITY_ADDED, None, entry, True))
            continue
        if before.get("version") != entry.get("version"):
            out.append(SchemaChange(type_name, None, ChangeType.VERSION_CHANGED, before.get("version"),
                                    entry.get("version"), True))
        out.extend(_diff_fields(type_name, before.get("fields") or {}, entry.get("fields") or {}))
        out.extend(_diff_relations(type_name, before.get("relationships") or {},
                                   entry.get("relationships") or {}))
    for type_name, before in old.items():
        if type_name not in new:
            out.append(SchemaChange(type_name, None, ChangeType.ENTITY_REMOVED, before, None, True))
    return out


def check_upgrade_compatibility(db, raise_on_error: bool = True) -> list[SchemaChange]:
    """Compare the stored descriptor with the current classes; refuse (SchemaIncompatibleError)
    breaking changes of classes without `migrate()`; then store the current descriptor."""
    stored = db.load("_system", "_schema")
    current = db.build_schema_from_entities()
    changes = [] if stored is None else diff_schemas(stored, current)
    blocking = []
    for change in changes:
        cls = type_registry.find(change.entity_type)
        if not change.safe and not (cls is not None and _has_custom_migrate(cls)):
            blocking.append(change)
    if blocking and raise_on_error:
        details = "; ".join(f"{c.entity_type}.{c.field}: {c.reason}" for c in blocking)
        raise SchemaIncompatibleError(f"Upgrade rejected: {len(blocking)} breaking change(s) without a "
                                      f"migrate() method: {details}")
    db.save_schema(current)
    return changes


class SchemaUpgrades:
    """The schema methods of `Database` (a mixin)."""

    def build_schema_from_entities(self) -> dict[str, Any]:
        """The descriptor of every registered entity class."""
        return build_schema({name: type_registry.find(name) for name in type_registry.all_types()})

    def get_schema_hash(self) -> Optional[str]:
        """The stored descriptor's hash, or None before the first `save_schema`."""
        return self.load("_system", "_schema_hash")

    def save_schema(self, schema: Optional[dict[str, Any]] = None) -> None:
        """Store the current descriptor (or `schema`) and its hash."""
        if schema is None:
            schema = self.build_schema_from_entities()
        with self.operation():
            self.save("_system", "_schema", schema)
            self.save("_system", "_schema_hash", schema_hash(schema))

    def check_upgrade_compatibility(self, raise_on_error: bool = True) -> list[SchemaChange]:
        """See `check_upgrade_compatibility` in this module."""
        return check_upgrade_compatibility(self, raise_on_error)
