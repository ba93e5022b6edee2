"""Plain, typed objects for what the canister stores and returns (entities, schema, audit, stats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .principal import Principal
from .values import Timestamp

FIELD_KINDS = ("Text", "Int", "Float", "Bool", "Principal", "Timestamp")
RELATION_KINDS = ("OneToOne", "OneToMany", "ManyToOne", "ManyToMany")
ON_DELETE = ("SetNull", "Cascade", "Restrict")
READ_ACCESS = ("Public", "Owner", "Admins")
CREATE_ACCESS = ("Anyone", "Admins")
WRITE_ACCESS = ("Owner", "Admins")

T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    """A to-one relation of an entity: the target type and id (None when unset)."""

    relation: str
    target_type: str
    target_id: int | None


@dataclass(frozen=True)
class Entity:
    """One stored entity: its declared fields (None when unset), to-one refs and metadata."""

    type_name: str
    id: int
    fields: dict[str, Any]
    refs: dict[str, Ref]
    owner: Principal
    creator: Principal
    updater: Principal
    created_at: Timestamp
    updated_at: Timestamp
    version: int

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


@dataclass(frozen=True)
class FieldDef:
    """A declared field: `kind` is one of FIELD_KINDS (case-insensitive on input)."""

    name: str
    kind: str
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    indexed: bool = False


@dataclass(frozen=True)
class RelationDef:
    """A declared relation to `target`; the canister declares `reverse` on the target."""

    name: str
    kind: str
    target: str
    reverse: str
    on_delete: str = "SetNull"


@dataclass(frozen=True)
class Policy:
    """Who may read, create, modify and delete entities of a type."""

    read: str = "Public"
    create: str = "Anyone"
    modify: str = "Owner"
    delete: str = "Owner"
    certified: bool = False  # entities get Merkle proofs: SimpleDB.get(..., verify=True)


@dataclass(frozen=True)
class TypeDef:
    """A type's schema: qualified name ("namespace::Name"), fields, alias field, relations, policy."""

    name: str
    fields: list[FieldDef] = field(default_factory=list)
    alias: str | None = None
    relations: list[RelationDef] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change: who did which operation to which entity, and the new field values."""

    seq: int
    time: Timestamp
    caller: str
    operation: str
    type_name: str
    id: int
    changes: dict[str, Any]


@dataclass(frozen=True)
class Stats:
    """Entities per type, total entities, audit length and the stable-memory estimate."""

    types: dict[str, int]
    entities: int
    audit_length: int
    stable_memory_bytes: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next page (None on the last one)."""

    items: list[T]
    next: Any = None
