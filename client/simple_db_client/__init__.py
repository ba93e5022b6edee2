"""Python client of the Kybra Simple DB canister: `SimpleDB(url, canister_id, identity)`."""

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

__all__ = [
    "AsyncSimpleDB",
    "AuditEntry",
    "CanisterError",
    "CertificateError",
    "Conflict",
    "Create",
    "Delete",
    "Ed25519Identity",
    "Entity",
    "FieldDef",
    "Forbidden",
    "Identity",
    "Invalid",
    "Limit",
    "Link",
    "NotFound",
    "P256Identity",
    "Page",
    "Policy",
    "Principal",
    "Ref",
    "RejectError",
    "RelationDef",
    "Secp256k1Identity",
    "SimpleDB",
    "SimpleDBError",
    "Stats",
    "Timestamp",
    "Transfer",
    "Upsert",
    "QueryPage",
    "TransportError",
    "TypeDef",
    "Unauthenticated",
    "Unlink",
    "Update",
    "from_pem",
    "from_pem_file",
    "from_seed_phrase",
    "load_identity",
]
