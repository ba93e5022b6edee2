"""The canister's error vocabulary: ApiError (one Candid `Error` case and a message) and the mapping of
engine exceptions onto it, so user input always ends in an `Err`, never a trap."""

from typing import Optional

ERROR_KINDS = ("NotFound", "Forbidden", "Unauthenticated", "Invalid", "Conflict", "Limit")


class ApiError(Exception):
    """A refusal the caller sees as `Err`: `kind` is a case of the Candid `Error` variant."""

    def __init__(self, kind: str, message: str):
        if kind not in ERROR_KINDS:
            raise ValueError("unknown error kind " + kind)
        super().__init__(message)
        self.kind = kind
        self.message = message

    def variant(self) -> dict:
        """The Candid `Error` value."""
        return {self.kind: self.message}


def not_found(message: str) -> ApiError:
    return ApiError("NotFound", message)


def forbidden(message: str) -> ApiError:
    return ApiError("Forbidden", message)


def unauthenticated(message: str) -> ApiError:
    return ApiError("Unauthenticated", message)


def invalid(message: str) -> ApiError:
    return ApiError("Invalid", message)


def conflict(message: str) -> ApiError:
    return ApiError("Conflict", message)


def limit(message: str) -> ApiError:
    return ApiError("Limit", message)


# Engine exception class names (kybra_simple_db.errors) -> Error case. Matched by name along the MRO so
# this module does not depend on the engine's import layout; the builtin bases are the fallback.
_BY_CLASS_NAME = (
    ("NotFoundError", "NotFound"),
    ("EntityNotFound", "NotFound"),
    ("ConflictError", "Conflict"),
    ("VersionConflict", "Conflict"),
    ("DuplicateAliasError", "Conflict"),
    ("AliasConflict", "Conflict"),
    ("RestrictError", "Conflict"),
    ("StorageLimitError", "Limit"),
    ("LimitError", "Limit"),
    ("PermissionError", "Forbidden"),
    ("ValidationError", "Invalid"),
    ("ValueError", "Invalid"),
    ("TypeError", "Invalid"),
    ("KeyError", "NotFound"),
    ("LookupError", "NotFound"),
)


def from_exception(exc: BaseException) -> Optional[ApiError]:
    """The ApiError for an engine or validation exception, or None for one that is a bug (let it trap)."""
    if isinstance(exc, ApiError):
        return exc
    names = [cls.__name__ for cls in type(exc).__mro__]
    for class_name, kind in _BY_CLASS_NAME:
        if class_name in names:
            return ApiError(kind, exception_text(exc))
    return None


def exception_text(exc: BaseException) -> str:
    """A readable message: KeyError's repr quotes are dropped."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    text = str(exc)
    return text if text else type(exc).__name__
