"""The type table and argument types of a Candid message, read and checked as the spec requires.

Entries are `(opcode, data)`: opt/vec the element's type code; record/variant `((field id, code), ...)`
with ids strictly increasing below 2**32; func `(argument codes, result codes, annotations)`; service
`((method name, code), ...)` with names valid UTF-8, strictly increasing and unique, each method a
func; a future type (opcode below -24) its opaque bytes. A type code is an index into the table or a
primitive's opcode.
"""

from __future__ import annotations

from typing import Any

from localnet.candid_reader import Reader
from localnet.candid_wire import (
    CODE_NAMES,
    FUNC,
    MAX_DEPTH,
    MAX_TABLE,
    OPT,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    CandidError,
)

FUNC_ANNOTATIONS = {1: "query", 2: "oneway", 3: "composite_query"}
FIXED_SIZES = {-1: 0, -16: 0, -2: 1, -5: 1, -9: 1, -6: 2, -10: 2, -7: 4, -11: 4, -13: 4}
FIXED_SIZES.update({-8: 8, -12: 8, -14: 8})
# The fewest bytes a value of each primitive takes (nat/int/text: one LEB128 byte; principal: tag + length).
MIN_SIZES = {**FIXED_SIZES, -3: 1, -4: 1, -15: 1, -24: 2, -17: 0}
FUTURE = "future"


class WireTable:
    """The message's type table and argument type codes."""

    def __init__(self, entries: list[tuple[int, Any]], args: list[int]):
        self.entries = entries
        self.args = args
        self._zero: dict[int, int | None] = {}
        self._min: dict[int, int] = {}

    def op(self, code: int) -> int:
        return code if code < 0 else self.entries[code][0]

    def zero_nodes(self, code: int, depth: int = 0) -> int | None:
        """How many values make up one value of `code` if its values take no bytes at all (null,
        reserved, records of those), else None: such values are skipped by counting, not visiting."""
        if code < 0:
            return 1 if code in (-1, -16) else None
        if code in self._zero:
            return self._zero[code]
        if depth > MAX_DEPTH:
            return None
        self._zero[code] = None  # a recursive type has no finite zero-size value
        op, data = self.entries[code]
        total: int | None = None
        if op == RECORD:
            total = 1
            for _, ft in data:
                n = self.zero_nodes(ft, depth + 1)
                if n is None:
                    total = None
                    break
                total += n
        self._zero[code] = total
        return total

    def min_size(self, code: int, depth: int = 0) -> int:
        """A lower bound on the bytes one value of `code` takes, to refuse impossible lengths at once."""
        if code < 0:
            return MIN_SIZES.get(code, 0)
        if code in self._min:
            return self._min[code]
        if depth > MAX_DEPTH:
            return 0
        self._min[code] = 0
        op, data = self.entries[code]
        if op in (OPT, VEC, VARIANT, SERVICE):
            size = 1
        elif op == FUNC:
            size = 4
        elif op == RECORD:
            size = sum(self.min_size(ft, depth + 1) for _, ft in data)
        else:
            size = 2  # a future value: two LEB128 counts
        self._min[code] = size
        return size


def read_table(r: Reader) -> WireTable:
    """Read the type table and the argument types that follow the magic bytes; check every reference."""
    start = r.pos
    size = r.count("type table length")
    if size > MAX_TABLE:
        raise CandidError(f"Candid type table of {size} entries (at most {MAX_TABLE})")
    entries = [_entry(r) for _ in range(size)]
    args = [r.sleb() for _ in range(r.count("argument count"))]

    def check(code: int) -> None:
        if code >= size or (code < 0 and code not in CODE_NAMES):
            raise CandidError(f"invalid Candid type code {code}")

    for op, data in entries:
        if op in (OPT, VEC):
            check(data)
        elif op in (RECORD, VARIANT):
            for _, ft in data:
                check(ft)
        elif op == FUNC:
            for code in data[0] + data[1]:
                check(code)
        elif op == SERVICE:
            for name, code in data:
                check(code)
                if code < 0 or entries[code][0] != FUNC:
                    raise CandidError(f"service method '{name}' does not have a func type")
    for code in args:
        check(code)
    r.charge(4 * (r.pos - start))
    return WireTable(entries, args)


def _entry(r: Reader) -> tuple[int, Any]:
    op = r.sleb()
    if op in (OPT, VEC):
        return op, r.sleb()
    if op in (RECORD, VARIANT):
        fields = []
        prev = -1
        for _ in range(r.count("field count", 2)):
            h = r.uleb()
            if h <= prev:
                raise CandidError("Candid field ids not strictly increasing")
            if h >= 1 << 32:
                raise CandidError("Candid field id larger than 32 bits")
            prev = h
            fields.append((h, r.sleb()))
        return op, tuple(fields)
    if op == FUNC:
        params = tuple(r.sleb() for _ in range(r.count("func argument count")))
        results = tuple(r.sleb() for _ in range(r.count("func result count")))
        annotations = set()
        for _ in range(r.count("func annotation count")):
            a = r.byte()
            if a not in FUNC_ANNOTATIONS:
                raise CandidError(f"unknown func annotation {a}")
            annotations.add(FUNC_ANNOTATIONS[a])
        return op, (params, results, frozenset(annotations))
    if op == SERVICE:
        methods = []
        prev_name = b""
        for i in range(r.count("service method count", 2)):
            raw = r.take(r.count("method name length"))
            if i and raw <= prev_name:
                raise CandidError("service method names not sorted and unique")
            prev_name = raw
            try:
                name = raw.decode()
            except UnicodeDecodeError:
                raise CandidError("service method name is not valid UTF-8") from None
            methods.append((name, r.sleb()))
        return op, tuple(methods)
    if op < -24:
        return op, r.take(r.count("future type length"))
    raise CandidError(f"invalid opcode {op} in the Candid type table")
