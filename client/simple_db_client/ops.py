"""Operations for `SimpleDB.batch`: build them with these classes; the batch runs all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .principal import Principal
from .values import to_fields, to_value


@dataclass(frozen=True)
class Create:
    type_name: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_candid(self) -> dict:
        return {"Create": {"type_name": self.type_name, "fields": to_fields(self.fields)}}


@dataclass(frozen=True)
class Update:
    type_name: str
    id: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    expected_version: int | None = None

    def to_candid(self) -> dict:
        expected = [] if self.expected_version is None else [self.expected_version]
        return {
            "Update": {
                "type_name": self.type_name,
                "id": self.id,
                "fields": to_fields(self.fields),
                "expected_version": expected,
            }
        }


@dataclass(frozen=True)
class Delete:
    type_name: str
    id: int

    def to_candid(self) -> dict:
        return {"Delete": {"type_name": self.type_name, "id": self.id}}


@dataclass(frozen=True)
class Link:
    type_name: str
    id: int
    relation: str
    target_id: int

    def to_candid(self) -> dict:
        return {
            type(self).__name__: {
                "type_name": self.type_name,
                "id": self.id,
                "relation": self.relation,
                "target_id": self.target_id,
            }
        }


@dataclass(frozen=True)
class Unlink(Link):
    pass


@dataclass(frozen=True)
class Transfer:
    type_name: str
    id: int
    owner: Principal | str

    def to_candid(self) -> dict:
        return {
            "Transfer": {
                "type_name": self.type_name,
                "id": self.id,
                "owner": Principal.of(self.owner).to_str(),
            }
        }


@dataclass(frozen=True)
class Upsert:
    """Create the entity whose alias field has value `alias`, or update its fields."""

    type_name: str
    alias: Any
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_candid(self) -> dict:
        return {
            "Upsert": {
                "type_name": self.type_name,
                "alias": to_value(self.alias),
                "fields": to_fields(self.fields),
            }
        }


Op = Create | Update | Delete | Link | Unlink | Transfer | Upsert
