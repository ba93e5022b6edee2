"""Candid func types: read from Kybra's `Func(Query[[...], R])`, written to the .did, encoded, decoded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ic.candid import Types
from ic.candid import decode as ic_decode
from ic.candid import encode as ic_encode
from kybra import Principal

from localnet import candid_codec as codec
from localnet.candid_types import Func, Prim, Ref, ServiceRef, Vec, did_text
from localnet.candid_wire import CandidError
from localnet.outcome import Reply
from localnet.replica import Replica
from localnet.source_interface import SourceError, read_interface

# An ICRC-3 shaped interface: a recursive func type reached through a record, an inline func type,
# update and oneway funcs, and a service reference.
SOURCE = """
from kybra import Func, Oneway, Opt, Principal, Query, Record, Service, Update, Vec, nat, query
from kybra import service_query, text, void


class GetBlocksArgs(Record):
    start: nat
    length: nat


class ArchivedBlocks(Record):
    args: Vec[GetBlocksArgs]
    callback: "GetBlocksFn"


class GetBlocksResult(Record):
    log_length: nat
    archived_blocks: Vec[ArchivedBlocks]


GetBlocksFn = Func(Query[[Vec[GetBlocksArgs]], GetBlocksResult])
Notify = Func(Oneway[[text], void])
Setter = Func(Update[[nat], Opt[text]])


class Peer(Service):
    @service_query
    def get_blocks(self, args: Vec[GetBlocksArgs]) -> GetBlocksResult: ...


@query
def get_blocks(args: Vec[GetBlocksArgs]) -> GetBlocksResult:
    me = ic.id()
    return {"log_length": 5, "archived_blocks": [{"args": args, "callback": (me, "get_blocks")}]}


@query
def callbacks(n: Notify, s: Setter) -> Vec[Func(Query[[], nat])]:
    return [(n[0], n[1] + "_count"), (s[0], s[1])]


@query
def peer(p: Peer) -> Peer:
    return p


@query
def peer_kind(p: Peer) -> text:
    return type(p).__name__ + " " + p.canister_id.to_str()
""".replace("from kybra import ", "from kybra import ic, ")


@pytest.fixture(scope="module")
def entry(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("funcs") / "main.py"
    path.write_text(SOURCE)
    return path


@pytest.fixture(scope="module")
def iface(entry):
    return read_interface(entry)[0]


def test_func_types_are_read_from_kybra_source(iface):
    blocks_fn = Func((Vec(Ref("GetBlocksArgs")),), (Ref("GetBlocksResult"),), "query")
    assert iface.types["GetBlocksFn"] == blocks_fn
    assert iface.types["Notify"] == Func((Prim("text"),), (), "oneway")
    assert iface.types["Setter"].mode == ""
    assert iface.methods["callbacks"].returns == (Vec(Func((), (Prim("nat"),), "query")),)


def test_func_types_are_written_to_the_did(iface):
    did = did_text(iface)
    assert "type GetBlocksFn = func (vec GetBlocksArgs) -> (GetBlocksResult) query;" in did
    assert "type Notify = func (text) -> () oneway;" in did
    assert "type Setter = func (nat) -> (opt text);" in did
    assert "type ArchivedBlocks = record { args : vec GetBlocksArgs; callback : GetBlocksFn };" in did
    assert "  callbacks : (Notify, Setter) -> (vec func () -> (nat) query) query;" in did


def test_func_values_round_trip_and_match_the_reference_decoder(iface):
    me = Principal.from_str("bkyz2-fmaaa-aaaaa-qaaaq-cai")
    archived = {"args": [{"start": 1, "length": 2}], "callback": (me, "get")}
    value = {"log_length": 3, "archived_blocks": [archived]}
    wire = codec.encode((Ref("GetBlocksResult"),), [value], iface)
    (back,) = codec.decode(wire, (Ref("GetBlocksResult"),), iface)
    callback = back["archived_blocks"][0]["callback"]
    assert (callback[0].to_str(), callback[1]) == ("bkyz2-fmaaa-aaaaa-qaaaq-cai", "get")
    assert back["log_length"] == 3
    ours = codec.encode((Func((Prim("text"),), (), "oneway"),), [(me, "notify")], iface)
    theirs = ic_encode([{"type": Types.Func([Types.Text], [], ["oneway"]), "value": [me.to_str(), "notify"]}])
    assert ours == theirs
    service, method = ic_decode(ours)[0]["value"]
    assert (service.to_str(), method) == ("bkyz2-fmaaa-aaaaa-qaaaq-cai", "notify")


@pytest.mark.parametrize(
    "value",
    [("aaaaa-aa",), ("aaaaa-aa", 3), "aaaaa-aa", ("not a principal", "m"), ("aaaaa-aa", "\ud800")],
)
def test_bad_func_values_are_refused_by_the_encoder(iface, value):
    with pytest.raises(CandidError):
        codec.encode((Ref("Setter"),), [value], iface)


def test_opaque_and_malformed_func_references_are_rejected(iface):
    good = codec.encode((Ref("Setter"),), [("aaaaa-aa", "m")], iface)
    head = good[: good.index(b"\x01\x01\x00\x01m")]
    for body in (b"\x00", b"\x02", b"\x01\x00", b"\x01\x01\x00\x01\xff", b"\x01\x01\x00\x05m"):
        with pytest.raises(CandidError):
            codec.decode(head + body, (Ref("Setter"),), iface)


def test_a_func_value_is_not_a_principal_or_text(iface):
    for t, v in ((Prim("principal"), "aaaaa-aa"), (Prim("text"), "x")):
        with pytest.raises(CandidError):
            codec.decode(codec.encode((t,), [v], iface), (Ref("Setter"),), iface)


def test_malformed_func_declarations_are_source_errors(tmp_path):
    for bad in ("Func(Query[text, nat])", "Func(Sometimes[[text], nat])", "Func(Query[[text], nat], 1)"):
        entry = tmp_path / "main.py"
        entry.write_text(f"from kybra import Func, Query, nat, text\n\nF = {bad}\n")
        with pytest.raises(SourceError, match="Func"):
            read_interface(entry)


def test_a_canister_returns_and_takes_func_values(entry, iface):
    with Replica() as r:
        cid = r.deploy("funcs", entry)
        args = codec.encode((Vec(Ref("GetBlocksArgs")),), [[{"start": 0, "length": 2}]], iface)
        out = r.query(cid, "get_blocks", args, b"\x04")
        assert isinstance(out, Reply), out
        (result,) = codec.decode(out.arg, (Ref("GetBlocksResult"),), iface)
        service, method = result["archived_blocks"][0]["callback"]
        assert (service.to_str(), method) == (Principal(bytes=cid).to_str(), "get_blocks")
        pair = [(service, "notify"), (service, "set")]
        out = r.query(cid, "callbacks", codec.encode((Ref("Notify"), Ref("Setter")), pair, iface), b"\x04")
        assert isinstance(out, Reply), out
        (funcs,) = codec.decode(out.arg, iface.methods["callbacks"].returns, iface)
        assert [m for _, m in funcs] == ["notify_count", "set"]
        assert "type GetBlocksFn = func" in r.candid(cid)
        peer = codec.encode((ServiceRef("Peer"),), ["aaaaa-aa"], iface)
        out = r.query(cid, "peer_kind", peer, b"\x04")
        assert codec.decode(out.arg, (Prim("text"),), iface) == ["Peer aaaaa-aa"]
        out = r.query(cid, "peer", peer, b"\x04")
        assert codec.decode(out.arg, (ServiceRef("Peer"),), iface)[0].to_str() == "aaaaa-aa"


def test_source_file_compiles_as_python():
    compile(textwrap.dedent(SOURCE), "main.py", "exec")
