"""A Principal that compares and hashes by value and rejects malformed text (ic-py's does neither)."""

from __future__ import annotations

import zlib

from ic.principal import Principal as _IcPrincipal

from ic_protocol import principal as principal_text

ANONYMOUS_BYTES = principal_text.ANONYMOUS


class Principal(_IcPrincipal):
    """An IC principal: `Principal.from_text("2vxsx-fae")`, `str(p)`, `p.bytes`."""

    def __init__(self, raw: bytes = b""):
        if len(raw) > 29:
            raise ValueError(f"a principal has at most 29 bytes, got {len(raw)}")
        super().__init__(bytes=bytes(raw))

    @classmethod
    def from_text(cls, text: str) -> Principal:
        """Parse the textual form (any letter case), checking its CRC32 and grouping; raise ValueError
        if malformed."""
        return cls(principal_text.from_text(text))

    from_str = from_text

    @classmethod
    def of(cls, value: object) -> Principal:
        """Coerce text, bytes or any ic-py Principal to this class."""
        if isinstance(value, cls):
            return value
        if isinstance(value, _IcPrincipal):
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

    @property
    def is_anonymous(self) -> bool:
        return self.bytes == ANONYMOUS_BYTES

    def to_text(self) -> str:
        return self.to_str()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _IcPrincipal) and self.bytes == other.bytes

    def __hash__(self) -> int:
        return zlib.crc32(self.bytes)

    def __repr__(self) -> str:
        return f"Principal({self.to_str()!r})"
