"""Id sets (bitsets buckets): listing members and walking a set give exactly what a bit-by-bit loop
gives, for any density, start, limit and upper bound (the C-level listing replaced a loop per member)."""

import random

from kybra_simple_db import bitsets


def _reference(bits: int, base: int, start: int, limit: int) -> list:
    out = [base + i for i in range(max(bits.bit_length(), 0)) if i >= start and bits >> i & 1]
    return out[:limit] if limit > 0 else out


def _bucket(rng: random.Random, width: int, count: int) -> int:
    bits = 0
    for i in rng.sample(range(width), count):
        bits |= 1 << i
    return bits


def test_members_list_the_set_bits_from_start_up_to_limit():
    rng = random.Random(7)
    counts = (1, 3, 16, 17, 50, 700, 2000)     # both ways of listing (one by one up to 16 ids)
    buckets = [0, 1, 1 << 2047, (1 << 2048) - 1] + [_bucket(rng, 2048, n) for n in counts]
    for bits in buckets:
        for base in (0, 2048, 4096 * 3):
            for start in (0, 1, 2, 63, 64, 1000, 2047, 2048):
                for limit in (-1, 1, 2, 16, 17, 101, 2001, 5000):
                    assert bitsets.members(bits, base, start, limit) == _reference(bits, base, start, limit)
                assert bitsets.members(bits, base, start) == _reference(bits, base, start, -1)


def test_a_bucket_text_decodes_to_its_bits():
    rng = random.Random(5)
    texts = ["", "0", "1", "f", "10", "01", "abc", "ABC", "0" * 511 + "8"]
    texts += ["".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (1, 2, 3, 255, 511, 512)]
    for text in texts:
        assert bitsets.decode(text) == (int(text[::-1], 16) if text else 0)
    assert bitsets.decode(None) == 0
    for bits in (1, 0xF0F, 1 << 2047, (1 << 2048) - 1):
        assert bitsets.decode(bitsets.encode(bits)) == bits


def test_a_walk_of_a_set_gives_its_ids_in_order_page_by_page(fresh_db):
    db = fresh_db
    width = db.bucket_width
    rng = random.Random(11)
    upper = 3 * width + 100
    for count in (0, 1, 40, 900, 3 * width):
        ids = sorted(rng.sample(range(1, upper + 40), min(count, upper)))   # some past `upper`
        name = f"set{count}"

        def key(bucket: int, name=name) -> str:
            return name + "/" + str(bucket)

        with db.operation():
            db.bit_add_all(key, ids)
        wanted = [i for i in ids if i <= upper]
        for limit in (1, 7, 101, 5000):
            got, after = [], 0
            while True:
                page, cursor = db.bit_walk(key, after, upper, limit, 1000)
                assert len(page) <= limit
                got += page
                if cursor is None:
                    break
                assert page and cursor == page[-1] and len(page) == limit
                after = cursor
            assert got == wanted
            page, cursor = db.bit_walk(key, 0, upper, limit, 1000)
            last = wanted[:limit]
            assert page == last
            assert cursor == (last[-1] if len(wanted) > limit or (last and last[-1] < upper and
                                                                   len(last) == limit) else None)
