"""The IC's representation-independent hash of a request's `content` map (its request id).

One implementation for both sides: the client signs with it and localnet checks with it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import leb128


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_value(value: object) -> bytes:
    """SHA-256 of one value: blobs raw, text UTF-8, integers LEB128 (signed ones SLEB128), arrays and
    maps recursively."""
    if isinstance(value, bool):
        raise TypeError("booleans have no representation-independent hash")
    if isinstance(value, bytes | bytearray | memoryview):
        return _sha256(bytes(value))
    if isinstance(value, str):
        return _sha256(value.encode())
    if isinstance(value, int):
        encoded = leb128.u.encode(value) if value >= 0 else leb128.i.encode(value)
        return _sha256(bytes(encoded))
    if isinstance(value, list | tuple):
        return _sha256(b"".join(hash_value(item) for item in value))
    if isinstance(value, Mapping):
        return hash_map(value)
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def _key_bytes(key: object) -> bytes:
    """A map key as bytes: text UTF-8, blobs raw (an integer key would be `bytes(n)`, n zero bytes)."""
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key)
    raise TypeError(f"a map key must be text or a blob, not {type(key).__name__}")


def hash_map(fields: Mapping) -> bytes:
    """SHA-256 over the sorted `H(key) || H(value)` pairs of a map; None values count as absent."""
    pairs = sorted(
        _sha256(_key_bytes(key)) + hash_value(value) for key, value in fields.items() if value is not None
    )
    return _sha256(b"".join(pairs))


def request_id(content: Mapping) -> bytes:
    """The 32-byte request id of a request's content."""
    return hash_map(content)
