"""Id sets stored as fixed-width buckets of bits, one storage key per bucket.

A bucket covers `width` consecutive ids, so adding or removing one id rewrites one small value, and a
walk in id order reads one key per `width` ids plus the members themselves. The text is hex with the
lowest bits first (digit i holds bits 4i..4i+3, no trailing zeros), so one bit is set or tested by
editing one character instead of converting the whole bucket.
"""

from itertools import accumulate
from operator import add

_HEX = "0123456789abcdef"
LOOP_MEMBERS = 16   # ids `members` takes off one by one; past this many, its C-level way costs less


def decode(text) -> int:
    """The bucket's bits as an int (0 for a missing bucket). Read as bytes: on Kybra's RustPython
    `int(digits, 16)` costs ~80K instructions for a bucket of 2,048 bits, `bytes.fromhex` and
    `int.from_bytes` a few thousand."""
    if not text:
        return 0
    digits = text[::-1]
    if len(digits) & 1:
        digits = "0" + digits
    return int.from_bytes(bytes.fromhex(digits), "big")


def encode(bits: int):
    """The bucket's text, or None when it is empty (the key is then removed)."""
    return format(bits, "x")[::-1] if bits else None


def test(text, offset: int) -> bool:
    """Whether bit `offset` is set in a bucket's text (None: empty bucket)."""
    digit = offset >> 2
    if not text or digit >= len(text):
        return False
    return bool((int(text[digit], 16) >> (offset & 3)) & 1)


def change(text, offset: int, present: bool):
    """The bucket's text with bit `offset` set or cleared: (new text or None when empty, changed)."""
    digit = offset >> 2
    bit = 1 << (offset & 3)
    if text and digit < len(text):
        old = int(text[digit], 16)
        new = old | bit if present else old & ~bit
        if new == old:
            return text, False
        text = text[:digit] + _HEX[new] + text[digit + 1:]
        if present:
            return text, True
        return (text.rstrip("0") or None), True     # no trailing zeros: a cleared last digit goes
    if not present:
        return (text or None), False
    return (text or "").ljust(digit, "0") + _HEX[bit], True


def members(bits: int, base: int, start: int = 0, limit: int = -1) -> list:
    """Ids `base + i` for every set bit i >= start, ascending; the first `limit` of them when `limit` is
    positive. A few ids are taken off one by one (~36K instructions each on Kybra's RustPython); more
    are found by C-level operations (~0.25M, then ~12K each): the bits as a binary text, lowest first,
    split at its ones (no more times than ids are wanted), a set bit's position being the zeros before
    it plus the ones before it. (A full bucket of 2,000 ids cost ~73M one by one, ~21M so; and a walk
    for the next 100 ids of a full bucket no longer lists all of them.)"""
    if start > 0:
        bits = (bits >> start) << start
    count = bits.bit_count()
    if 0 < limit < count:
        count = limit
    if count <= LOOP_MEMBERS:
        out = []
        for _ in range(count):
            low = bits & -bits
            out.append(base + low.bit_length() - 1)
            bits ^= low
        return out
    runs = bin(bits >> start)[:1:-1].split("1", count)
    del runs[-1]    # the bits after the last one split at
    first = base + start
    return list(map(add, accumulate(map(len, runs)), range(first, first + len(runs))))


def popcount(bits: int) -> int:
    """Number of set bits."""
    return bin(bits).count("1")


def full_mask(width: int) -> int:
    """A bucket with every bit set."""
    return (1 << width) - 1
