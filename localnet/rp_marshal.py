"""RustPython's `marshal` format for plain values, so the host can talk to the guest's native `marshal`.

Kybra's RustPython writes a format of its own (not CPython's): a type byte, then for `int` a signed i32
byte count (its sign is the number's) and the magnitude little-endian, for `str`/`bytes` a u32 length
and the bytes, for tuple/list/set/frozenset/dict a u32 count and the items, `float` as f64.
A `Principal` crosses as a frozenset holding its text (Candid values never contain frozensets): Kybra
converts principals between Rust and Python through their text (`Principal.from_str` into Python, the
object's `to_str()` out of it), so the guest pays for the same Python calls as on the IC.
"""

from __future__ import annotations

import struct
from typing import Any

from kybra import Principal


class MarshalError(ValueError):
    """Data that is not a value of this format."""


def dumps(value: Any) -> bytes:
    out = bytearray()
    _dump(value, out)
    return bytes(out)


def _dump(v: Any, out: bytearray) -> None:
    if v is None:
        out += b"N"
    elif v is True:
        out += b"T"
    elif v is False:
        out += b"F"
    elif isinstance(v, int):
        magnitude = abs(v)
        raw = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
        out += b"i" + struct.pack("<i", -len(raw) if v < 0 else len(raw)) + raw
    elif isinstance(v, float):
        out += b"g" + struct.pack("<d", v)
    elif isinstance(v, str):
        raw = v.encode("utf-8", "surrogatepass")
        out += b"u" + struct.pack("<I", len(raw)) + raw
    elif isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        out += b"s" + struct.pack("<I", len(raw)) + raw
    elif isinstance(v, Principal):
        _dump(frozenset((v.to_str(),)), out)
    elif isinstance(v, dict):
        out += b"{" + struct.pack("<I", len(v))
        for k, x in v.items():
            _dump(k, out)
            _dump(x, out)
    else:
        code = {tuple: b"(", list: b"[", set: b"<", frozenset: b">"}.get(type(v))
        if code is None:
            raise MarshalError(f"cannot pass a {type(v).__name__} to the guest")
        out += code + struct.pack("<I", len(v))
        for x in v:
            _dump(x, out)


def loads(data: bytes) -> Any:
    value, end = _load(memoryview(data), 0)
    if end != len(data):
        raise MarshalError("trailing data")
    return value


def _load(b: memoryview, i: int) -> tuple[Any, int]:
    try:
        code = b[i : i + 1].tobytes()
        i += 1
        if code == b"N":
            return None, i
        if code == b"T":
            return True, i
        if code == b"F":
            return False, i
        if code == b"i":
            (n,) = struct.unpack_from("<i", b, i)
            i += 4
            value = int.from_bytes(b[i : i + abs(n)], "little")
            return (-value if n < 0 else value), i + abs(n)
        if code == b"g":
            return struct.unpack_from("<d", b, i)[0], i + 8
        (n,) = struct.unpack_from("<I", b, i)
        i += 4
        if code == b"u":
            return b[i : i + n].tobytes().decode("utf-8", "surrogatepass"), i + n
        if code == b"s":
            return b[i : i + n].tobytes(), i + n
        if code == b"{":
            d = {}
            for _ in range(n):
                k, i = _load(b, i)
                d[k], i = _load(b, i)
            return d, i
        items = []
        for _ in range(n):
            x, i = _load(b, i)
            items.append(x)
    except (struct.error, UnicodeDecodeError, IndexError) as e:
        raise MarshalError(f"bad data from the guest: {e}") from None
    if code == b"(":
        return tuple(items), i
    if code == b"[":
        return items, i
    if code == b"<":
        return set(items), i
    if code == b">":
        if len(items) == 1 and isinstance(items[0], str):
            try:
                return Principal.from_str(items[0]), i
            except Exception as e:  # kybra's from_str raises plain Exceptions (and binascii errors)
                raise MarshalError(f"could not convert value to Principal: {e}") from None
        return frozenset(items), i
    raise MarshalError(f"bad data from the guest: type code {code!r}")
