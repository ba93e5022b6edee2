"""A Principal that compares and hashes by value and rejects malformed text (ic-py's does neither).

It does not import ic-py (whose package import costs about a third of a second); ic-py's own
Principal objects (from Candid decoding) are still accepted wherever a principal is."""

from __future__ import annotations

import sys
import zlib

from ic_protocol import principal as principal_text

ANONYMOUS_BYTES = principal_text.ANONYMOUS


def _ic_principal_class() -> type | None:
    """ic-py's Principal class if ic-py is loaded (if it is not, none of its principals exist)."""
    module = sys.modules.get("ic.principal")
    return getattr(module, "Principal", None)


def is_principal(value: object) -> bool:
    """Whether `value` is a Principal of this package or of ic-py."""
    if isinstance(value, Principal):
        return True
    ic_class = _ic_principal_class()
    return ic_class is not None and isinstance(value, ic_class)


class Principal:
    """An IC principal: `Principal.from_text("2vxsx-fae")`, `str(p)`, `p.bytes`."""

    __slots__ = ("_bytes",)

    def __init__(self, raw: bytes = b""):
        if not isinstance(raw, bytes | bytearray):
            raise TypeError(f"a principal is made from bytes, not {type(raw).__name__}")
        if len(raw) > principal_text.MAX_PRINCIPAL_BYTES:
            raise ValueError(f"a principal has at most 29 bytes, got {len(raw)}")
        self._bytes = bytes(raw)

    @property
    def bytes(self) -> bytes:
        return self._bytes

    @classmethod
    def from_text(cls, text: str) -> Principal:
        """Parse the textual form (any letter case), checking its CRC32 and grouping; raise ValueError
        if malformed."""
        return cls(principal_text.from_text(text))

    from_str = from_text

    @classmethod
    def from_hex(cls, text: str) -> Principal:
        return cls(bytes.fromhex(text))

    @classmethod
    def of(cls, value: object) -> Principal:
        """Coerce text, bytes, or any Principal (this package's or ic-py's) to this class."""
        if isinstance(value, cls):
            return value
        if is_principal(value):
            return cls(value.bytes)
        if isinstance(value, bytes | bytearray):
            return cls(bytes(value))
        if isinstance(value, str):
            return cls.from_text(value)
        raise TypeError(f"not a principal: {value!r}")

    @classmethod
    def self_authenticating(cls, der_public_key: bytes) -> Principal:
        """The principal of a public key: sha224(DER key) followed by 0x02."""
        return cls(principal_text.self_authenticating(der_public_key))

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(ANONYMOUS_BYTES)

    @classmethod
    def management_canister(cls) -> Principal:
        return cls(b"")

    @property
    def is_anonymous(self) -> bool:
        return self._bytes == ANONYMOUS_BYTES

    @property
    def len(self) -> int:
        return len(self._bytes)

    @property
    def isPrincipal(self) -> bool:  # noqa: N802 - ic-py's name, kept for code written against it
        return True

    def to_text(self) -> str:
        return principal_text.to_text(self._bytes)

    to_str = to_text

    def __str__(self) -> str:
        return self.to_text()

    def __eq__(self, other: object) -> bool:
        return is_principal(other) and self._bytes == other.bytes

    def __hash__(self) -> int:
        return zlib.crc32(self._bytes)

    def __repr__(self) -> str:
        return f"Principal({self.to_text()!r})"
