"""The representation-independent hash of ICRC-3 `Value`s (the IC's rule, as ICRC-3 blocks use it).

A Value is Candid-shaped: a one-key dict {"Nat": int}, {"Int": int}, {"Text": str}, {"Blob": bytes},
{"Array": [Value]} or {"Map": [(str, Value)]}. Nat hashes its unsigned LEB128, Int its signed LEB128,
Text its UTF-8, Blob itself, Array the concatenated hashes of its items, Map the sorted concatenation of
hash(key) + hash(value) over its entries.

The client and localnet hash Values with ic_protocol/icrc3_value.py. The canister keeps its own copy: that
package lies outside canister/src and encodes LEB128 with the leb128 package, a Python loop per byte
(some 12,000 instructions a step on Kybra's RustPython); tests/canister/test_block_hash.py compares the two.
"""

import hashlib

# LEB128 without a Python loop per byte (each loop step costs some 12,000 instructions on Kybra's
# RustPython): up to 3 bytes are joined from tables; longer numbers have their 7-bit groups spread to
# one per byte by three (up to 8 groups) or four (up to 16) shift-and-mask steps, then the continuation
# bits are set from a table.
_BYTES = tuple(bytes((b,)) for b in range(128))
_MORE = tuple(bytes((b | 0x80,)) for b in range(128))   # a byte with the continuation bit
BYTES, MORE = _BYTES, _MORE   # (for callers that join a short LEB128 inline: read them, never change them)
_CONT = tuple(sum(0x80 << 8 * i for i in range(n - 1)) for n in range(17))   # n bytes: all but the last
_LOW28, _HIGH28 = 0xFFFFFFF, 0xFFFFFFF << 28
_KEEP14, _MOVE14 = 0x00003FFF00003FFF, 0x0FFFC0000FFFC000
_KEEP7, _MOVE7 = 0x007F007F007F007F, 0x3F803F803F803F80
_LOW56, _HIGH56 = (1 << 56) - 1, ((1 << 56) - 1) << 56
_KEEP28W, _MOVE28W = _LOW28 | _LOW28 << 64, _HIGH28 | _HIGH28 << 64
_KEEP14W, _MOVE14W = _KEEP14 | _KEEP14 << 64, _MOVE14 | _MOVE14 << 64
_KEEP7W, _MOVE7W = _KEEP7 | _KEEP7 << 64, _MOVE7 | _MOVE7 << 64


def _groups(value: int, count: int) -> bytes:
    """The `count` 7-bit groups of `value` (0 <= value < 2**(7 * count)) as LEB128 bytes."""
    if count <= 3:
        if count == 1:
            return _BYTES[value]
        if count == 2:
            return _MORE[value & 0x7F] + _BYTES[value >> 7]
        return _MORE[value & 0x7F] + _MORE[value >> 7 & 0x7F] + _BYTES[value >> 14]
    if count <= 8:
        x = (value & _LOW28) | ((value & _HIGH28) << 4)
        x = (x & _KEEP14) | ((x & _MOVE14) << 2)
        x = (x & _KEEP7) | ((x & _MOVE7) << 1)
        return (x | _CONT[count]).to_bytes(count, "little")
    if count <= 16:
        x = (value & _LOW56) | ((value & _HIGH56) << 8)
        x = (x & _KEEP28W) | ((x & _MOVE28W) << 4)
        x = (x & _KEEP14W) | ((x & _MOVE14W) << 2)
        x = (x & _KEEP7W) | ((x & _MOVE7W) << 1)
        return (x | _CONT[count]).to_bytes(count, "little")
    out = bytearray()
    for _ in range(count - 1):
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def uleb128(value: int) -> bytes:
    """Unsigned LEB128 of a natural number."""
    if value < 0x4000:
        if value >= 0x80:
            return _MORE[value & 0x7F] + _BYTES[value >> 7]
        if value < 0:
            raise ValueError("a Nat cannot be negative")
        return _BYTES[value]
    if value < 0x200000:   # ids and block indexes into the millions, inline
        return _MORE[value & 0x7F] + _MORE[value >> 7 & 0x7F] + _BYTES[value >> 14]
    if 0x100000000000000 <= value < 0x8000000000000000:   # nine groups (times in ns), inline, without
        x = value & _LOW56   # bit_length: the low 8 groups spread in 64 bits, then the ninth
        x = (x & _LOW28) | ((x & _HIGH28) << 4)
        x = (x & _KEEP14) | ((x & _MOVE14) << 2)
        x = (x & _KEEP7) | ((x & _MOVE7) << 1)
        return (x | _CONT[9]).to_bytes(8, "little") + _BYTES[value >> 56]
    count = (value.bit_length() + 6) // 7
    if 9 < count <= 16:
        x = (value & _LOW56) | ((value & _HIGH56) << 8)
        x = (x & _KEEP28W) | ((x & _MOVE28W) << 4)
        x = (x & _KEEP14W) | ((x & _MOVE14W) << 2)
        x = (x & _KEEP7W) | ((x & _MOVE7W) << 1)
        return (x | _CONT[count]).to_bytes(count, "little")
    return _groups(value, count)


def sleb128(value: int) -> bytes:
    """Signed LEB128 of an integer: the two's complement in enough 7-bit groups that the last group's
    top bit is the sign."""
    if -0x40 <= value < 0x40:
        return _BYTES[value & 0x7F]
    if -0x100000 <= value < 0x100000:   # two or three bytes inline (quantities, counts)
        if -0x2000 <= value < 0x2000:
            return _MORE[value & 0x7F] + _BYTES[value >> 7 & 0x7F]
        return _MORE[value & 0x7F] + _MORE[value >> 7 & 0x7F] + _BYTES[value >> 14 & 0x7F]
    count = ((value if value >= 0 else ~value).bit_length() + 7) // 7
    return _groups(value & ((1 << 7 * count) - 1), count)


TIME_HASH = [None, None]
"""[a time, nat_hash(time)]: audit_chain.block_body keeps here the time of the message it hashes (every
update hashes its time in its first block), so that stored_values.entity_hash reuses the hash for the
created_at/updated_at that equal it. Always a pair that belongs together; read it, only block_body sets it."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


KEY_HASHES = {}
"""Text -> its hash, for the keys `key_hash` has seen (read it, never change it): `KEY_HASHES[key]` in a
try is key_hash(key) with no Python call when cached."""
_CACHED_KEYS = 512


def key_hash(key: str) -> bytes:
    """The hash of a Map key (or any Text): cached, since the same few keys recur in every Value."""
    found = KEY_HASHES.get(key)
    if found is None:
        found = hashlib.sha256(key.encode("utf-8")).digest()
        if len(KEY_HASHES) < _CACHED_KEYS and len(key) <= 64:
            KEY_HASHES[key] = found
    return found


def text_hash(text: str) -> bytes:
    """The hash of a Text value."""
    return hashlib.sha256(text.encode("utf-8")).digest()


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
