"""Candid wire basics shared by the encoder and decoder: type codes, LEB128, principals, errors."""

from __future__ import annotations

from typing import Any

from kybra import Principal

MAGIC = b"DIDL"

PRIM_CODES = {
    "null": -1,
    "bool": -2,
    "nat": -3,
    "int": -4,
    "nat8": -5,
    "nat16": -6,
    "nat32": -7,
    "nat64": -8,
    "int8": -9,
    "int16": -10,
    "int32": -11,
    "int64": -12,
    "float32": -13,
    "float64": -14,
    "text": -15,
    "reserved": -16,
    "empty": -17,
    "principal": -24,
}
CODE_NAMES = {v: k for k, v in PRIM_CODES.items()}
OPT, VEC, RECORD, VARIANT, FUNC, SERVICE = -18, -19, -20, -21, -22, -23
FIXED = {
    "nat8": (1, False),
    "nat16": (2, False),
    "nat32": (4, False),
    "nat64": (8, False),
    "int8": (1, True),
    "int16": (2, True),
    "int32": (4, True),
    "int64": (8, True),
}
SMALL = [bytes([i]) for i in range(0x80)]
MAX_TABLE = 10_000
MAX_DEPTH = 150  # nesting levels; stays well inside Python's recursion limit


class CandidError(ValueError):
    """A value does not match its Candid type, or bytes are not valid Candid for the expected types.

    `trail` collects where it happened (".field", "[3]") on the way out, innermost first, so the
    codecs build no path strings unless something is wrong."""

    def __init__(self, message: str, root: str = "value"):
        super().__init__(message)
        self.trail: list[str] = []
        self.root = root
        self.work = 0  # decoding work units spent before the error (see candid_reader)

    def at(self, segment: str) -> CandidError:
        self.trail.append(segment)
        return self

    def __str__(self) -> str:
        if not self.trail:
            return str(self.args[0])
        return self.root + "".join(reversed(self.trail)) + ": " + str(self.args[0])


def uleb(n: int) -> bytes:
    if 0 <= n < 0x80:
        return SMALL[n]
    if n.bit_length() > 256:
        return _long_leb(n, -(-n.bit_length() // 7))
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    if n.bit_length() > 256:
        groups = (n.bit_length() + 1 + 6) // 7  # room for the sign bit
        return _long_leb(n + (1 << (7 * groups)) if n < 0 else n, groups)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def _long_leb(n: int, groups: int) -> bytes:
    """`groups` 7-bit groups of the non-negative `n`, in time linear in its size (big numbers)."""
    bits = format(n, "b").zfill(7 * groups)
    out = bytearray(int(bits[i : i + 7], 2) | 0x80 for i in range(len(bits) - 7, -1, -7))
    out[-1] &= 0x7F
    return bytes(out)


def principal_bytes(v: Any) -> bytes:
    """Raw bytes of a principal given as kybra/ic-py Principal, text, or bytes."""
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    if isinstance(v, str):
        try:
            return Principal.from_str(v).bytes
        except Exception:  # kybra's parser raises binascii, value and index errors alike
            raise CandidError(f"not a principal: {v!r:.80}") from None
    raw = getattr(v, "bytes", None)
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    cid = getattr(v, "canister_id", None)
    if cid is not None:
        return principal_bytes(cid)
    raise CandidError(f"expected a Principal, got {type(v).__name__}")
