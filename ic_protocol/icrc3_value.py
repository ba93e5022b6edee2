"""The representation-independent hash of ICRC-3 `Value`s, to verify ICRC-3 blocks and certified entities.

Values are as ic-py decodes the Candid `Value` variant: {"Nat": int}, {"Int": int}, {"Text": str},
{"Blob": bytes or list of ints}, {"Array": [Value]}, {"Map": [(key, Value)]}.
"""

from __future__ import annotations

import hashlib

import leb128


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _pair(item) -> tuple:
    """A Map entry as ic-py gives it: a tuple/list (key, value) or a record {"0"/"_0_": key, ...}."""
    if isinstance(item, dict):
        values = list(item.values())
        return values[0], values[1]
    return item[0], item[1]


def value_hash(value: dict) -> bytes:
    """The 32-byte hash of a Value; ValueError on anything that is not a Value."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("a Value is a variant with exactly one case")
    ((tag, payload),) = value.items()
    if tag == "Text":
        return _sha256(payload.encode("utf-8"))
    if tag == "Blob":
        return _sha256(bytes(payload))
    if tag == "Nat":
        if payload < 0:
            raise ValueError("a Nat cannot be negative")
        return _sha256(bytes(leb128.u.encode(payload)))
    if tag == "Int":
        return _sha256(bytes(leb128.i.encode(payload)))
    if tag == "Array":
        return _sha256(b"".join(value_hash(item) for item in payload))
    if tag == "Map":
        hashed = []
        for item in payload:
            key, inner = _pair(item)
            hashed.append(_sha256(key.encode("utf-8")) + value_hash(inner))
        return _sha256(b"".join(sorted(hashed)))
    raise ValueError(f"unknown Value case {tag!r}")
