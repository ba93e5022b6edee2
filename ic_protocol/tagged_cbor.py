"""CBOR with the self-describe tag 55799, as every IC HTTP reply and certified CBOR value carries."""

from __future__ import annotations

import cbor2

SELF_DESCRIBE_TAG = 55799


def dumps_tagged(value: object) -> bytes:
    """`value` as CBOR wrapped in the self-describe tag."""
    return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, value))


def loads(raw: bytes) -> object:
    """Decode CBOR, dropping a leading self-describe tag (cbor2 does this itself; the check makes it
    explicit); ValueError for malformed input whatever cbor2 raised."""
    try:
        value = cbor2.loads(raw)
    except Exception as exc:  # cbor2 raises several error types (and RecursionError) for bad input
        raise ValueError(f"malformed CBOR: {exc}") from exc
    while isinstance(value, cbor2.CBORTag) and value.tag == SELF_DESCRIBE_TAG:
        value = value.value
    return value
