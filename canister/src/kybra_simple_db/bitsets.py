"""Id sets stored as fixed-width buckets of bits (hex text), one storage key per bucket.

A bucket covers `width` consecutive ids, so adding or removing one id rewrites one small value, and a
walk in id order reads one key per `width` ids plus the members themselves.
"""


def decode(text) -> int:
    """The bucket's bits as an int (0 for a missing bucket)."""
    return int(text, 16) if text else 0


def encode(bits: int):
    """The bucket's text, or None when it is empty (the key is then removed)."""
    return format(bits, "x") if bits else None


def members(bits: int, base: int, start: int = 0) -> list:
    """Ids `base + i` for every set bit i >= start, ascending."""
    out = []
    if start > 0:
        bits = (bits >> start) << start
    while bits:
        low = bits & -bits
        out.append(base + low.bit_length() - 1)
        bits ^= low
    return out


def popcount(bits: int) -> int:
    """Number of set bits."""
    return bin(bits).count("1")


def full_mask(width: int) -> int:
    """A bucket with every bit set."""
    return (1 << width) - 1
