"""Kybra Simple DB: an entity database for Kybra canisters over StableBTreeMap-like storage.

Same API as the seed `kybra-simple-db`, with O(1) storage work per operation, all-or-nothing
operations and transactions, restored ownership metadata and a persistent audit log.
"""

from .context import get_caller_id, set_caller_id, swap_caller
from .db_constants import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_MODIFY,
    CASCADE,
    RESTRICT,
    SET_NULL,
)
from .db_engine import Database
from .db_entity import Entity, normalize_id
from .db_errors import (
    ConflictError,
    DatabaseError,
    DuplicateIdError,
    HookRejected,
    NotFoundError,
    PermissionDenied,
    StorageLimitError,
    ValidationError,
)
from .db_fields import Boolean, Float, Integer, Principal, Property, String, Timestamp
from .db_relations import ManyToMany, ManyToOne, OneToMany, OneToOne, Relation
from .entity_query import Query, QueryPage
from .link_view import LinkSet
from .memory_map import CountingMap, MemoryMap, MemoryStorage
from .mixins import TimestampedMixin
from .storage_contract import KeyValueMap, Storage
from .system_time import SystemTime
from .type_registry import Batch as DefinitionBatch
from .type_registry import all_types as registered_types
from .type_registry import find as find_type

__version__ = "1.0.0"
__all__ = [
    "ACTION_CREATE", "ACTION_DELETE", "ACTION_MODIFY", "CASCADE", "RESTRICT", "SET_NULL",
    "Boolean", "ConflictError", "CountingMap", "Database", "DatabaseError", "DuplicateIdError", "Entity",
    "Float", "HookRejected", "Integer", "KeyValueMap", "LinkSet", "ManyToMany", "ManyToOne", "MemoryMap",
    "MemoryStorage", "NotFoundError", "OneToMany", "OneToOne", "PermissionDenied", "Principal", "Property",
    "Query", "QueryPage", "Relation", "Storage", "StorageLimitError", "String", "SystemTime", "Timestamp",
    "TimestampedMixin", "ValidationError", "find_type", "DefinitionBatch",
    "get_caller_id", "normalize_id", "registered_types", "set_caller_id",
    "swap_caller",
]
