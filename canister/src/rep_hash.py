"""The representation-independent hash of ICRC-3 `Value`s (the IC's rule, as ICRC-3 blocks use it).

A Value is Candid-shaped: a one-key dict {"Nat": int}, {"Int": int}, {"Text": str}, {"Blob": bytes},
{"Array": [Value]} or {"Map": [(str, Value)]}. Nat hashes its unsigned LEB128, Int its signed LEB128,
Text its UTF-8, Blob itself, Array the concatenated hashes of its items, Map the sorted concatenation of
hash(key) + hash(value) over its entries.
"""

import hashlib


def uleb128(value: int) -> bytes:
    """Unsigned LEB128 of a natural number."""
    if value < 0:
        raise ValueError("a Nat cannot be negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb128(value: int) -> bytes:
    """Signed LEB128 of an integer."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def value_hash(value: dict) -> bytes:
    """The 32-byte representation-independent hash of a Value."""
    if len(value) != 1:
        raise ValueError("a Value has exactly one case")
    for tag in value:
        payload = value[tag]
        if tag == "Text":
            return _sha256(payload.encode("utf-8"))
        if tag == "Blob":
            return _sha256(bytes(payload))
        if tag == "Nat":
            return _sha256(uleb128(payload))
        if tag == "Int":
            return _sha256(sleb128(payload))
        if tag == "Array":
            return _sha256(b"".join(value_hash(item) for item in payload))
        if tag == "Map":
            pairs = sorted(_sha256(key.encode("utf-8")) + value_hash(item) for key, item in payload)
            return _sha256(b"".join(pairs))
        raise ValueError("unknown Value case " + str(tag))
    raise ValueError("a Value has exactly one case")
