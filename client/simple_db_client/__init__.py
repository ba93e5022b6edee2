# ruff: noqa: F401 - the TYPE_CHECKING imports at the end are for type checkers only
"""Python client of the Kybra Simple DB canister: `SimpleDB(url, canister_id, identity)`.

Names load on first use (PEP 562), so `import simple_db_client` and `simpledb --help` stay fast: httpx,
ic-py, pyblst and cryptography are imported only when a client, a key or a call needs them. A new public
name goes in `_SOURCES` (and in the TYPE_CHECKING imports below, for type checkers)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SOURCES = {
    "AsyncSimpleDB": "async_client",
    "AuditEntry": "models",
    "CanisterError": "errors",
    "CertificateError": "errors",
    "Conflict": "errors",
    "Create": "ops",
    "Delete": "ops",
    "Ed25519Identity": "identity",
    "Entity": "models",
    "FieldDef": "models",
    "Forbidden": "errors",
    "Identity": "identity",
    "Invalid": "errors",
    "Limit": "errors",
    "Link": "ops",
    "NotFound": "errors",
    "P256Identity": "identity",
    "Page": "models",
    "Policy": "models",
    "Principal": "principal",
    "QueryPage": "query_methods",
    "Ref": "models",
    "RejectError": "errors",
    "RelationDef": "models",
    "Secp256k1Identity": "identity",
    "SimpleDB": "client",
    "SimpleDBError": "errors",
    "Stats": "models",
    "Timestamp": "values",
    "Transfer": "ops",
    "TransportError": "errors",
    "TypeDef": "models",
    "Unauthenticated": "errors",
    "Unlink": "ops",
    "Update": "ops",
    "Upsert": "ops",
    "from_pem": "identity",
    "from_pem_file": "identity",
    "from_seed_phrase": "identity",
    "load_identity": "identity",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .async_client import AsyncSimpleDB
    from .client import SimpleDB
    from .errors import (
        CanisterError,
        CertificateError,
        Conflict,
        Forbidden,
        Invalid,
        Limit,
        NotFound,
        RejectError,
        SimpleDBError,
        TransportError,
        Unauthenticated,
    )
    from .identity import (
        Ed25519Identity,
        Identity,
        P256Identity,
        Secp256k1Identity,
        from_pem,
        from_pem_file,
        from_seed_phrase,
        load_identity,
    )
    from .models import AuditEntry, Entity, FieldDef, Page, Policy, Ref, RelationDef, Stats, TypeDef
    from .ops import Create, Delete, Link, Transfer, Unlink, Update, Upsert
    from .principal import Principal
    from .query_methods import QueryPage
    from .values import Timestamp
