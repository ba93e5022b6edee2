"""localnet's Candid decoder on hostile and ordinary messages: work units charged, Python calls made (both
deterministic) and milliseconds (for information), next to each message's budget.

    python -m benchmarks.candid_budget
"""

from __future__ import annotations

import sys
import time

from localnet.candid_decoder import decode_counted
from localnet.candid_encoder import encode
from localnet.candid_reader import DECODE_BASE, DECODE_PER_BYTE
from localnet.candid_types import BLOB, CType, Interface, Opt, Prim, Record, Vec
from localnet.candid_wire import CandidError, sleb, uleb

IFACE = Interface()
NULL, NAT, TEXT = Prim("null"), Prim("nat"), Prim("text")


def calls(fn) -> int:
    """Python function calls inside localnet's Candid modules while fn() runs."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "call" and "localnet/candid_" in frame.f_code.co_filename:
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    except CandidError:
        pass
    finally:
        sys.setprofile(None)
    return count


def run(message: bytes, types: tuple[CType, ...]) -> tuple[str, int, int, float]:
    start = time.perf_counter()
    try:
        _, work = decode_counted(message, types, IFACE)
        result = "decoded"
    except CandidError as e:
        work, result = e.work, type(e).__name__
    ms = (time.perf_counter() - start) * 1000
    return result, work, calls(lambda: decode_counted(message, types, IFACE)), ms


def cases() -> list[tuple[str, bytes, tuple[CType, ...]]]:
    vec_vec_null = b"DIDL\x02\x6d\x01\x6d\x7f\x01\x00\x0a" + uleb(999_999) * 10
    table = [b"\x6c\x02\x00\x7f\x01\x7f"] + [b"\x6c\x02\x00" + sleb(i) + b"\x01" + sleb(i) for i in range(19)]
    nulls = b"DIDL" + uleb(len(table)) + b"".join(table) + b"\x01" + sleb(len(table) - 1)
    leb = b"DIDL\x00\x01\x7d" + b"\x80" * 400_000 + b"\x01"
    wire, expected = Vec(Record((("a", NAT),))), Vec(Record((("a", TEXT),)))
    for _ in range(60):
        wire, expected = Opt(wire), Opt(expected)
    nested = encode((wire,), [[{"a": i} for i in range(2_000)]], IFACE)
    row = Record((("name", TEXT), ("size", NAT), ("tags", Vec(TEXT))))
    rows = [{"name": f"row {i}", "size": i, "tags": ["a", "b"]} for i in range(20_000)]
    ordinary = encode((BLOB, Vec(row)), [bytes(1024 * 1024), rows], IFACE)
    return [
        ("vec vec null, 10 x 999,999 nulls", vec_vec_null, (Vec(Vec(NULL)),)),
        ("record of 2^20 nulls (extra arg)", nulls, ()),
        ("nat as a 400 KB LEB128", leb, (NAT,)),
        ("60 opts over 2,000 mismatched rows", nested, (expected,)),
        ("1 MiB blob + 20,000 records", ordinary, (BLOB, Vec(row))),
    ]


def main() -> None:
    print(f"{'message':38} {'bytes':>9} {'budget':>10} {'result':>15} {'work':>10} {'calls':>8} {'ms':>8}")
    for name, message, types in cases():
        result, work, n, ms = run(message, types)
        budget = DECODE_BASE + DECODE_PER_BYTE * len(message)
        print(f"{name:38} {len(message):>9,} {budget:>10,} {result:>15} {work:>10,} {n:>8,} {ms:>8.1f}")


if __name__ == "__main__":
    main()
