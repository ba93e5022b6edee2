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
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
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


_KEY_HASHES = {}
_CACHED_KEYS = 512
cached_key_hash = _KEY_HASHES.get
"""`cached_key_hash(key) or key_hash(key)` is key_hash(key) with no Python call when it is cached."""


def key_hash(key: str) -> bytes:
    """The hash of a Map key (or any Text): cached, since the same few keys recur in every Value."""
    found = _KEY_HASHES.get(key)
    if found is None:
        found = hashlib.sha256(key.encode("utf-8")).digest()
        if len(_KEY_HASHES) < _CACHED_KEYS and len(key) <= 64:
            _KEY_HASHES[key] = found
    return found


def text_hash(text: str) -> bytes:
    """The hash of a Text value."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def blob_hash(data: bytes) -> bytes:
    """The hash of a Blob value."""
    return hashlib.sha256(bytes(data)).digest()


def nat_hash(value: int) -> bytes:
    """The hash of a Nat value."""
    return hashlib.sha256(uleb128(value)).digest()


def int_hash(value: int) -> bytes:
    """The hash of an Int value."""
    return hashlib.sha256(sleb128(value)).digest()


def map_hash(pairs: list) -> bytes:
    """The hash of a Map given its entries as key hash + value hash (32 + 32 bytes each), in any order."""
    pairs.sort()
    return hashlib.sha256(b"".join(pairs)).digest()


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
            return map_hash([key_hash(key) + value_hash(item) for key, item in payload])
        raise ValueError("unknown Value case " + str(tag))
    raise ValueError("a Value has exactly one case")
