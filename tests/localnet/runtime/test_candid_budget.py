"""A Candid message cannot stall the decoder: work is bounded by a budget linear in the message's size.

Work is measured deterministically: the decoder's own work units, and the number of Python function
calls made inside localnet's Candid modules while decoding (counted with a profiler, not timed).
"""

from __future__ import annotations

import pytest

from benchmarks.candid_budget import calls
from localnet.candid_decoder import decode_counted
from localnet.candid_encoder import encode
from localnet.candid_reader import DECODE_BASE, DECODE_PER_BYTE, BudgetExceeded
from localnet.candid_types import BLOB, Func, Interface, Opt, Prim, Record, Ref, ServiceRef, Variant, Vec
from localnet.candid_wire import CandidError, sleb, uleb

IFACE = Interface()
NULL, NAT, INT, TEXT, BOOL = Prim("null"), Prim("nat"), Prim("int"), Prim("text"), Prim("bool")
NEAR_MILLION = uleb(999_999)
# The 42-byte message: vec vec null, 10 vectors of 999,999 nulls each (10 million values).
VEC_VEC_NULL = b"DIDL\x02\x6d\x01\x6d\x7f\x01\x00\x0a" + NEAR_MILLION * 10


def quota(message: bytes) -> int:
    return DECODE_BASE + DECODE_PER_BYTE * len(message)


@pytest.mark.parametrize("types", [(), (Vec(Vec(NULL)),), (Vec(Opt(NAT)),), (Vec(Vec(Opt(NAT))),)])
def test_the_42_byte_vec_vec_null_message_is_refused_at_once(types):
    assert len(VEC_VEC_NULL) == 42
    with pytest.raises(BudgetExceeded) as e:
        decode_counted(VEC_VEC_NULL, types, IFACE)
    assert e.value.work <= quota(VEC_VEC_NULL) * 2  # refused when the first inner vector is announced
    assert calls(lambda: decode_counted(VEC_VEC_NULL, types, IFACE)) < 1_000


def test_deeper_zero_sized_nesting_is_refused_as_cheaply():
    # vec vec vec record {}: 5 x 5 x 999,999 values in 19 bytes of values
    message = b"DIDL\x04\x6d\x01\x6d\x02\x6d\x03\x6c\x00\x01\x00\x05\x05" + NEAR_MILLION * 5
    for types in [
        (),
        (
            Vec(
                Vec(Vec(Record(()))),
            ),
        ),
        (Opt(NAT),),
    ]:
        with pytest.raises(BudgetExceeded):
            decode_counted(message, types, IFACE)
        assert calls(lambda t=types: decode_counted(message, t, IFACE)) < 1_000


def test_a_2_to_the_20_values_record_is_refused_without_visiting_them():
    # record { a : R19; b : R19 } nested 20 deep: one value made of 2**21 nulls, zero bytes
    table = [b"\x6c\x02\x00\x7f\x01\x7f"] + [b"\x6c\x02\x00" + sleb(i) + b"\x01" + sleb(i) for i in range(19)]
    message = b"DIDL" + uleb(len(table)) + b"".join(table) + b"\x01" + sleb(len(table) - 1)
    with pytest.raises(BudgetExceeded):
        decode_counted(message, (), IFACE)
    assert calls(lambda: decode_counted(message, (), IFACE)) < 500


def test_a_400_kb_leb128_integer_is_read_in_linear_time():
    big = 3**750_000  # about 1.19 million bits, a 170 KB LEB128
    message = encode((NAT,), [big], IFACE)
    assert len(message) > 150_000
    (value,), _ = decode_counted(message, (NAT,), IFACE)
    assert value == big
    assert calls(lambda: decode_counted(message, (NAT,), IFACE)) < 100
    negative = encode((INT,), [-big], IFACE)
    assert decode_counted(negative, (INT,), IFACE)[0] == [-big]
    bomb = b"DIDL\x00\x01\x7d" + b"\x80" * 400_000 + b"\x01"  # 2**2_800_000 as an overlong LEB128
    assert decode_counted(bomb, (NAT,), IFACE)[0] == [1 << 2_800_000]
    assert calls(lambda: decode_counted(bomb, (NAT,), IFACE)) < 100


def test_nested_opt_coercion_does_not_decode_subtrees_twice():
    # opt opt ... opt (vec record { a : nat }) 60 deep, decoded where every level's content mismatches
    inner = Vec(Record((("a", NAT),)))
    wire_type = inner
    expected = Vec(Record((("a", TEXT),)))
    for _ in range(60):
        wire_type, expected = Opt(wire_type), Opt(expected)
    rows = [{"a": i} for i in range(2_000)]
    value = rows
    message = encode((wire_type,), [value], IFACE)
    (decoded,), work = decode_counted(message, (expected,), IFACE)
    assert decoded is None
    # Linear: each of the 2,000 rows is read once to skip it, not once per level of opt.
    assert work < 20 * 2_000
    assert calls(lambda: decode_counted(message, (expected,), IFACE)) < 40_000


def test_ordinary_large_messages_fit_the_budget():
    blob = bytes(range(256)) * 4096  # 1 MiB
    rows = [{"name": f"row {i}", "size": i, "tags": ["a", "b"]} for i in range(20_000)]
    row = Record((("name", TEXT), ("size", NAT), ("tags", Vec(TEXT))))
    message = encode((BLOB, Vec(row)), [blob, rows], IFACE)
    (got_blob, got_rows), work = decode_counted(message, (BLOB, Vec(row)), IFACE)
    assert got_blob == blob and got_rows == rows
    assert work < quota(message) / 4
    # the same rows sent as extra fields of an older record type are skipped within the skip quota
    decode_counted(message, (BLOB, Vec(Record((("name", TEXT),)))), IFACE)


@pytest.mark.parametrize(
    "message",
    [
        b"DIDL\x01\x6d\x7e\x02\x00\x71\x02\x01\x02\x01a",  # extra vec bool with a 2 in it
        b"DIDL\x01\x6e\x7e\x02\x71\x00\x01a\x02",  # extra opt bool whose opt byte is 2
        b"DIDL\x01\x6c\x01\x00\x7e\x02\x71\x00\x01a\x03",  # extra record { bool } with bool byte 3
        b"DIDL\x00\x02\x71\x71\x01a\x02\xff\xfe",  # extra text that is not UTF-8
        b"DIDL\x01\x6b\x01\x00\x7f\x02\x71\x00\x01a\x01",  # extra variant with index out of range
        b"DIDL\x00\x02\x71\x68\x01a\x01\x1e" + bytes(30),  # extra principal of 30 bytes
    ],
)
def test_skipped_values_are_still_checked(message):
    with pytest.raises(CandidError):
        decode_counted(message, (TEXT,), IFACE)


def test_future_types_are_skipped():
    message = b"DIDL\x01\x67\x03ABC\x02\x00\x71\x05\x00hello\x01a"
    assert decode_counted(message, (Opt(Prim("empty")), TEXT), IFACE)[0] == [None, "a"]
    with pytest.raises(CandidError):  # a future type where a value is required
        decode_counted(message, (TEXT,), IFACE)


SERVICES = Interface(services={"Peer": {}})


def test_service_decodes_as_principal_but_not_the_reverse():
    service = b"DIDL\x01\x69\x00\x01\x00\x01\x03\xca\xff\xee"
    principal = b"DIDL\x00\x01\x68\x01\x03\xca\xff\xee"
    assert decode_counted(service, (Prim("principal"),), SERVICES)[0][0].to_str() == "w7x7r-cok77-xa"
    assert decode_counted(service, (ServiceRef("Peer"),), SERVICES)[0][0].to_str() == "w7x7r-cok77-xa"
    with pytest.raises(CandidError, match="expected service"):
        decode_counted(principal, (ServiceRef("Peer"),), SERVICES)


@pytest.mark.parametrize(
    "table, problem",
    [
        (b"\x02\x6a\x00\x00\x00\x69\x02\x01b\x00\x01a\x00", "sorted"),
        (b"\x02\x6a\x00\x00\x00\x69\x02\x01a\x00\x01a\x00", "sorted and unique"),
        (b"\x02\x6a\x00\x00\x00\x69\x01\x01\xff\x00", "UTF-8"),
        (b"\x02\x6e\x7e\x69\x01\x01a\x00", "func type"),
        (b"\x01\x69\x01\x01a\x7e", "func type"),
        (b"\x01\x6a\x00\x00\x01\x07", "annotation"),
    ],
)
def test_service_and_func_types_are_checked(table, problem):
    with pytest.raises(CandidError, match=problem):
        decode_counted(b"DIDL" + table + b"\x00", (), IFACE)


def test_func_references_must_have_a_subtype_of_the_declared_type():
    ref = (b"aaaaa-aa", "m")
    query_fn = Func((TEXT,), (NAT,), "query")
    message = encode((query_fn,), [("aaaaa-aa", "m")], IFACE)
    assert decode_counted(message, (Func((TEXT, Opt(TEXT)), (), "query"),), IFACE)[0][0][1] == "m"
    for other in (Func((TEXT,), (NAT,)), Func((NAT,), (NAT,), "query"), Func((), (NAT, NAT), "query")):
        with pytest.raises(CandidError):
            decode_counted(message, (other,), IFACE)
        assert decode_counted(message, (Opt(other),), IFACE)[0] == [None]
    assert ref


def test_variant_values_coerce_under_opt_when_their_tag_fits():
    wire = Variant((("a", NULL), ("b", NAT)))
    message = encode((wire,), [{"a": None}], IFACE)
    assert decode_counted(message, (Opt(Variant((("a", NULL),))),), IFACE)[0] == [{"a": None}]
    other = encode((wire,), [{"b": 3}], IFACE)
    assert decode_counted(other, (Opt(Variant((("a", NULL),))),), IFACE)[0] == [None]
    assert Ref
