"""Exceptions raised by the client: one class per canister `Error` kind, plus transport failures."""

from __future__ import annotations

from ic_protocol import errors as protocol_errors


class SimpleDBError(Exception):
    """Base class of every error this package raises."""


class CanisterError(SimpleDBError):
    """The canister answered with `Err`: the operation was refused and changed nothing."""

    kind = "Error"

    def __init__(self, message: str):
        super().__init__(f"{self.kind}: {message}")
        self.message = message


class NotFound(CanisterError):
    kind = "NotFound"


class Forbidden(CanisterError):
    kind = "Forbidden"


class Unauthenticated(CanisterError):
    kind = "Unauthenticated"


class Invalid(CanisterError):
    kind = "Invalid"


class Conflict(CanisterError):
    kind = "Conflict"


class Limit(CanisterError):
    kind = "Limit"


ERROR_KINDS: dict[str, type[CanisterError]] = {
    cls.kind: cls for cls in (NotFound, Forbidden, Unauthenticated, Invalid, Conflict, Limit)
}


def canister_error(err: dict) -> CanisterError:
    """Build the exception for a decoded Candid `Error` variant (a one-key dict)."""
    ((kind, message),) = err.items()
    return ERROR_KINDS.get(kind, CanisterError)(str(message))


class TransportError(SimpleDBError):
    """No valid answer: network failure, HTTP error, malformed reply or timeout."""


class CertificateError(TransportError, protocol_errors.CertificateError):
    """A reply's certificate (signature, hash tree, time, delegation, canister range) or a query's node
    signature is bad or malformed."""


class RejectError(SimpleDBError):
    """The IC rejected the call (the canister trapped, the method does not exist, ...)."""

    def __init__(self, code: int, message: str, error_code: str | None = None):
        text = f"rejected (code {code}{', ' + error_code if error_code else ''}): {message}"
        super().__init__(text)
        self.code = code
        self.reject_message = message
        self.error_code = error_code
