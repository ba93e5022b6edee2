"""The bytes of one Candid message, read with a work budget so that no message can stall the decoder.

Every value the decoder visits (decoded or skipped) costs one work unit, a LEB128 number longer than
nine bytes costs its length, and the type table costs four units per byte, as in the Rust candid
crate's cost model. The quotas grow with the message, so all work is linear in the message's size:
`DECODE_BASE + DECODE_PER_BYTE * len(message)` units in all, of which at most
`SKIP_BASE + SKIP_PER_BYTE * len(message)` may be spent on values nobody asked for (extra
arguments, unknown record fields, opt values that do not fit the declared type).
"""

from __future__ import annotations

import re

from localnet.candid_wire import CandidError

DECODE_BASE = 1_000_000
DECODE_PER_BYTE = 4
SKIP_BASE = 250_000
SKIP_PER_BYTE = 1

_LEB_END = re.compile(rb"[\x00-\x7f]")  # the last byte of a LEB128 number has its top bit clear
_SEVEN_BITS = [format(b & 0x7F, "07b") for b in range(256)]


class BudgetExceeded(CandidError):
    """The message needs more decoding work than its size allows (a message built to stall us)."""


class Reader:
    """A cursor over the message, with the message's work budget."""

    __slots__ = ("data", "pos", "decode_left", "skip_left", "decode_quota")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.decode_quota = DECODE_BASE + DECODE_PER_BYTE * len(data)
        self.decode_left = self.decode_quota
        self.skip_left = SKIP_BASE + SKIP_PER_BYTE * len(data)

    # -- budget -------------------------------------------------------------------------------------------

    def charge(self, units: int) -> None:
        self.decode_left -= units
        if self.decode_left < 0:
            raise BudgetExceeded(
                f"decoding needs more than {self.decode_quota} work units for a {len(self.data)}-byte message"
            )

    def charge_skip(self, units: int) -> None:
        self.charge(units)
        self.skip_left -= units
        if self.skip_left < 0:
            raise BudgetExceeded("skipping unneeded values needs more work than the message's size allows")

    @property
    def used(self) -> int:
        """Work units spent so far (deterministic: the same message always costs the same)."""
        return self.decode_quota - self.decode_left

    # -- bytes --------------------------------------------------------------------------------------------

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise CandidError("unexpected end of Candid message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CandidError("unexpected end of Candid message")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def flag(self, what: str) -> int:
        """A byte that must be 0 or 1 (bool, opt, reference tags)."""
        b = self.byte()
        if b > 1:
            raise CandidError(f"invalid {what} byte {b}")
        return b

    def uleb(self) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:
            self.pos = pos + 1
            return data[pos]
        return self._leb(signed=False)

    def sleb(self) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:
            self.pos = pos + 1
            b = data[pos]
            return b - 0x80 if b & 0x40 else b
        return self._leb(signed=True)

    def _leb(self, signed: bool) -> int:
        """A LEB128 number in time linear in its length (a long one is read as one base-2 string)."""
        found = _LEB_END.search(self.data, self.pos)
        if found is None:
            raise CandidError("unexpected end of Candid message")
        chunk = self.data[self.pos : found.end()]
        self.pos = found.end()
        if len(chunk) <= 9:
            result = 0
            for shift, b in enumerate(chunk):
                result |= (b & 0x7F) << (7 * shift)
        else:
            self.charge(len(chunk))
            result = int("".join(map(_SEVEN_BITS.__getitem__, reversed(chunk))), 2)
        if signed and chunk[-1] & 0x40:
            result -= 1 << (7 * len(chunk))
        return result

    def count(self, what: str, unit: int = 1) -> int:
        """A length prefix, refused at once if the rest of the message cannot hold that many items."""
        n = self.uleb()
        if n * unit > self.remaining():
            raise CandidError(f"{what} {n} exceeds the rest of the message")
        return n
