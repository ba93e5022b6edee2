"""The IC's representation-independent hash of a request's `content` map (its request id)."""

from __future__ import annotations

import hashlib
from typing import Any

import leb128


def hash_value(value: Any) -> bytes:
    """SHA-256 of one value: blobs raw, text UTF-8, nats ULEB128, arrays and maps recursively."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, bool):
        raise TypeError("booleans have no representation-independent hash")
    elif isinstance(value, int):
        if value < 0:
            raise TypeError("only natural numbers can be hashed")
        data = bytes(leb128.u.encode(value))
    elif isinstance(value, list | tuple):
        data = b"".join(hash_value(item) for item in value)
    elif isinstance(value, dict):
        return hash_map(value)
    else:
        raise TypeError(f"cannot hash {type(value).__name__}")
    return hashlib.sha256(data).digest()


def hash_map(content: dict) -> bytes:
    """SHA-256 over the sorted concatenation of H(key) || H(value); None values count as absent."""
    pairs = sorted(
        hashlib.sha256(key.encode() if isinstance(key, str) else key).digest() + hash_value(value)
        for key, value in content.items()
        if value is not None
    )
    return hashlib.sha256(b"".join(pairs)).digest()


def request_id(content: dict) -> bytes:
    """The 32-byte request id of a request's content."""
    return hash_map(content)
