"""Candid from Kybra source: the interface read with `ast`, the generated `.did`, and the codec."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ic.candid import Types
from ic.candid import decode as ic_decode
from ic.candid import encode as ic_encode
from kybra import Principal
from runtime_samples import everything

from localnet import candid_codec as codec
from localnet.candid_types import BLOB, Opt, Prim, Record, Ref, Vec, did_text
from localnet.source_interface import SourceError, read_interface

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
STORE = SAMPLE / "store" / "main.py"
IFACE, FILES = read_interface(STORE)
EVERYTHING = (Ref("Everything"),)


def roundtrip(types, values):
    return codec.decode(codec.encode(types, values, IFACE), types, IFACE)


def test_walks_imported_modules_of_the_entry():
    names = sorted(p.name for p in FILES)
    assert names == ["__init__.py", "main.py", "shapes.py"]
    assert IFACE.types["Shape"] is not None


def test_did_lists_used_types_and_methods_in_source_order():
    did = did_text(IFACE)
    assert did == did_text(read_interface(STORE)[0])
    assert "type Tree = record { label : text; children : vec Tree };" in did
    assert "type Shape = variant { Circle : float64; Square : nat32; Dot };" in did
    assert "type Entry" not in did  # used only by a stable map, not by the service
    assert "service : (text) -> {" in did
    methods = [line.split(" : ")[0].strip() for line in did.split("service")[1].splitlines()[1:-1]]
    assert methods[:3] == ["echo_all", "echo_tree", "tree_size"]
    assert "  put : (text, text) -> (opt text);" in did
    assert "  get : (text) -> (opt text) query;" in did
    assert "  put_then_trap : (text, text) -> ();" in did


def test_did_breaks_long_records_one_field_per_line():
    did = did_text(IFACE)
    assert "type Everything = record {\n  t : text;\n  b : bool;\n" in did
    assert "  tup : record { text; nat8 };\n" in did and "  nul : null;\n" in did


def test_stable_map_declarations_are_read():
    decl = IFACE.stable_maps[1]
    assert (decl.key, decl.value, decl.max_key_size, decl.max_value_size) == (
        Prim("nat64"),
        Ref("Entry"),
        16,
        200,
    )


def test_every_candid_type_round_trips():
    value = everything()
    out = roundtrip(EVERYTHING, [value])[0]
    assert out["p"].to_str() == "aaaaa-aa"
    out["p"] = value["p"] = None
    assert out == value


def test_recursive_types_round_trip():
    tree = {"label": "a", "children": [{"label": "b", "children": [{"label": "c", "children": []}]}]}
    assert roundtrip((Ref("Tree"),), [tree]) == [tree]


def test_encoding_matches_ic_py_for_the_same_value():
    ours = codec.encode((Prim("text"), Opt(Prim("nat64")), Vec(Prim("int"))), ["a", 5, [1, -1]], IFACE)
    theirs = ic_encode(
        [
            {"type": Types.Text, "value": "a"},
            {"type": Types.Opt(Types.Nat64), "value": [5]},
            {"type": Types.Vec(Types.Int), "value": [1, -1]},
        ]
    )
    assert ours == theirs
    assert [x["value"] for x in ic_decode(ours)] == ["a", [5], [1, -1]]


def test_record_subtyping_extra_fields_and_missing_opt_fields():
    wire = ic_encode(
        [{"type": Types.Record({"key": Types.Text, "extra": Types.Nat}), "value": {"key": "k", "extra": 1}}]
    )
    t = Record((("key", Prim("text")), ("maybe", Opt(Prim("nat")))))
    assert codec.decode(wire, (t,), IFACE) == [{"key": "k", "maybe": None}]


def test_missing_trailing_opt_argument_is_none_and_nat_widens_to_int():
    wire = ic_encode([{"type": Types.Nat, "value": 5}])
    assert codec.decode(wire, (Prim("int"), Opt(Prim("text"))), IFACE) == [5, None]


@pytest.mark.parametrize(
    ("data", "types", "message"),
    [
        (b"", (Prim("text"),), "DIDL"),
        (b"DIDL\x00\x01\x71\x05ab", (Prim("text"),), "exceeds the rest of the message"),
        (b"DIDL\x00\x01\x7d\x05", (Prim("text"),), "expected text"),
        (b"DIDL\x00\x00", (Prim("text"),), "expected 1 arguments"),
        (b"DIDL\x00\x01\x71\x01a\x00", (Prim("text"),), "trailing bytes"),
        (b"DIDL\x01\x6d\x05\x01\x00", (Prim("text"),), "invalid Candid type code"),
        (b"DIDL\x00\x01\x71\x02\xff\xfe", (Prim("text"),), "UTF-8"),
        (b"DIDL\x00\x01\x7e\x02", (Prim("bool"),), "invalid bool"),
    ],
)
def test_malformed_or_mismatched_candid_is_refused(data, types, message):
    with pytest.raises(codec.CandidError, match=message):
        codec.decode(data, types, IFACE)


@pytest.mark.parametrize(
    ("types", "value", "message"),
    [
        ((Prim("nat8"),), 256, "out of range"),
        ((Prim("nat"),), -1, "negative"),
        ((Prim("text"),), 5, "expected text"),
        ((BLOB,), "x", "expected blob"),
        (EVERYTHING, {"t": "only"}, "missing field"),
        ((Ref("Shape"),), {"Hexagon": 1}, "unknown tag"),
        ((Ref("Shape"),), {"Dot": None, "Square": 1}, "one key"),
    ],
)
def test_values_not_matching_their_type_are_refused(types, value, message):
    with pytest.raises(codec.CandidError, match=message):
        codec.encode(types, [value], IFACE)


scalars = st.fixed_dictionaries(
    {
        "t": st.text(max_size=20),
        "b": st.booleans(),
        "n": st.integers(0, 2**80),
        "i": st.integers(-(2**80), 2**80),
        "n8": st.integers(0, 255),
        "n16": st.integers(0, 65535),
        "n32": st.integers(0, 2**32 - 1),
        "n64": st.integers(0, 2**64 - 1),
        "i8": st.integers(-128, 127),
        "i16": st.integers(-32768, 32767),
        "i32": st.integers(-(2**31), 2**31 - 1),
        "i64": st.integers(-(2**63), 2**63 - 1),
        "f32": st.sampled_from([0.0, 1.5, -3.25, 1e10]),
        "f64": st.floats(allow_nan=False),
        "bl": st.binary(max_size=40),
        "o": st.none() | st.text(max_size=5),
        "v": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=5),
        "tup": st.tuples(st.text(max_size=5), st.integers(0, 255)),
        "ids": st.lists(st.integers(0, 2**64 - 1), max_size=5),
        "shape": st.sampled_from([{"Dot": None}, {"Square": 3}, {"Circle": 0.5}]),
    }
)


@settings(max_examples=60, deadline=None)
@given(scalars)
def test_random_values_round_trip(fields):
    value = everything(**fields)
    out = roundtrip(EVERYTHING, [value])[0]
    out.pop("p"), value.pop("p")
    assert out == value


def test_source_errors_are_reported(tmp_path):
    bad = tmp_path / "main.py"
    bad.write_text("from kybra import query\n@query\ndef f(x) -> int:\n    return 1\n")
    with pytest.raises(SourceError, match="needs a type annotation"):
        read_interface(bad)
    bad.write_text("from kybra import query\n@query\ndef _hidden() -> int:\n    return 1\n")
    with pytest.raises(SourceError, match="must not start with"):
        read_interface(bad)
    bad.write_text("from kybra import query\n@query\ndef f(x: int):\n    return 1\n")
    with pytest.raises(SourceError, match="return type must be annotated"):
        read_interface(bad)
    bad.write_text("from kybra import query\n@query\ndef f() -> Unknown:\n    return 1\n")
    with pytest.raises(SourceError, match="unknown type 'Unknown'"):
        read_interface(bad)
    bad.write_text(
        "from kybra import StableBTreeMap\nSIZE = 10\nm = StableBTreeMap[str, str](memory_id=0, "
        "max_key_size=SIZE, max_value_size=10)\n"
    )
    with pytest.raises(SourceError, match="integer literal"):
        read_interface(bad)


def test_sort_key_orders_like_rust():
    keys = ["b", "a", "ab", "B"]
    assert sorted(keys, key=lambda k: codec.sort_key(IFACE, Prim("text"), k)) == ["B", "a", "ab", "b"]
    assert codec.sort_key(IFACE, Opt(Prim("nat")), None) < codec.sort_key(IFACE, Opt(Prim("nat")), 0)


def test_arguments_encoded_by_ic_py_decode_against_declared_types():
    shape = Types.Variant({"Circle": Types.Float64, "Square": Types.Nat32, "Dot": Types.Null})
    wire = ic_encode([{"type": shape, "value": {"Square": 4}}, {"type": Types.Int, "value": -3}])
    assert codec.decode(wire, (Ref("Shape"), Prim("int")), IFACE) == [{"Square": 4}, -3]
    wire = ic_encode([{"type": shape, "value": {"Dot": None}}])
    assert codec.decode(wire, (Ref("Shape"),), IFACE) == [{"Dot": None}]


def test_hostile_messages_fail_cleanly():
    nested = b"DIDL\x01\x6e\x00\x01\x00" + b"\x01" * 10_000 + b"\x00"  # type T = opt T, 10,000 deep
    with pytest.raises(codec.CandidError, match="nested too deeply"):
        codec.decode(nested, (Prim("reserved"),), IFACE)
    with pytest.raises(codec.CandidError, match="work units"):
        codec.decode(b"DIDL\x01\x6d\x7f\x01\x00\xff\xff\xff\xff\x0f", (Vec(Prim("null")),), IFACE)
    with pytest.raises(codec.CandidError, match="out of range for float32"):
        codec.encode((Prim("float32"),), [1e300], IFACE)
    with pytest.raises(codec.CandidError, match="surrogate"):
        codec.encode((Prim("text"),), ["\ud800"], IFACE)


def test_names_in_imported_modules_do_not_replace_the_entrys_types(tmp_path):
    (tmp_path / "helper.py").write_text("Item = dict\nlimit = int\nnames = list[str]\n")
    (tmp_path / "main.py").write_text(
        "from kybra import Record, Vec, nat8, query, text\nimport helper\n\n"
        "class Item(Record):\n    name: text\n\nSmall = nat8\n\n"
        "@query\ndef items() -> Vec[Item]:\n    return []\n\n@query\ndef small() -> Small:\n    return 1\n"
    )
    iface, files = read_interface(tmp_path / "main.py")
    assert [f.name for f in files] == ["main.py", "helper.py"]
    did = did_text(iface)
    assert "type Item = record { name : text };" in did
    assert "small : () -> (Small) query;" in did and "type Small = nat8;" in did


IC_ROW = Types.Record({"name": Types.Text, "size": Types.Opt(Types.Nat64), "deltas": Types.Vec(Types.Int32)})
OUR_ROW = Record((("name", Prim("text")), ("size", Opt(Prim("nat64"))), ("deltas", Vec(Prim("int32")))))
rows = st.fixed_dictionaries(
    {
        "name": st.text(max_size=12),
        "size": st.none() | st.integers(0, 2**64 - 1),
        "deltas": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=6),
    }
)


@settings(max_examples=50, deadline=None)
@given(st.lists(rows, max_size=5))
def test_agrees_with_ic_py_both_ways(values):
    as_ic = [{**v, "size": [] if v["size"] is None else [v["size"]]} for v in values]
    wire = ic_encode([{"type": Types.Vec(IC_ROW), "value": as_ic}])
    assert codec.decode(wire, (Vec(OUR_ROW),), IFACE) == [values]
    ours = codec.encode((Vec(OUR_ROW),), [values], IFACE)
    assert ic_decode(ours, [Types.Vec(IC_ROW)])[0]["value"] == as_ic


def test_service_references_are_principals_on_the_wire(tmp_path):
    (tmp_path / "main.py").write_text(
        "from kybra import Opt, Service, query, service_query, text\n\n"
        "class Peer(Service):\n    @service_query\n    def get(self, key: text) -> Opt[text]: ...\n\n"
        "@query\ndef echo(p: Peer) -> Peer:\n    return p\n"
    )
    iface, _ = read_interface(tmp_path / "main.py")
    did = did_text(iface)
    assert "type Peer = service { get : (text) -> (opt text) query };" in did
    assert "echo : (Peer) -> (Peer) query;" in did
    method = iface.methods["echo"]
    data = codec.encode(method.params, [Principal.from_str("aaaaa-aa")], iface)
    assert codec.decode(data, method.returns, iface)[0].to_str() == "aaaaa-aa"
    # the wire type carries the service's methods (a strict decoder needs them), and ic-py reads it
    assert b"\x69\x01\x03get" in data  # service { "get" : func }
    assert ic_decode(data)[0]["value"].to_str() == "aaaaa-aa"


def test_opt_of_a_mismatched_type_decodes_as_none_but_malformed_bytes_fail():
    wire = ic_encode([{"type": Types.Opt(Types.Text), "value": ["x"]}, {"type": Types.Text, "value": "y"}])
    assert codec.decode(wire, (Opt(Prim("nat")), Opt(Prim("int"))), IFACE) == [None, None]
    assert codec.decode(wire, (Opt(Prim("text")), Opt(Prim("text"))), IFACE) == ["x", "y"]
    with pytest.raises(codec.CandidError, match="expected nat"):
        codec.decode(wire, (Prim("nat"),), IFACE)
    bad_utf8 = b"DIDL\x01\x6e\x71\x01\x00\x01\x01\xff"
    with pytest.raises(codec.CandidError, match="UTF-8"):
        codec.decode(bad_utf8, (Opt(Prim("nat")),), IFACE)
