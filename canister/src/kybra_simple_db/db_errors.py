"""The engine's exception hierarchy, so callers (e.g. a canister) can map failures to error variants."""


class DatabaseError(Exception):
    """Base class of every error the engine raises on purpose."""


class ValidationError(DatabaseError, ValueError):
    """A value, field name, type name or argument is not acceptable (also a ValueError)."""


class RelationValueError(ValidationError, TypeError):
    """A relation was given something that is not an entity, an id or a list of them (also a
    TypeError, as in the original)."""


class HookRejected(ValidationError):
    """An `on_event` hook rejected a create or a modification (a ValueError, as HOOKS.md says)."""


class PermissionDenied(DatabaseError, PermissionError):
    """The operation is not allowed, e.g. a hook rejected a deletion (also a PermissionError)."""


class NotFoundError(DatabaseError, LookupError):
    """An entity, type, relation or record does not exist (also a LookupError)."""


class UnknownTargetError(NotFoundError, ValueError):
    """A relation value (id, text id or alias) names no entity of the target type (also a
    ValueError, as in the original)."""


class UnknownTypeError(NotFoundError, ValueError):
    """No entity class is registered under the type name (also a ValueError, as in the original)."""


class ConflictError(DatabaseError):
    """The operation conflicts with stored state: duplicate alias, stale version, restricted delete."""


class DuplicateIdError(ConflictError, ValueError):
    """An entity with the chosen id already exists (also a ValueError, as in the original)."""


class StorageLimitError(DatabaseError):
    """A key or value does not fit the storage's fixed maximum sizes; nothing was written."""
