"""CBOR with the self-describe tag 55799, as every IC HTTP reply and certified CBOR value carries."""

from __future__ import annotations

import cbor2

SELF_DESCRIBE_TAG = 55799


def dumps_tagged(value: object) -> bytes:
    """`value` as CBOR wrapped in the self-describe tag."""
    return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBE_TAG, value))
