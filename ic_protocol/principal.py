"""Principals: their textual form (CRC-32 checksum, base32, groups of five) and the special classes.

Text is parsed case-insensitively, as the interface specification says; `to_text` always writes the
canonical lower-case form."""

from __future__ import annotations

import base64
import hashlib
import zlib

MAX_PRINCIPAL_BYTES = 29
ANONYMOUS = b"\x04"
MANAGEMENT_CANISTER = b""


def to_text(raw: bytes) -> str:
    """The canonical text of a principal's bytes, e.g. "aaaaa-aa" for the management canister."""
    checksum = (zlib.crc32(raw) & 0xFFFFFFFF).to_bytes(4, "big")
    encoded = base64.b32encode(checksum + raw).decode().lower().rstrip("=")
    return "-".join(encoded[i : i + 5] for i in range(0, len(encoded), 5))


def from_text(text: str) -> bytes:
    """The bytes of a principal in text form (any letter case); ValueError if it is not one, naming
    whether the checksum or the grouping is wrong."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a principal: {text!r}")
    compact = text.replace("-", "").upper()
    try:
        decoded = base64.b32decode(compact + "=" * (-len(compact) % 8))
    except ValueError as exc:
        raise ValueError(f"not a principal: {text!r}") from exc
    if len(decoded) < 4 or len(decoded) - 4 > MAX_PRINCIPAL_BYTES:
        raise ValueError(f"not a principal: {text!r}")
    raw = decoded[4:]
    if to_text(raw) != text.lower():
        raise ValueError(f"not a principal in canonical form (checksum or grouping is wrong): {text!r}")
    return raw


def self_authenticating(der_public_key: bytes) -> bytes:
    """The principal a DER public key authenticates: sha224(key) followed by 0x02."""
    return hashlib.sha224(der_public_key).digest() + b"\x02"
